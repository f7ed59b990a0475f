import amqp from 'amqplib';
import { Redis } from 'ioredis';
import type { Hooks, Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import { names } from '../../src/transport/amqp/topology.js';
import { AmqpTransport, type Envelope, outboxTable, Publisher, toOutgoing } from '../../src/runtime/index.js';
import {
  amqpUrl,
  type Dialect,
  database,
  queueExpiresMs,
  randomName,
  redisUrl,
  type TestDatabase,
} from './services.js';
import { crowdtap, crowdtapTables, sniperTables, virtuals } from './users-app.js';

/**
 * The world an integration test of the users example runs in: crowdtap's database with its
 * tables, sniper's with its own, a random namespace and a transport on it. Every test opens its
 * own, so that runs never see each other, and `closeWorld` removes it.
 */
export interface World {
  readonly pub: TestDatabase;
  readonly sub: TestDatabase;
  readonly namespace: string;
  readonly transport: AmqpTransport;
}

/** The transport's options beyond the broker, the queues' expiry and the namespace. */
export type TransportOptions = Omit<Parameters<typeof AmqpTransport.connect>[0], 'url' | 'expiresMs' | 'namespace'>;

export interface WorldOptions {
  /** crowdtap's database (default PostgreSQL). */
  readonly pub?: Dialect;
  /** sniper's database (default SQLite). */
  readonly sub?: Dialect;
  readonly transport?: TransportOptions;
}

export async function openWorld(options: WorldOptions = {}): Promise<World> {
  const pub = await usersDatabase('publisher', options.pub ?? 'postgres');
  const sub = await usersDatabase('subscriber', options.sub ?? 'sqlite');
  const namespace = randomName('prom');
  return { pub, sub, namespace, transport: await connectTransport(namespace, options.transport) };
}

/** A fresh database of one side of the users example, with that side's tables. */
export async function usersDatabase(side: 'publisher' | 'subscriber', dialect: Dialect): Promise<TestDatabase> {
  const db = await database(dialect);
  await (side === 'publisher' ? crowdtapTables(db.knex) : sniperTables(db.knex));
  return db;
}

/** Another transport on a namespace, as another worker of the app would connect. */
export function connectTransport(namespace: string, options: TransportOptions = {}): Promise<AmqpTransport> {
  return AmqpTransport.connect({ url: amqpUrl, expiresMs: queueExpiresMs, namespace, ...options });
}

/** The messages crowdtap's outbox holds, in commit order, taken out of it. */
export async function takeOutbox(world: Pick<World, 'pub'>): Promise<Envelope[]> {
  const rows = (await world.pub.knex(outboxTable).select('id', 'message').orderBy('id')) as { message: string }[];
  await world.pub.knex(outboxTable).delete();
  return rows.map((row) => JSON.parse(row.message) as Envelope);
}

/** Publishes messages to the world's subscribers, in the order given. */
export function deliver(world: Pick<World, 'transport'>, ...envelopes: Envelope[]): Promise<void> {
  return world.transport.publish(envelopes.map(toOutgoing));
}

/** sniper's row of a crowdtap user. */
export function member(world: Pick<World, 'sub'>, id: string): Promise<Record<string, unknown> | undefined> {
  return world.sub.knex('members').where('crowdtap_id', id).first();
}

/**
 * crowdtap's publisher with its relay off: it publishes nothing by itself, and a test takes its
 * messages from the outbox to deliver them when and how it wants.
 */
export function manualPublisher(
  world: Pick<World, 'pub' | 'transport'>,
  options: Pick<ConstructorParameters<typeof Publisher<Hooks, Virtuals>>[0], 'metrics'> = {},
): Publisher<Hooks, Virtuals> {
  return new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: world.pub.knex,
    transport: world.transport,
    virtuals,
    relay: false,
    ...options,
  });
}

/** What a test starts on a world: a subscriber (stopped), a publisher or a coordinator (closed). */
export type Part = { stop(): Promise<void> } | { close(): Promise<void> } | undefined;

/**
 * Ends `parts` in the order given (a subscriber before the publisher that feeds it, say), then
 * closes the transport and drops both databases. A world whose setup failed halfway is closed
 * as far as it got.
 */
export async function closeWorld(
  world: Partial<Pick<World, 'pub' | 'sub' | 'transport'>>,
  ...parts: Part[]
): Promise<void> {
  for (const part of parts) {
    if (part && 'stop' in part) await part.stop();
    else await part?.close();
  }
  await world.transport?.close();
  await world.pub?.drop();
  await world.sub?.drop();
}

/**
 * Removes at once what a namespace left behind, rather than letting the broker expire it: its
 * keys in Redis, and the queues (main, parked, retries) of `app` and the namespace's exchange.
 */
export async function removeNamespace(namespace: string, app: string): Promise<void> {
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${namespace}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  const connection = await amqp.connect(amqpUrl);
  const channel = await connection.createChannel();
  const n = names(namespace);
  for (const queue of [n.queue(app), n.parked(app), ...n.retries(app)]) await channel.deleteQueue(queue);
  await channel.deleteExchange(n.exchange);
  await connection.close();
}
