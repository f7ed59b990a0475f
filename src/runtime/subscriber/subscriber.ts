/**
 * The subscriber: a message's way from delivery to acknowledgement, stage by stage. It is
 * received and checked (receive.ts), planned (plan.ts), locked in Redis and given to group
 * commit (group-commit.ts), which applies it in a database transaction with others
 * (apply.ts, rows.ts, version-store.ts). Until what it needs is there it waits (waiting.ts),
 * asks a dependency missing too long of its publisher (resync-requests.ts), or is deferred
 * through the broker; once committed it is acknowledged, and what waited for it is woken.
 */
import type { Knex } from 'knex';
import type { RedisCoordinator } from '../../transport/redis/coordinator.js';
import type { LiveFeedWriter } from '../../transport/redis/live-feed.js';
import type { Consumer, Delivery, Transport } from '../../transport/transport.js';
import type { ObserverCallbacks, Sink, SubscriberSchema } from '../contract.js';
import { databaseOf } from '../db/index.js';
import { requireTables } from '../db/schema-check.js';
import type { Envelope } from '../envelope.js';
import { RecoveryError } from '../../common/errors.js';
import { guardedLogger, type Logger, silentLogger } from '../../common/logger.js';
import { defaultMetrics, type Metrics } from '../observability/metrics.js';
import { SubscriberObserver } from '../observability/subscriber-observer.js';
import { syncReplyKey } from '../resync.js';
import { publishingTransport } from '../signatures/signer.js';
import { type SignatureOptions, Verifier } from '../signatures/verifier.js';
import { Applier } from './apply.js';
import { CallbackRunner } from './callbacks.js';
import { GroupCommit, holdMs } from './group-commit.js';
import { Planner } from './plan.js';
import { Receiver } from './receive.js';
import { ResyncRequests } from './resync-requests.js';
import { RowWriter } from './rows.js';
import { SinkRunner, subscriberTables } from './sinks.js';
import { describeRequirement, lax, type Plan, type Requirement } from './types.js';
import { VersionStore } from './version-store.js';
import { Waiting } from './waiting.js';

export type SubscriberMode = 'causal' | 'recovery' | 'bareback';

export interface SubscriberOptions<Callbacks = unknown, Sinks = unknown> {
  readonly schema: SubscriberSchema<Callbacks, Sinks>;
  readonly knex: Knex;
  readonly transport: Transport;
  /**
   * By local name, typed by the schema's generated `Callbacks`. The subscriber refuses to
   * start when one names no subscription, observer or callback.
   */
  readonly callbacks?: NoInfer<Callbacks>;
  /**
   * By local name, typed by the schema's generated `Sinks`: each sends the payload of the
   * objects its target receives on (to an external API) whenever it changed, in the apply
   * transaction. The subscriber refuses to start when one names no subscription or observer.
   */
  readonly sinks?: NoInfer<Sinks>;
  /** Unacknowledged messages in flight (default 5). */
  readonly prefetch?: number;
  /** Attempts before a failing message is parked (default 5). */
  readonly maxAttempts?: number;
  /** Delay before retry n (0-based); default 1 s doubling to 2 min. */
  readonly retryDelayMs?: (attempt: number) => number;
  /**
   * `causal` (default): an operation waits until its object's previous version and every
   * dependency this app tracks are applied; a dependency missing after `dependencyTimeoutMs`
   * is asked of its publisher again (re-sync), never skipped. `recovery`: such a dependency is
   * skipped instead, and a `RecoveryError` reported. `bareback`: no waiting at all, for
   * development only.
   */
  readonly mode?: SubscriberMode;
  /**
   * How long a message waits in memory for its dependencies before it is deferred through the
   * broker (default 200 ms): meanwhile it holds one of the prefetch slots.
   */
  readonly waitMs?: number;
  /**
   * How long the Redis lock on a message's objects lives (default 5 s): what a killed worker's
   * objects stay blocked for. A longer apply may let another worker in; the database's row
   * locks then keep it correct.
   */
  readonly lockLeaseMs?: number;
  /** How long a message may wait for a missing dependency before it is re-synced or skipped (default 30 s). */
  readonly dependencyTimeoutMs?: number;
  /**
   * Coordinates several workers on one queue: a Redis lock per object while it is applied,
   * and wake-ups for messages waiting on a version. Without it, the database's row locks still
   * keep the result correct; waiting workers then only poll.
   */
  readonly coordinator?: RedisCoordinator;
  readonly errorNotifier?: (error: Error, payload?: unknown) => void;
  /**
   * Where the subscriber says what it does and what went wrong (default: nowhere): a pino
   * logger, or any {@link Logger}. Its records carry `app` and `component: 'subscriber'`.
   */
  readonly logger?: Logger;
  /** Where the subscriber records what it applies, parks, retries and defers (default: {@link defaultMetrics}). */
  readonly metrics?: Metrics;
  /**
   * Appends every operation applied, once committed, to the app's live feed in Redis, which
   * `liveChanges` streams to browsers (default off; needs a `coordinator`). `maxLength`: the
   * entries the feed keeps for clients that reconnect (default 10,000).
   */
  readonly live?: boolean | { readonly maxLength?: number };
  /**
   * Signatures (default: none checked, none made). `trust`: the public keys of the apps it
   * hears from, against which every signed message is verified; `require`: unsigned messages
   * are parked too; `key`: this app's private key, which signs its re-sync requests.
   */
  readonly signatures?: SignatureOptions;
}

