/**
 * The JSON Schema (draft 2020-12) of the message envelope, one per publisher transaction. It
 * is the same for every app: the compiler writes it to each app's
 * `schemas/envelope.schema.json` (with the generated-file header as `$comment`), and the
 * runtime validates every incoming message against it.
 */

const identifier = '^[A-Za-z_][A-Za-z0-9_]*$';
const endpoint = { type: 'string', pattern: '^[a-z0-9_]+/[a-z0-9_]+$' };
const id = { type: 'string', pattern: '\\S' };
const version = { type: 'integer', minimum: 0 };

const types = { type: 'array', minItems: 1, items: { type: 'string', pattern: identifier } };

const operation = {
  type: 'object',
  required: ['endpoint', 'types', 'id', 'operation', 'version', 'attributes'],
  additionalProperties: false,
  properties: {
    endpoint,
    types,
    id,
    operation: { type: 'string', enum: ['create', 'update', 'destroy', 'sync'] },
    version,
    attributes: { anyOf: [{ type: 'object' }, { type: 'null' }] },
  },
};

const dependency = {
  type: 'object',
  required: ['endpoint', 'id', 'version'],
  additionalProperties: false,
  properties: { endpoint, id, version, types },
};

export const envelopeSchemaId = 'urn:promiscuous:envelope:1';

/** Without `$comment`: the compiler adds the header of the files it writes after `$id`. */
export const envelopeSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: envelopeSchemaId,
  title: 'promiscuous message',
  description: 'One message per publisher transaction: its operations, in order, and their dependencies.',
  type: 'object',
  required: ['format', 'id', 'app', 'host', 'generation', 'timestamp', 'context', 'operations', 'dependencies'],
  properties: {
    format: { const: 1 },
    id,
    app: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' },
    host: { type: 'string' },
    generation: { type: 'integer', minimum: 0 },
    timestamp: { type: 'integer', minimum: 0 },
    context: {
      anyOf: [
        {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, userId: { type: 'string' } },
        },
        { type: 'null' },
      ],
    },
    operations: { type: 'array', minItems: 1, items: operation },
    dependencies: { type: 'array', items: dependency },
    // What the publisher's OpenTelemetry propagator wrote (W3C: traceparent, tracestate). Any
    // string fields: another propagator (B3, baggage) must not make messages fail their schema.
    trace: { type: 'object', additionalProperties: { type: 'string' } },
    // The subscriber apps that acknowledge the message once applied, and where to.
    acks: {
      type: 'object',
      required: ['apps', 'to'],
      properties: {
        apps: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' } },
        to: { type: 'string', minLength: 1 },
      },
    },
  },
} as const;
