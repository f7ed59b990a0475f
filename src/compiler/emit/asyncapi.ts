import { routingKey } from '../../common/topic.js';
import type { App, Observer, Subscription } from '../ir/ir.js';
import type { JsonSchema } from '../schemas/json-schema.js';
import {
  envelope,
  headers,
  inline,
  operationNames,
  ref,
  requirement,
  resyncRequestSchema,
  wire,
} from './asyncapi-schemas.js';
import type { AppSchemas } from './validators.js';

/**
 * `asyncapi.json`: an AsyncAPI 3.0 document of what one app sends and receives on RabbitMQ,
 * for AsyncAPI Studio, documentation generators and event catalogs. It is self-contained: the
 * endpoint and requirement schemas the generator writes elsewhere are inlined as components,
 * their `$defs` as components of their own, since AsyncAPI tools resolve `$ref` against the
 * document and not against a schema's `$id`.
 */

const bindingVersion = '0.3.0';

interface Parts {
  readonly channels: Record<string, JsonSchema>;
  readonly operations: Record<string, JsonSchema>;
  readonly messages: Record<string, JsonSchema>;
  readonly schemas: Record<string, JsonSchema>;
}

export function emitAsyncApi(app: App, schemas: AppSchemas, hash: string, header: string): string {
  const parts: Parts = { channels: {}, operations: {}, messages: {}, schemas: {} };
  const publishes = app.publications.length + app.ephemerals.length > 0;
  const subscribes = app.subscriptions.length + app.observers.length > 0;
  if (publishes) publishing(app, schemas, parts);
  if (app.publications.length > 0) answeringResyncs(app, parts);
  if (subscribes) subscribing(app, schemas, parts);
  if (subscribes) askingResyncs(app, parts);
  if (app.publications.length > 0 || subscribes) parts.schemas['resync-request'] = resyncRequestSchema();
  const url = new URL(wire.url);
  const document = {
    asyncapi: '3.0.0',
    info: {
      title: app.name,
      // The routes hash: it changes whenever the generated contract may, and ties this file to the others.
      version: hash,
      description: [
        `What app \`${app.name}\` sends and receives through Promiscuous on RabbitMQ: one message per publisher transaction, routed under \`<app>.<model>.<operation>\` on a durable topic exchange, and the re-sync requests and answers that heal a lost message.`,
        header,
      ].join('\n\n'),
    },
    defaultContentType: 'application/json',
    servers: {
      rabbitmq: {
        host: '{host}:{port}',
        protocol: 'amqp',
        protocolVersion: '0.9.1',
        title: 'RabbitMQ',
        description: `The runtime connects to \`${url.protocol}//${url.host}\` unless \`PROMISCUOUS_AMQP_URL\` (or the config's \`amqpUrl\`) names another broker; an \`amqps://\` URL connects with TLS. Exchange and queue names begin with the namespace, \`${wire.namespace}\` unless \`PROMISCUOUS_NAMESPACE\` says otherwise.`,
        variables: {
          host: { default: url.hostname, description: 'The host of `PROMISCUOUS_AMQP_URL`.' },
          port: { default: url.port, description: 'The port of `PROMISCUOUS_AMQP_URL`.' },
        },
        security: [{ $ref: '#/components/securitySchemes/credentials' }],
      },
    },
    channels: parts.channels,
    operations: parts.operations,
    components: {
      schemas: parts.schemas,
      messages: parts.messages,
      securitySchemes: {
        credentials: {
          type: 'userPassword',
          description: `The user and password of \`PROMISCUOUS_AMQP_URL\`: \`${url.username}\` and \`${url.password}\` by default.`,
        },
      },
    },
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** A channel on the exchange, under a routing key: where messages are sent. */
function exchangeBinding(): JsonSchema {
  return {
    amqp: {
      is: 'routingKey',
      exchange: { name: wire.namespace, type: 'topic', durable: true, autoDelete: false, vhost: '/' },
      bindingVersion,
    },
  };
}

/** A channel read from one of the app's queues: where messages are received. */
function queueBinding(queue: string): JsonSchema {
  return {
    amqp: {
      is: 'queue',
      queue: { name: queue, durable: true, exclusive: false, autoDelete: false, vhost: '/' },
      bindingVersion,
    },
  };
}

const sendBinding = { amqp: { deliveryMode: 2, bindingVersion } };
const receiveBinding = { amqp: { ack: true, bindingVersion } };

/**
 * Adds a channel and the one operation on it, which carries the channel's one message. The
 * channel's id is `base`, or `base-2`, ... when a channel of that id exists already.
 */
function channel(
  parts: Parts,
  base: string,
  channel: JsonSchema,
  message: string,
  operation: { readonly action: 'send' | 'receive'; readonly summary: string } & JsonSchema,
): void {
  let id = base;
  for (let n = 2; id in parts.channels; n++) id = `${base}-${n}`;
  const { bindings, ...described } = channel;
  parts.channels[id] = { ...described, messages: { [message]: ref(`components/messages/${message}`) }, bindings };
  parts.operations[`${operation.action}.${id}`] = {
    ...operation,
    channel: ref(`channels/${id}`),
    messages: [ref(`channels/${id}/messages/${message}`)],
    bindings: operation.action === 'send' ? sendBinding : receiveBinding,
  };
}

/** What the app publishes: a channel per endpoint, its operation a parameter of the routing key. */
function publishing(app: App, schemas: AppSchemas, parts: Parts): void {
  // One alternative per type: its endpoint, its chain of types, its own attributes.
  const alternatives: JsonSchema[] = [];
  for (const [endpoint, schema] of schemas.endpoints) {
    const id = endpoint.replace('/', '.');
    const persisted = app.publications.filter((p) => p.endpoint.name === endpoint).map((p) => p.name);
    const ephemeral = app.ephemerals.filter((e) => e.endpoint.name === endpoint).map((e) => e.name);
    const operations = persisted.length > 0 ? operationNames : ['create'];
    const types = [...persisted, ...ephemeral].map((t) => `\`${t}\``).join(', ');
    channel(
      parts,
      id,
      {
        address: routingKey(endpoint, '{operation}'),
        title: endpoint,
        description: `Endpoint \`${endpoint}\`: ${types}${ephemeral.length > 0 ? ' (ephemeral: created, never stored)' : ''}. A transaction that also writes other endpoints is one message, routed under each operation's key at once (RabbitMQ's \`CC\` header), so that each queue gets one copy.`,
        parameters: {
          operation: {
            enum: [...operations],
            description: '`sync` is an initial sync or a re-sync: the current state of an object.',
          },
        },
        bindings: exchangeBinding(),
      },
      'published',
      { action: 'send', summary: `Publishes ${types} on \`${endpoint}\`.` },
    );
    inline(schema, id, parts.schemas);
    for (const t of [...app.publications, ...app.ephemerals].filter((t) => t.endpoint.name === endpoint)) {
      const attributes = ref(`components/schemas/${id}.${t.name}`);
      alternatives.push({
        properties: {
          endpoint: { const: endpoint },
          types: { const: t.kind === 'publication' ? t.ancestors : [t.name] },
          ...(t.kind === 'publication'
            ? { attributes: { anyOf: [attributes, { type: 'null' }] } }
            : { operation: { const: 'create' }, attributes }),
        },
      });
    }
  }
  parts.schemas['envelope-published'] = envelope(
    `A transaction of ${app.name}`,
    { oneOf: alternatives },
    { app: { const: app.name } },
  );
  parts.schemas['headers-published'] = headers(false);
  parts.messages.published = message(
    'published',
    `A transaction of ${app.name}`,
    'envelope-published',
    'headers-published',
    'One message per publisher transaction: its operations in order, each with the attributes its type publishes (`null` for a destroy), and their dependencies.',
  );
}

/** Re-sync requests a publisher answers, and the answers it sends to the asking app alone. */
function answeringResyncs(app: App, parts: Parts): void {
  const requests = wire.resyncKey(app.name);
  channel(
    parts,
    requests,
    {
      address: requests,
      title: `Re-sync requests to ${app.name}`,
      description: `A subscriber whose message waited past its dependency timeout for an object of \`${app.name}\` asks for the object's current state; any publisher process of \`${app.name}\` (or \`promiscuous relay\`) answers from \`${wire.resyncQueue(app.name)}\`.`,
      bindings: queueBinding(wire.resyncQueue(app.name)),
    },
    'resyncRequest',
    { action: 'receive', summary: 'Answers re-sync requests with `sync` operations.' },
  );
  parts.messages.resyncRequest = resyncRequestMessage();
  channel(
    parts,
    'sync.SUBSCRIBER',
    {
      address: wire.syncKey('{subscriber}'),
      title: 'Answers to one subscriber',
      description: `The current state of objects as \`sync\` operations, to one subscribing app's queue alone: the answer to a re-sync request, or \`promiscuous publish --to <app>\`.`,
      parameters: { subscriber: { description: 'The subscribing app that asked.' } },
      bindings: exchangeBinding(),
    },
    'published',
    { action: 'send', summary: 'Sends objects as `sync` operations to one subscriber.' },
  );
}

/** What the app receives: a channel per binding of its queue. */
function subscribing(app: App, schemas: AppSchemas, parts: Parts): void {
  const queue = wire.queue(app.name);
  const conditions: JsonSchema[] = [];
  for (const x of [...app.subscriptions, ...app.observers]) {
    const schema = schemas.requirements.get(x.name);
    const prefix = `${x.kind}-${x.name}`;
    if (schema) conditions.push(...requirement(x, inline(schema, prefix, parts.schemas)));
  }
  const byBinding = new Map<string, (Subscription | Observer)[]>();
  for (const x of [...app.subscriptions, ...app.observers]) {
    byBinding.set(x.source.binding, [...(byBinding.get(x.source.binding) ?? []), x]);
  }
  // Ids name the binding, `ANY` and `ALL` for its wildcards: names on the wire are lowercase.
  for (const binding of [...byBinding.keys()].sort()) {
    const targets = (byBinding.get(binding) ?? []).map(describeTarget).join('; ');
    channel(
      parts,
      binding.replace(/\*/g, 'ANY').replace(/#/g, 'ALL'),
      {
        address: binding,
        title: `Bound to ${binding}`,
        description: `Messages whose routing key matches \`${binding}\` on the exchange \`${wire.namespace}\`, in the app's queue \`${queue}\`: ${targets}.`,
        bindings: queueBinding(queue),
      },
      'received',
      { action: 'receive', summary: `Applies ${targets}.` },
    );
  }
  const narrowed = conditions.length > 0 ? { allOf: conditions } : {};
  parts.schemas['envelope-received'] = envelope(`A transaction ${app.name} receives`, narrowed, {});
  parts.schemas['headers-received'] = headers(true);
  parts.messages.received = message(
    'received',
    `A transaction ${app.name} receives`,
    'envelope-received',
    'headers-received',
    "A publisher's transaction. An operation whose routing key a subscription's or observer's binding matches, of its type or a subtype, has the attributes it requires (others may come along); operations on endpoints the app does not bind are ignored.",
  );
}

/** The re-sync requests a subscriber sends, and the answers it receives in its own queue alone. */
function askingResyncs(app: App, parts: Parts): void {
  const queue = wire.queue(app.name);
  channel(
    parts,
    wire.syncKey(app.name),
    {
      address: wire.syncKey(app.name),
      title: `Answers to ${app.name}`,
      description: `Objects sent to \`${app.name}\` alone as \`sync\` operations: answers to its re-sync requests, and \`promiscuous publish --to ${app.name}\`.`,
      bindings: queueBinding(queue),
    },
    'received',
    { action: 'receive', summary: 'Applies objects synced to this app alone.' },
  );
  channel(
    parts,
    'resync.PUBLISHER',
    {
      address: wire.resyncKey('{publisher}'),
      title: 'Re-sync requests',
      description: `A message that waited past the dependency timeout for an object asks the object's publisher for its current state; the answer comes on \`${wire.syncKey(app.name)}\`.`,
      parameters: { publisher: { description: 'The app that publishes the missing object.' } },
      bindings: exchangeBinding(),
    },
    'resyncRequest',
    { action: 'send', summary: "Asks a publisher for objects' current state." },
  );
  parts.messages.resyncRequest = resyncRequestMessage();
}

function describeTarget(x: Subscription | Observer): string {
  const name = x.name === x.type ? `\`${x.name}\`` : `\`${x.name}\` (${x.type})`;
  return x.kind === 'subscription' ? `${name} into \`${x.table}\`` : `${name}, observed`;
}

function message(name: string, title: string, payload: string, headers: string, description: string): JsonSchema {
  return {
    name,
    title,
    contentType: 'application/json',
    description: `${description} Its AMQP properties: \`message_id\` the envelope's \`id\`, delivery mode 2 (persistent). Messages published together under the same keys may travel as one broker message, a frame: then \`${wire.frameHeader}\` lists their ids, \`message_id\` is the first id and \`+<count of the others>\`, and the body holds one envelope a line.`,
    headers: ref(`components/schemas/${headers}`),
    payload: ref(`components/schemas/${payload}`),
  };
}

function resyncRequestMessage(): JsonSchema {
  return {
    name: 'resyncRequest',
    title: 'A re-sync request',
    contentType: 'application/json',
    description: 'The objects a subscribing app asks their publisher for, each at the version it waits for.',
    payload: ref('components/schemas/resync-request'),
  };
}
