import { envelopeSchema as sharedEnvelopeSchema } from '../../common/envelope-schema.js';
import type { Observer, Subscription } from '../ir/ir.js';
import type { JsonSchema } from '../schemas/json-schema.js';

/**
 * The schemas of `asyncapi.json` (see asyncapi.ts): the generator's own, made components, and
 * the envelope narrowed to what an app sends or receives.
 */

/**
 * The runtime's defaults and names on the broker (the compiler cannot import the runtime);
 * test/codegen/asyncapi.test.ts checks each against the runtime's own.
 */
export const wire = {
  url: 'amqp://guest:guest@127.0.0.1:5672',
  namespace: 'promiscuous',
  frameHeader: 'x-promiscuous-frame',
  attemptHeader: 'x-promiscuous-attempt',
  waitingHeader: 'x-promiscuous-waiting-since',
  queue: (app: string) => `${wire.namespace}.${app}`,
  resyncQueue: (app: string) => `${wire.namespace}.${app}.resync`,
  resyncKey: (app: string) => `resync.${app}`,
  syncKey: (app: string) => `sync.${app}`,
};

export const operationNames = sharedEnvelopeSchema.properties.operations.items.properties.operation.enum;

export function ref(path: string): JsonSchema {
  return { $ref: `#/${path.split('/').map(escapePointer).join('/')}` };
}

function escapePointer(part: string): string {
  return part.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * An operation a subscription or observer takes has the attributes it requires: one of its
 * type, or of a subtype, under a routing key its binding matches. Nothing when no key can.
 */
export function requirement(x: Subscription | Observer, schema: JsonSchema): JsonSchema[] {
  const condition = bindingCondition(x.source.binding);
  if (condition === undefined) return [];
  const types = { types: { contains: { const: x.type } } };
  return [
    {
      if: { ...condition, properties: { ...(condition.properties as JsonSchema | undefined), ...types } },
      then: { properties: { attributes: { anyOf: [schema, { type: 'null' }] } } },
    },
  ];
}

/**
 * The operations whose routing key a binding matches, as the subscriber resolves them (a
 * `sync` as the `update` it stands for): a condition on `endpoint` and `operation`, or
 * `undefined` when the binding matches no key. Keys have three words, so `#` stands for none
 * to three `*`.
 */
export function bindingCondition(binding: string): JsonSchema | undefined {
  const word = (w: string) => (w === '*' ? '[a-z0-9_]+' : w);
  const alternatives: JsonSchema[] = [];
  for (const [app = '', model = '', operation = ''] of threeWords(binding.split('.'))) {
    const operations = operationNames.filter((o) => operation === '*' || (o === 'sync' ? 'update' : o) === operation);
    if (operations.length === 0) continue;
    alternatives.push({
      properties: {
        endpoint: { pattern: `^${word(app)}/${word(model)}$` },
        ...(operation === '*' ? {} : { operation: { enum: operations } }),
      },
    });
  }
  if (alternatives.length <= 1) return alternatives[0];
  return { anyOf: alternatives };
}

/** The three-word patterns of `*` and names that a pattern with `#` stands for. */
function threeWords(words: readonly string[]): string[][] {
  const hash = words.indexOf('#');
  if (hash === -1) return words.length === 3 ? [[...words]] : [];
  const found = new Map<string, string[]>();
  for (let n = 0; n <= 3; n++) {
    const expanded = [...words.slice(0, hash), ...Array<string>(n).fill('*'), ...words.slice(hash + 1)];
    if (expanded.filter((w) => w !== '#').length > 3) continue;
    for (const pattern of threeWords(expanded)) found.set(pattern.join('.'), pattern);
  }
  return [...found.values()];
}

/**
 * A generated schema as components: its `$defs` under `<prefix>.<name>`, itself under
 * `prefix`, each `$ref` rewritten to follow. Returns the reference to it.
 */
export function inline(schema: JsonSchema, prefix: string, into: Record<string, JsonSchema>): JsonSchema {
  const { $schema: _dialect, $id: _id, $comment: _comment, $defs, ...rest } = schema;
  const move = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(move);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) =>
        key === '$ref' && typeof inner === 'string' && inner.startsWith('#/$defs/')
          ? [key, ref(`components/schemas/${prefix}.${inner.slice('#/$defs/'.length)}`).$ref]
          : [key, move(inner)],
      ),
    );
  };
  into[prefix] = move(rest) as JsonSchema;
  for (const [name, def] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
    into[`${prefix}.${name}`] = move(def) as JsonSchema;
  }
  return ref(`components/schemas/${prefix}`);
}

/** The envelope's schema with its operations narrowed by `operation`, and `extra` properties. */
export function envelope(title: string, operation: JsonSchema, extra: Record<string, JsonSchema>): JsonSchema {
  const { $schema: _dialect, $id: _id, properties, ...rest } = sharedEnvelopeSchema;
  return {
    ...rest,
    title,
    properties: {
      ...properties,
      ...extra,
      operations: { ...properties.operations, items: { allOf: [properties.operations.items, operation] } },
    },
  };
}

/** The headers the transport sets; a received message may also carry those of a retried or deferred copy. */
export function headers(received: boolean): JsonSchema {
  const ids = { type: 'array', minItems: 2, items: { type: 'string' } };
  return {
    type: 'object',
    properties: {
      [wire.frameHeader]: { ...ids, description: "A frame's message ids, in order: one envelope a line in the body." },
      CC: {
        type: 'array',
        items: { type: 'string' },
        description: "The transaction's other routing keys (RabbitMQ's sender-selected distribution).",
      },
      ...(received
        ? {
            [wire.attemptHeader]: {
              type: 'integer',
              minimum: 1,
              description: 'On a copy back from a retry queue: how many times the message was retried.',
            },
            [wire.waitingHeader]: {
              type: 'integer',
              minimum: 0,
              description: 'On a copy back from waiting for a dependency: since when (ms since the epoch).',
            },
          }
        : {}),
    },
    // What a publisher sends is all the transport's; RabbitMQ adds its own to a copy back from a retry queue.
    ...(received
      ? { description: 'RabbitMQ adds its own (`x-death`) to a copy back from a retry queue.' }
      : { additionalProperties: false }),
  };
}

/** A re-sync request, as the runtime reads it. */
export function resyncRequestSchema(): JsonSchema {
  const { endpoint, id, version } = sharedEnvelopeSchema.properties.operations.items.properties;
  return {
    title: 'A re-sync request',
    type: 'object',
    required: ['format', 'app', 'objects'],
    properties: {
      format: { const: 1 },
      app: { ...sharedEnvelopeSchema.properties.app, description: 'The asking app: the answer goes to its queue.' },
      objects: {
        type: 'array',
        minItems: 1,
        items: { type: 'object', required: ['endpoint', 'id', 'version'], properties: { endpoint, id, version } },
      },
    },
  };
}
