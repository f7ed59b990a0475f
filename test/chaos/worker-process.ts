/**
 * A subscriber worker of `replica`: a `Subscriber` on the shared queue, coordinated with the
 * other workers through Redis, applying into the shared SQLite file. Started and SIGKILLed by
 * the orchestrator (test/chaos/run.ts), never by hand.
 *
 * Its fault points: `mid-apply` in the callbacks, which run inside the subscriber's database
 * transaction after each operation is written; `before-ack` once that transaction committed
 * and before the broker is told.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AmqpTransport,
  type Delivery,
  type Envelope,
  type ObservedEvent,
  type ObserverCallbacks,
  RedisCoordinator,
  type SinkEvent,
  Subscriber,
} from '../../src/runtime/index.js';
import {
  type Callbacks,
  type SaleAttributes,
  type Sinks,
  schema,
} from '../fixtures/chinook/generated/replica/subscriber.js';
import { post, type SinkApi } from '../helpers/sink-api.js';
import { recordingLogger } from '../helpers/log.js';
import { describeOperations } from './broker.js';
import { type Command, type DeliveryStats, event, FaultPoints, send, workerTransport } from './fault-points.js';
import { effectsTable, replicaApp, replicaKnex, worldFromEnv } from './world.js';

const world = worldFromEnv();
const name = process.env.CHAOS_NAME ?? 'worker';
const points = new FaultPoints();
const stats: DeliveryStats = { inFlight: 0, deliveries: 0, settled: { ack: 0, defer: 0, retry: 0, park: 0 } };

const db = replicaKnex(world);

const midApply = (): void => points.reached('mid-apply');
const each: ObserverCallbacks<unknown> = { afterSave: midApply, afterDestroy: midApply, afterSync: midApply };

/** The observer's side effect: its idempotency key, recorded through the apply transaction. */
async function effect(e: ObservedEvent<SaleAttributes>): Promise<void> {
  await e
    .trx(effectsTable)
    .insert({ idempotency_key: e.idempotencyKey, operation: e.operation, quantity: e.attributes?.quantity ?? null });
  // Every invocation, also those whose transaction then rolled back: what a side effect outside
  // the database would see, and what its idempotency key is for.
  appendFileSync(join(world.dir, `invocations-${name}.log`), `${e.idempotencyKey} ${e.envelope.id}\n`);
  points.reached('mid-apply');
}

/**
 * The invoices an outside API receives: posted to the orchestrator's server, which keeps every
 * request. A worker may be killed after the post, before its apply commits.
 */
const sinks: Sinks = {
  Billed: async (e) => {
    await post({ url: process.env.CHAOS_SINK_URL ?? '' } as SinkApi, e as SinkEvent<unknown>);
    points.reached('mid-apply');
  },
};

const callbacks: Callbacks = {
  Album: each,
  Artist: each,
  Customer: each,
  Employee: each,
  Genre: each,
  Invoice: each,
  InvoiceLine: each,
  MediaType: each,
  Playlist: each,
  PlaylistTrack: each,
  Track: each,
  Billed: each,
  Sale: { afterCreate: effect, afterUpdate: effect, afterDestroy: effect, afterSync: effect },
};

/** The operations of the message an error is about, for the report. */
function describe(payload: unknown): string[] | undefined {
  const operations = (payload as Partial<Envelope> | undefined)?.operations;
  return operations && describeOperations(operations);
}

/** Unless `CHAOS_TRACE=0`: every delivery's outcome in the worker's log, to follow a message. */
function trace(delivery: Delivery, outcome: string): void {
  const envelope = JSON.parse(delivery.body.toString('utf8')) as Envelope;
  const waiting = delivery.waitingSince === undefined ? undefined : Date.now() - delivery.waitingSince;
  event({
    event: 'trace',
    outcome,
    id: envelope.id,
    attempt: delivery.attempt,
    waiting,
    operations: describe(envelope),
  });
}

const transport = await AmqpTransport.connect({
  url: world.amqpUrl,
  namespace: world.namespace,
  connectionName: `chaos ${name}`,
  // Restarted while RabbitMQ restarts: keep trying, as a process manager's restart would.
  initialRetries: 20,
});
const coordinator = await RedisCoordinator.connect(world.redisUrl, `${world.namespace}:${replicaApp}`);
const subscriber = new Subscriber({
  schema,
  knex: db,
  transport: workerTransport(transport, points, stats, process.env.CHAOS_TRACE === '0' ? undefined : trace),
  coordinator,
  callbacks,
  sinks,
  // Every message must be store's, signed: a copy the suite sends again keeps its signature.
  signatures: {
    key: world.keys.replica.privatePem,
    trust: { store: [world.keys.store.publicText] },
    require: true,
  },
  errorNotifier: (error, payload) =>
    event({ event: 'error', name: error.name, message: error.message, operations: describe(payload) }),
  logger: recordingLogger((record) => {
    if (record.level === 'warn') event({ event: 'warning', message: record.msg, ...record.fields });
  }),
});

// Deliveries counted as they happen: a SIGKILL loses at most the last half second.
const reported = { deliveries: 0, ack: 0, defer: 0, retry: 0, park: 0 };
setInterval(() => {
  const now = { deliveries: stats.deliveries, ...stats.settled };
  const delta = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - reported[k as keyof typeof now]]));
  if (Object.values(delta).some((v) => v > 0)) event({ event: 'deliveries', ...delta });
  Object.assign(reported, now);
}, 500).unref();

process.on('message', (command: Command) => {
  if (command.type === 'arm') points.arm(command.point, command.skip);
  else if (command.type === 'disarm') points.disarm();
  else if (command.type === 'status') send({ type: 'status', inFlight: stats.inFlight, deliveries: stats.deliveries });
});
// The orchestrator is gone: nobody will stop this process.
process.on('disconnect', () => process.exit(1));
process.once('SIGTERM', async () => {
  await subscriber.stop();
  await coordinator.close();
  await transport.close();
  await db.destroy();
  process.exit(0);
});

await subscriber.start();
send({ type: 'ready' });