/** A message on its way: what it writes and needs, and how long it may wait. */
interface InFlight {
  readonly delivery: Delivery;
  readonly envelope: Envelope;
  readonly plans: readonly Plan[];
  /** The keys of the objects it writes, each once: what it locks. */
  readonly objects: readonly string[];
  /** Since when it waits, across deferrals. */
  readonly since: number;
  /** Until when it may wait in memory before it is deferred. */
  readonly deadline: number;
}

/**
 * Applies an app's subscriptions. Each message (one publisher transaction) is applied in one
 * database transaction together with the version bookkeeping, and acknowledged only after
 * that commit, so a redelivered message changes nothing twice. A message waits until what it
 * depends on is applied; meanwhile other messages go ahead. A message that cannot be applied
 * is retried with backoff through the broker, then parked with its reason; a message that can
 * never be applied (malformed, failing its schema) is parked at once.
 */
export class Subscriber<Callbacks = unknown, Sinks = unknown> {
  private consumer: Consumer | undefined;
  private readonly mode: SubscriberMode;
  private readonly observer: SubscriberObserver;
  private readonly receiver: Receiver;
  private readonly planner: Planner;
  private readonly waiting: Waiting;
  private readonly resync: ResyncRequests;
  private readonly groupCommit: GroupCommit;
  private readonly sinks: SinkRunner;
  private readonly unlisten: (() => void) | undefined;
  private readonly log: Logger;
  /** What the app sends (re-sync requests, acknowledgements), signed when it has a key. */
  private readonly transport: Transport;

