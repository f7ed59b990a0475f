/**
 * The shop example's crm subscriber on RabbitMQ, with signatures: a world per test, keys of
 * each app, and signed messages built from the generated factories.
 */
import { migrationSource as crmMigrations } from '../../examples/shop/generated/crm/migrations.js';
import { schema as crm } from '../../examples/shop/generated/crm/subscriber.js';
import {
  type AmqpTransport,
  type Envelope,
  generateKeyPair,
  Metrics,
  type OutgoingMessage,
  type SignatureOptions,
  Signer,
  Subscriber,
  type SubscriberOptions,
  toOutgoing,
} from '../../src/runtime/index.js';
import { database, eventually, randomName, type TestDatabase } from './services.js';
import { connectTransport } from './world.js';

export type KeyPair = ReturnType<typeof generateKeyPair>;

/** A key pair for each app of the tests, made once. */
export const keys = { shop: generateKeyPair(), billing: generateKeyPair(), crm: generateKeyPair() };

/** Trust of each named app's current key. */
export function trusting(...apps: (keyof typeof keys)[]): Record<string, string[]> {
  return Object.fromEntries(apps.map((app) => [app, [keys[app].publicText]]));
}

export interface CrmWorld {
  readonly db: TestDatabase;
  readonly namespace: string;
  readonly transport: AmqpTransport;
  readonly metrics: Metrics;
  subscriber: Subscriber;
  /** Starts another crm subscriber on the same queue and database (the previous one stopped). */
  restart(options: Partial<SubscriberOptions>): Promise<void>;
  /** crm's customer row of a shop customer. */
  customer(id: string): Promise<Record<string, unknown> | undefined>;
  /** Waits until crm parked `n` messages, and returns their reasons. */
  parked(n: number): Promise<string[]>;
  close(): Promise<void>;
}

export async function crmWorld(
  signatures: SignatureOptions,
  options: Partial<SubscriberOptions> = {},
): Promise<CrmWorld> {
  const db = await database('sqlite');
  await db.knex.migrate.latest({ migrationSource: crmMigrations });
  const namespace = randomName('prom');
  const transport = await connectTransport(namespace, { retryDelaysMs: [100] });
  const metrics = new Metrics();
  const start = async (more: Partial<SubscriberOptions>) => {
    const subscriber = new Subscriber({
      schema: crm,
      knex: db.knex,
      transport,
      metrics,
      signatures,
      ...options,
      ...more,
    });
    await subscriber.start();
    return subscriber;
  };
  const world: CrmWorld = {
    db,
    namespace,
    transport,
    metrics,
    subscriber: await start({}),
    async restart(more) {
      await world.subscriber.stop();
      world.subscriber = await start(more);
    },
    customer: (id) => db.knex('customers').where('customer_uuid', id).first(),
    async parked(n) {
      const parked = await eventually(
        async () => {
          const list = await transport.parked('crm');
          return list.length >= n ? list : undefined;
        },
        10_000,
        `${n} parked messages`,
      );
      return parked.map((p) => p.reason);
    },
    async close() {
      await world.subscriber.stop();
      await transport.close();
      await db.drop();
    },
  };
  return world;
}

/** A message as `key`'s owner would publish it: the envelope's body, signed. */
export async function signed(envelope: Envelope, key: KeyPair): Promise<OutgoingMessage> {
  const [message] = await new Signer(key.privatePem).signAll([toOutgoing(envelope)]);
  return message as OutgoingMessage;
}

/** What a labelled counter holds, as prom-client gives it. */
interface Counted {
  get(): Promise<{ values: { labels: Partial<Record<string, string | number>>; value: number }[] }>;
}

/** The count of a labelled counter's series, 0 when it has none. */
export async function counted(counter: Counted, labels: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  const match = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return match?.value ?? 0;
}