  constructor(private readonly options: SubscriberOptions<Callbacks, Sinks>) {
    const { schema, coordinator } = options;
    const database = databaseOf(options.knex);
    const report = (error: Error, payload?: unknown) => options.errorNotifier?.(error, payload);
    this.log = guardedLogger(options.logger ?? silentLogger).child({ app: schema.app, component: 'subscriber' });
    this.mode = options.mode ?? 'causal';
    this.observer = new SubscriberObserver(schema.app, options.metrics ?? defaultMetrics(), coordinator);
    this.receiver = new Receiver({
      validateEnvelope: schema.validate.envelope,
      verifier: Verifier.of(options.signatures),
      observer: this.observer,
      maxAttempts: options.maxAttempts ?? 5,
      retryDelayMs: options.retryDelayMs ?? defaultDelay,
      report,
      log: this.log,
    });
    this.planner = new Planner(schema as SubscriberSchema<unknown>, this.log);
    this.waiting = new Waiting(coordinator, options.lockLeaseMs ?? 5_000);
    this.transport = publishingTransport(options.transport, options.signatures?.key);
    this.resync = new ResyncRequests({
      app: schema.app,
      transport: this.transport,
      timeoutMs: options.dependencyTimeoutMs ?? 30_000,
      observer: this.observer,
      log: this.log,
      report,
    });
    this.sinks = new SinkRunner(
      schema as SubscriberSchema<unknown>,
      options.sinks as Readonly<Record<string, Sink<unknown>>> | undefined,
      database,
      this.observer,
    );
    const live = this.liveFeed();
    const applier = new Applier({
      ...(live ? { live } : {}),
      database,
      versions: new VersionStore(database),
      rows: new RowWriter(schema as SubscriberSchema<unknown>, this.log),
      callbacks: new CallbackRunner(
        schema as SubscriberSchema<unknown>,
        options.callbacks as Readonly<Record<string, ObserverCallbacks<unknown>>> | undefined,
      ),
      sinks: this.sinks,
      observer: this.observer,
    });
    this.groupCommit = new GroupCommit({
      applier,
      concurrency: database.concurrentTransactions,
      appliedSince: (key, since) => this.waiting.appliedSince(key, since),
      locked: coordinator !== undefined,
      warn: (message) => this.log.warn(message),
    });
    this.unlisten = coordinator?.onApplied((object) => this.wake(object));
  }

  /** The writer of the app's live feed, when asked for. */
  private liveFeed(): LiveFeedWriter | undefined {
    const { live, coordinator } = this.options;
    if (!live) return undefined;
    if (!coordinator) throw new Error('the live feed is kept in Redis: give the subscriber a coordinator');
    const maxLength = live === true ? undefined : live.maxLength;
    return coordinator.liveFeed(maxLength, (error) =>
      this.log.warn({ err: error }, 'could not append to the live feed'),
    );
  }

  async start(): Promise<void> {
    const { schema } = this.options;
    // Before the first message: a missing table would fail every one of them.
    const tables = subscriberTables(schema, this.sinks.configured);
    if (tables) await requireTables(this.options.knex, schema.app, tables);
    const prefetch = this.options.prefetch ?? 5;
    this.consumer = await this.options.transport.consume(
      schema.app,
      { prefetch, bindings: [...schema.bindings, syncReplyKey(schema.app)] },
      (delivery) => this.handle(delivery),
    );
    this.observer.start(this.options.transport);
    this.log.info({ bindings: schema.bindings, prefetch, mode: this.mode }, 'consuming');
  }

  /** Stops taking messages and waits for those in flight to be applied and acknowledged. */
  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.unlisten?.();
    await this.observer.stop();
    if (this.consumer) this.log.info('stopped: the messages in flight are settled');
  }

  /** Takes one delivery from receipt to acknowledgement (or retry, deferral, parking). */
  async handle(delivery: Delivery): Promise<void> {
    const envelope = await this.receiver.envelope(delivery);
    if (!envelope) return;
    this.observer.received(delivery, envelope);
    return this.observer.traced(delivery, envelope, () => this.apply(delivery, envelope));
  }

  /** Applies a valid message once what it needs is there, meanwhile waiting or deferring it; retries or parks it when it fails. */
  private async apply(delivery: Delivery, envelope: Envelope): Promise<void> {
    try {
      const plans = this.planner.plan(envelope);
      if (plans.length === 0) {
        // Nothing of it is for this app: applied, as far as this app goes.
        await this.acknowledge(envelope);
        return await delivery.ack();
      }
      const message: InFlight = {
        delivery,
        envelope,
        plans,
        objects: [...new Set(plans.map((p) => p.key))],
        since: delivery.waitingSince ?? Date.now(),
        deadline: Date.now() + (this.options.waitMs ?? 200),
      };
      let requirements = this.mode === 'bareback' ? lax : this.planner.requirements(envelope, plans);
      for (;;) {
        const attempt = await this.tryApply(message, requirements);
        if (attempt === 'busy') return await this.receiver.defer(delivery, envelope, message.since);
        const { missing, readAt } = attempt;
        if (missing.length === 0) return;
        this.observer.waiting(delivery, envelope, message.since);
        if (await this.recoverWithout(message, missing)) {
          requirements = lax;
          continue;
        }
        if (Date.now() >= message.deadline) return await this.receiver.defer(delivery, envelope, message.since);
        await this.waiting.waitFor(
          missing.map((m) => m.key),
          message.deadline,
          readAt,
        );
      }
    } catch (error) {
      await this.receiver.failed(delivery, envelope, error);
    }
  }

  /**
   * Takes the Redis locks of the message's objects ('busy' when another worker keeps one),
   * applies it through group commit, and acknowledges it once committed. Returns what it
   * misses (nothing once applied), and when its transaction was asked for it.
   */
  private async tryApply(
    message: InFlight,
    requirements: readonly Requirement[],
  ): Promise<{ missing: Requirement[]; readAt: number } | 'busy'> {
    const { delivery, envelope, plans, objects, deadline } = message;
    if (!(await this.waiting.lock(objects))) return 'busy';
    const readAt = performance.now();
    let missing: Requirement[] | undefined;
    try {
      const started = performance.now();
      const holdUntil = Math.min(deadline, Date.now() + holdMs);
      missing = await this.groupCommit.submit({ envelope, plans, requirements, holdUntil });
      if (missing.length === 0) {
        await this.acknowledge(envelope);
        await delivery.ack();
        this.observer.applied(delivery, envelope, started);
      }
    } finally {
      await this.waiting.unlock(objects, missing?.length === 0);
    }
    if (missing.length === 0) for (const object of objects) this.wake(object);
    return { missing, readAt };
  }

  /**
   * Tells the publishing process that asked this app to acknowledge the message that its
   * transaction committed; a redelivery acknowledges again, which the publisher ignores. An
   * acknowledgement that cannot be sent is lost: the publisher counts the app as silent.
   */
  private async acknowledge(envelope: Envelope): Promise<void> {
    const { app } = this.options.schema;
    const acks = envelope.acks;
    if (!acks?.apps.includes(app)) return;
    const body = Buffer.from(JSON.stringify({ kind: 'ack', app, message: envelope.id }));
    try {
      await this.transport.reply(acks.to, { body, messageId: `${envelope.id}:ack:${app}` });
      (this.options.metrics ?? defaultMetrics()).acksSent.inc({ app, publisher: envelope.app });
    } catch (error) {
      this.log.warn({ messageId: envelope.id, publisher: envelope.app, err: error }, 'could not acknowledge a message');
    }
  }

  /**
   * Whether to apply the message without what it misses: past the dependency timeout in
   * `recovery` mode, reported as a RecoveryError. In `causal` mode it is then asked of its
   * publisher again instead, and the message keeps waiting.
   */
  private async recoverWithout(message: InFlight, missing: readonly Requirement[]): Promise<boolean> {
    const waited = Date.now() - message.since;
    if (waited < (this.options.dependencyTimeoutMs ?? 30_000)) return false;
    if (this.mode === 'recovery') {
      const error = new RecoveryError(
        `message ${message.envelope.id} waited ${waited} ms for ${missing.map(describeRequirement).join(', ')}; applied without it`,
      );
      this.log.warn(
        {
          messageId: message.envelope.id,
          publisher: message.envelope.app,
          missing: missing.map(objectOf),
          waitedMs: waited,
        },
        'applying a message without a dependency still missing (recovery mode)',
      );
      this.options.errorNotifier?.(error, message.envelope);
      return true;
    }
    await this.resync.request(missing);
    return false;
  }

  /** An object was applied, here or (through Redis) by another worker: what waits for it looks again. */
  private wake(object: string): void {
    this.groupCommit.applied(object);
    this.waiting.applied(object);
  }
}

/** A requirement as a log record shows it. */
function objectOf({ endpoint, id, version }: Requirement): { endpoint: string; id: string; version: number } {
  return { endpoint, id, version };
}

function defaultDelay(attempt: number): number {
  return Math.min(120_000, 1_000 * 2 ** attempt);
}
