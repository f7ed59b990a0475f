import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { routingKey, topicMatches } from '../../common/topic.js';
import type { RedisCoordinator } from '../../transport/redis/coordinator.js';
import type { Consumer, Delivery, Transport } from '../../transport/transport.js';
import {
  type CompiledValidator,
  type ObservedEvent,
  type ObserverCallbacks,
  resolveObservers,
  resolveSubscription,
  type SubscriberSchema,
  type SubscriptionDescriptor,
} from '../contract.js';
import type { Dependency, Envelope, OperationMessage } from '../envelope.js';
import { RecoveryError, SubscriberError, Unprocessable } from '../../common/errors.js';
import { defaultMetrics, type Metrics } from '../observability/metrics.js';
import { SubscriberObserver } from '../observability/subscriber-observer.js';
import { type ResyncRequest, resyncRequestKey, syncReplyKey } from '../resync.js';
import { type PgConnection, PgTransaction } from '../postgres.js';
import { withPreparedStatements } from '../sqlite.js';
import { toColumn } from '../values.js';

export const versionsTable = 'promiscuous_versions';

export type SubscriberMode = 'causal' | 'recovery' | 'bareback';

export interface SubscriberOptions<Callbacks = unknown> {
  readonly schema: SubscriberSchema<Callbacks>;
  readonly knex: Knex;
  readonly transport: Transport;
  /** By local name: the generated `Callbacks` type says which exist and what they receive. */
  readonly callbacks?: Callbacks;
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
  readonly logger?: { warn(message: string): void };
  /** Where the subscriber records what it applies, parks, retries and defers (default: {@link defaultMetrics}). */
  readonly metrics?: Metrics;
}

interface Plan {
  readonly op: OperationMessage;
  readonly key: string;
  readonly subscription?: SubscriptionDescriptor;
  readonly targets: readonly string[];
}

/** How long a message that found a dependency missing may wait for the next transaction (see `hold`). */
const holdMs = 50;

/** Operations waiting for the next transaction that make a backlog, worth a transaction beside the running one. */
const backlogOperations = 200;

/** Where operations under a routing key, of a type chain, go. */
interface Route {
  /** Whether the app binds the key at all. */
  readonly bound: boolean;
  readonly subscription?: SubscriptionDescriptor;
  /** The subscription's and the observers' names: where the operation is written or seen. */
  readonly targets: readonly string[];
}

/** An object version a message needs applied before it. */
interface Requirement {
  readonly key: string;
  readonly publisher: string;
  readonly endpoint: string;
  readonly id: string;
  readonly version: number;
}

interface Stored {
  readonly version: number;
  readonly destroyed: boolean;
}

/**
 * Applies an app's subscriptions. Each message (one publisher transaction) is applied in one
 * database transaction together with the version bookkeeping, and acknowledged only after
 * that commit, so a redelivered message changes nothing twice. A message waits until what it
 * depends on is applied; meanwhile other messages go ahead. A message that cannot be applied
 * is retried with backoff through the broker, then parked with its reason; a message that can
 * never be applied (malformed, failing its schema) is parked at once.
 */
export class Subscriber<Callbacks = unknown> {
  private consumer: Consumer | undefined;
  private readonly sharedTables: ReadonlySet<string>;
  private readonly mode: SubscriberMode;
  /** Messages waiting in this process for an object's next version, by object. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Messages ready to be applied in the next transaction. */
  private readonly batch: Batched[] = [];
  /** Messages a transaction found missing a dependency, kept for the next transaction (see `hold`). */
  private readonly held = new Map<Batched, { readonly missing: Requirement[]; readonly timer: NodeJS.Timeout }>();
  /** Transactions applying batches right now. */
  private applying = 0;
  /** The operations of the messages in `batch`. */
  private batchOperations = 0;
  /** When each object was last applied (by this process, or by another as Redis said), for waiters that come late. */
  private readonly appliedAt = new Map<string, number>();
  /** When each object was last asked of its publisher, so that a wait asks once per timeout. */
  private readonly requested = new Map<string, number>();
  private readonly unlisten: (() => void) | undefined;
  private readonly observer: SubscriberObserver;
  private readonly routes = new Map<string, Route>();
  /** Whether this app tracks objects of an endpoint and type chain (see `tracks`), resolved once each. */
  private readonly tracked = new Map<string, boolean>();
  /**
   * Versions this process saw committed, by object key: lower bounds, since a stored version
   * never goes back. A requirement on an object the transaction neither writes nor references
   * that one of them meets needs no read (see `applyTogether`).
   */
  private readonly seen = new Map<string, Stored>();

  constructor(private readonly options: SubscriberOptions<Callbacks>) {
    const roots = new Map<string, Set<string>>();
    for (const s of Object.values(options.schema.subscriptions)) {
      const set = roots.get(s.table) ?? new Set();
      set.add(this.root(s).name);
      roots.set(s.table, set);
    }
    this.sharedTables = new Set([...roots].filter(([, r]) => r.size > 1).map(([t]) => t));
    this.mode = options.mode ?? 'causal';
    this.unlisten = options.coordinator?.onApplied((object) => this.wakeObject(object));
    this.observer = new SubscriberObserver(
      options.schema.app,
      options.metrics ?? defaultMetrics(),
      options.coordinator,
    );
  }

  async start(): Promise<void> {
    const { schema } = this.options;
    this.consumer = await this.options.transport.consume(
      schema.app,
      { prefetch: this.options.prefetch ?? 5, bindings: [...schema.bindings, syncReplyKey(schema.app)] },
      (delivery) => this.handle(delivery),
    );
    this.observer.start(this.options.transport);
  }

  /** Stops taking messages and waits for those in flight to be applied and acknowledged. */
  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.unlisten?.();
    await this.observer.stop();
  }

  async handle(delivery: Delivery): Promise<void> {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(delivery.body.toString('utf8')) as Envelope;
    } catch (error) {
      return this.park(delivery, `malformed JSON: ${(error as Error).message}`);
    }
    if (!this.options.schema.validate.envelope(envelope)) {
      return this.park(
        delivery,
        `the envelope fails its schema: ${describe(this.options.schema.validate.envelope)}`,
        envelope,
      );
    }
    this.observer.received(delivery, envelope);
    return this.observer.traced(delivery, envelope, () => this.applyMessage(delivery, envelope));
  }

  /** Applies a valid message once what it needs is there, meanwhile waiting or deferring it; retries or parks it when it fails. */
  private async applyMessage(delivery: Delivery, envelope: Envelope): Promise<void> {
    try {
      const plans = envelope.operations.flatMap((op) => this.plan(op, envelope.app));
      if (plans.length === 0) return await delivery.ack();
      const objects = [...new Set(plans.map((p) => p.key))];
      const since = delivery.waitingSince ?? Date.now();
      const deadline = Date.now() + (this.options.waitMs ?? 200);
      let requirements = this.mode === 'bareback' ? lax : this.requirements(envelope, plans);
      for (;;) {
        if (!(await this.lock(objects))) return await this.defer(delivery, envelope, since);
        let missing: Requirement[] | undefined;
        const readAt = performance.now();
        try {
          const started = performance.now();
          missing = await this.applyWhenReady(envelope, plans, requirements, deadline);
          if (missing.length === 0) {
            await delivery.ack();
            this.observer.applied(delivery, envelope, started);
          }
        } finally {
          await this.options.coordinator?.release(objects, missing?.length === 0);
        }
        if (missing.length === 0) {
          for (const object of objects) this.wakeObject(object);
          return;
        }
        this.observer.waiting(delivery, envelope, since);
        const waited = Date.now() - since;
        if (waited >= (this.options.dependencyTimeoutMs ?? 30_000)) {
          if (this.mode === 'recovery') {
            this.notify(
              new RecoveryError(
                `message ${envelope.id} waited ${waited} ms for ${missing.map(describeRequirement).join(', ')}; applied without it`,
              ),
              envelope,
            );
            requirements = lax;
            continue;
          }
          await this.requestResync(missing);
        }
        if (Date.now() >= deadline) return await this.defer(delivery, envelope, since);
        await this.waitFor(
          missing.map((m) => m.key),
          deadline,
          readAt,
        );
      }
    } catch (error) {
      if (error instanceof Unprocessable) return this.park(delivery, error.message, envelope);
      const attempts = delivery.attempt + 1;
      const reason = `${(error as Error).message}`;
      this.notify(
        new SubscriberError(`message ${envelope.id} failed (attempt ${attempts}): ${reason}`, { cause: error }),
        envelope,
      );
      if (attempts >= (this.options.maxAttempts ?? 5))
        return this.park(delivery, `failed ${attempts} times: ${reason}`, envelope);
      this.observer.retried(delivery, error as Error);
      await delivery.retry(error as Error, (this.options.retryDelayMs ?? defaultDelay)(delivery.attempt));
    }
  }

  /**
   * What must be applied before the message: each object's previous version (per-object
   * order), and each dependency on an object this app stores or observes (causal order),
   * except what the message itself brings.
   */
  private requirements(envelope: Envelope, plans: readonly Plan[]): Requirement[] {
    const brought = new Map<string, number>();
    const out: Requirement[] = [];
    for (const { op, key } of plans) {
      const earlier = brought.get(key);
      if (op.operation !== 'sync' && op.version > 1 && (earlier === undefined || earlier < op.version - 1)) {
        out.push({ key, publisher: envelope.app, endpoint: op.endpoint, id: op.id, version: op.version - 1 });
      }
      brought.set(key, Math.max(earlier ?? 0, op.version));
    }
    for (const dependency of envelope.dependencies) {
      const publisher = dependency.endpoint.split('/')[0] as string;
      const key = objectKey(publisher, dependency.endpoint, dependency.id);
      if ((brought.get(key) ?? -1) >= dependency.version || !this.tracks(dependency)) continue;
      out.push({ key, publisher, endpoint: dependency.endpoint, id: dependency.id, version: dependency.version });
    }
    return out;
  }

  /** Whether this app stores or observes the object of a dependency: only then can it wait for it. */
  private tracks(dependency: Dependency): boolean {
    const { endpoint, types } = dependency;
    const cacheKey = `${endpoint} ${types === undefined ? '' : types.join(' ')}`;
    let tracked = this.tracked.get(cacheKey);
    if (tracked === undefined) {
      const keys = (['create', 'update', 'destroy'] as const).map((o) => routingKey(endpoint, o));
      tracked = types
        ? keys.some((key) => this.route(key, types).targets.length > 0)
        : keys.some((key) => this.options.schema.bindings.some((b) => topicMatches(b, key)));
      if (this.tracked.size >= 10_000) this.tracked.clear();
      this.tracked.set(cacheKey, tracked);
    }
    return tracked;
  }

  /** Waits until one of the objects is applied (by this process or, through Redis, another), or a while. */
  private async waitFor(keys: readonly string[], deadline: number, readAt: number): Promise<void> {
    // Applied since the read that found it missing: the wake-up came before this waiter.
    if (keys.some((key) => (this.appliedAt.get(key) ?? -1) >= readAt)) return;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        for (const key of keys) this.waiters.get(key)?.delete(wake);
        resolve();
      };
      // Without Redis, another process's commits wake nobody: look again now and then.
      const timer = setTimeout(wake, Math.max(0, Math.min(deadline - Date.now(), 50)));
      for (const key of keys) {
        const set = this.waiters.get(key) ?? new Set();
        set.add(wake);
        this.waiters.set(key, set);
      }
    });
  }

  /** Records a version committed; bounded, the oldest forgotten first (a forgotten one is read again). */
  private see(key: string, version: Stored): void {
    const known = this.seen.get(key);
    if (known !== undefined && known.version >= version.version) return;
    latest(this.seen, key, version, 50_000);
  }

  private wakeObject(object: string): void {
    for (const [message, { missing }] of this.held) if (missing.some((m) => m.key === object)) this.release(message);
    // Only the last moments matter: a waiter comes within one read of the apply.
    latest(this.appliedAt, object, performance.now(), 10_000);
    for (const wake of this.waiters.get(object) ?? []) wake();
    this.waiters.delete(object);
  }

  /** Asks each missing object's publisher for its current state, at most once per timeout per object. */
  private async requestResync(missing: readonly Requirement[]): Promise<void> {
    const now = Date.now();
    const timeout = this.options.dependencyTimeoutMs ?? 30_000;
    const due = missing.filter((m) => now - (this.requested.get(m.key) ?? 0) >= timeout);
    if (due.length === 0) return;
    for (const m of due) this.requested.set(m.key, now);
    for (const [key, time] of this.requested) if (now - time >= timeout) this.requested.delete(key);
    for (const publisher of new Set(due.map((m) => m.publisher))) {
      const objects = due.filter((m) => m.publisher === publisher);
      const request: ResyncRequest = {
        format: 1,
        app: this.options.schema.app,
        objects: objects.map(({ endpoint, id, version }) => ({ endpoint, id, version })),
      };
      this.options.logger?.warn(
        `asking ${publisher} to re-sync ${objects.map(describeRequirement).join(', ')}, missing for ${timeout} ms`,
      );
      try {
        await this.options.transport.publish([
          {
            routingKeys: [resyncRequestKey(publisher)],
            messageId: randomUUID(),
            body: Buffer.from(JSON.stringify(request)),
          },
        ]);
        this.observer.resyncRequested(publisher);
      } catch (error) {
        this.notify(new SubscriberError(`could not ask ${publisher} to re-sync`, { cause: error }), request);
      }
    }
  }

  /** Takes the Redis locks of the message's objects, waiting a little while another worker holds one. */
  private async lock(objects: readonly string[]): Promise<boolean> {
    const coordinator = this.options.coordinator;
    if (!coordinator) return true;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (await coordinator.lockAll(objects, this.options.lockLeaseMs ?? 5_000)) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }

  private async park(delivery: Delivery, reason: string, envelope?: Envelope): Promise<void> {
    this.notify(
      new SubscriberError(`message ${delivery.messageId ?? '?'} parked: ${reason}`),
      envelope ?? delivery.body.toString('utf8'),
    );
    this.observer.parked(delivery, reason);
    await delivery.park(reason);
  }

  /** Sends the message to wait in a retry queue, so that it holds no prefetch slot meanwhile. */
  private async defer(delivery: Delivery, envelope: Envelope, since: number): Promise<void> {
    this.observer.deferred(delivery, envelope, since);
    await delivery.defer(200, since);
  }

  /**
   * Applies a message when what it needs is there; returns what is missing (nothing once
   * applied and committed). Messages that arrive together (within the prefetch window) are
   * applied in one database transaction: one version read, one version write, one commit. If
   * anything in such a transaction fails, each of its messages is applied again on its own, so
   * that only the faulty one fails. A message found missing a requirement may be held for the
   * next transaction first (see `hold`): what is missing is then returned up to 50 ms later.
   */
  private applyWhenReady(
    envelope: Envelope,
    plans: readonly Plan[],
    requirements: readonly Requirement[],
    deadline: number,
  ): Promise<Requirement[]> {
    return new Promise((resolve, reject) => {
      const holdUntil = Math.min(deadline, Date.now() + holdMs);
      this.batch.push({ envelope, plans, requirements, holdUntil, resolve, reject });
      this.batchOperations += plans.length;
      if (this.applying >= this.concurrentApplies()) return;
      // Another transaction beside a running one only for a backlog: otherwise what waits is
      // better applied together in the next (fewer commits).
      if (this.applying > 0 && this.batchOperations < backlogOperations) return;
      this.applying += 1;
      setImmediate(() => void this.applyBatches());
    });
  }

  /**
   * Up to four transactions at a time when a backlog waits (SQLite: one, it has a single
   * writer); otherwise one: what arrives while it runs goes together in the next (group
   * commit). While one waits on the database, another is prepared or committed. Their objects
   * are apart: a message's objects are locked in Redis until it is applied, and the versions'
   * row locks keep it so without Redis.
   */
  private concurrentApplies(): number {
    return this.options.knex.client.config.client === 'better-sqlite3' ? 1 : 4;
  }

  /** Applies what waits, until nothing does. */
  private async applyBatches(): Promise<void> {
    while (this.batch.length > 0) {
      this.batchOperations = 0;
      // Held messages join what came meanwhile, which most likely brings what they wait for.
      const batch = [...this.batch.splice(0), ...this.held.keys()];
      for (const { timer } of this.held.values()) clearTimeout(timer);
      this.held.clear();
      await this.applyBatch(batch);
    }
    this.applying -= 1;
  }

  private async applyBatch(batch: readonly Batched[]): Promise<void> {
    const started = performance.now();
    try {
      const results = await this.applyTogether(batch);
      batch.forEach((message, i) => {
        const missing = results[i] ?? [];
        if (this.holds(message, missing, started)) this.hold(message, missing);
        else message.resolve(missing);
      });
    } catch (error) {
      if (batch.length === 1) return batch[0]?.reject(error);
      for (const message of batch) {
        await this.applyTogether([message]).then(([missing]) => message.resolve(missing ?? []), message.reject);
      }
    }
  }

  /**
   * Whether a message its transaction (begun at `started`) found missing requirements is worth
   * holding for the next transaction. Not when one of them was applied since that transaction
   * began (by another one beside it: the wake-up came before the hold); not when what is
   * missing was found in the transaction (a destroy's dependents, an orphan's newer version:
   * those arrive in no particular next batch, and the message would fail it); and not, under
   * Redis locks, when it is a previous version of the message's own object: the worker that
   * has it waits for this message's lock.
   */
  private holds(message: Batched, missing: readonly Requirement[], started: number): boolean {
    if (missing.length === 0 || Date.now() >= message.holdUntil) return false;
    const own = this.options.coordinator ? new Set(message.plans.map((p) => p.key)) : undefined;
    return missing.every(
      (m) => message.requirements.includes(m) && (this.appliedAt.get(m.key) ?? -1) < started && !own?.has(m.key),
    );
  }

  /**
   * Keeps a message that found a requirement missing for the next transaction, which likely
   * brings it (a backlog comes in frames grouped by routing key, not in commit order): there it
   * is applied after it, instead of in a transaction of its own once woken, and its frame is
   * acknowledged sooner. It goes back to wait as usual as soon as one of the objects it waits
   * for is applied (`wakeObject`), or at `holdUntil` if no transaction came.
   */
  private hold(message: Batched, missing: Requirement[]): void {
    const timer = setTimeout(() => this.release(message), Math.max(0, message.holdUntil - Date.now()));
    this.held.set(message, { missing, timer });
  }

  private release(message: Batched): void {
    const held = this.held.get(message);
    if (!held) return;
    clearTimeout(held.timer);
    this.held.delete(message);
    message.resolve(held.missing);
  }

  /**
   * In one database transaction: reads the versions the messages need, and applies each
   * message whose requirements are all there, in order, with the new versions. Returns, for
   * each message, what is missing (nothing once applied).
   */
  private async applyTogether(batch: readonly Batched[]): Promise<Requirement[][]> {
    return this.transaction(async (trx, last) => {
      // SQLite: take the write lock first, as BEGIN IMMEDIATE would (Knex cannot say it). A
      // transaction that reads and then writes fails at once with "database is locked" when
      // another process wrote in between; one that writes first waits for the lock.
      if (trx.client.config.client === 'better-sqlite3')
        await trx.raw('UPDATE ?? SET version = version WHERE 0', [versionsTable]);
      // The versions of the objects the messages write, locked for update in key order, then
      // of those they only depend on. A required object that a written row references is
      // locked for share: transactions that reference the same object do not wait for each
      // other, and a destroy of it waits for them (the subscriber's foreign key would refuse
      // the row otherwise). Any other requirement is read without a lock: a version stored
      // never goes back, and a row lock costs PostgreSQL a write of the row's page.
      const written = new Map<string, ObjectRef>();
      /** Each required object, at the highest version a message of the batch requires. */
      const required = new Map<string, Requirement>();
      /** The parents each plan's row references, by object key (read again for the orphan check). */
      const parents = new Map<Plan, string[]>();
      for (const { envelope, plans, requirements } of batch) {
        for (const object of uniqueObjects(envelope.app, plans))
          written.set(objectKey(object.publisher, object.endpoint, object.id), object);
        for (const object of requirements)
          if ((required.get(object.key)?.version ?? -1) < object.version) required.set(object.key, object);
        for (const plan of plans)
          if (plan.subscription) parents.set(plan, parentsOf(plan.subscription, plan.op, envelope));
      }
      for (const key of written.keys()) required.delete(key);
      const referenced = new Set([...parents.values()].flat());
      const shared: ObjectRef[] = [];
      const read: ObjectRef[] = [];
      /** What needs no read: a version this process saw committed already meets it. */
      const met: [string, Stored][] = [];
      for (const [key, object] of required) {
        const seen = this.seen.get(key);
        if (referenced.has(key)) shared.push(object);
        else if (seen !== undefined && seen.version >= object.version) met.push([key, seen]);
        else read.push(object);
      }
      const stored = await this.versions(trx, [
        [[...written.values()], 'update'],
        [shared, 'share'],
        [read, undefined],
      ]);
      for (const [key, version] of met) stored.set(key, version);
      const recorded = new Map<string, Record<string, unknown>>();
      const inserts = new InsertBatch(
        trx,
        (table, row) => this.insertOrUpdate(trx, this.keyOf(table), row),
        (table) => this.keyOf(table).key,
      );
      /** Writes one message whose requirements are all there, with its callbacks. */
      const apply = async ({ envelope, plans, requirements }: Batched): Promise<void> => {
        let written = 0;
        for (const plan of plans) {
          const { op, key, subscription } = plan;
          const current = stored.get(key)?.version;
          // Already applied, or older than what is stored: a duplicate or a late message.
          if (current !== undefined && current >= op.version) continue;
          // A new object of a table this app alone fills is inserted together with the
          // other new objects; anything else is written in order, after them.
          const fresh = current === undefined && op.operation !== 'update' && op.attributes !== null;
          // Its parent is destroyed here. The publisher's own foreign key let it delete the
          // parent only once no row referenced it: this row has a newer version (deleted, or
          // moved to another parent) on its way. Writing this one would break the
          // subscriber's foreign key, and skipping it for good would lose its children if it
          // was moved: the message waits for that newer version (or, after the dependency
          // timeout, for the row's current state from its publisher). Without waiting
          // (recovery, bareback), it is skipped and counts as destroyed, and so do its
          // children.
          const orphan = (parents.get(plan) ?? []).some((parent) => stored.get(parent)?.destroyed);
          if (orphan && requirements !== lax) {
            const { endpoint, id } = op;
            throw new NotReady([{ key, publisher: envelope.app, endpoint, id, version: op.version + 1 }]);
          }
          if (orphan) {
            // Not written: inserting it would break the subscriber's foreign key.
          } else if (subscription && fresh && !this.sharedTables.has(subscription.table)) {
            await inserts.add(subscription.table, this.row(subscription, op), op.operation === 'create');
          } else if (subscription) {
            await inserts.flush();
            if (op.attributes === null && requirements !== lax) {
              const dependents = await this.dependents(trx, subscription, op);
              if (dependents.length > 0) throw new NotReady(dependents);
            }
            await this.write(trx, subscription, op, current !== undefined);
          }
          const destroyed = op.attributes === null || orphan;
          stored.set(key, { version: op.version, destroyed });
          written += 1;
          recorded.set(key, {
            publisher: envelope.app,
            endpoint: op.endpoint,
            object_id: op.id,
            version: op.version,
            destroyed,
            updated_at: Date.now(),
          });
          // Callbacks run before commit, after their row is written: if one throws, nothing
          // is recorded and the message is retried.
          if (plan.targets.some((target) => this.callbacksOf(target))) await inserts.flush();
          for (const target of plan.targets) await this.callback(target, op, envelope);
        }
        this.observer.committing(trx, envelope.app, written, plans.length - written);
      };
      const results: Requirement[][] = batch.map(() => []);
      // In the batch's order; a message that a later one of the batch lets through is applied
      // after it, in another pass. Messages are handled concurrently, so one may join the batch
      // before the message it depends on.
      let waiting = batch.map((_, i) => i);
      for (let progress = true; progress && waiting.length > 0;) {
        progress = false;
        const still: number[] = [];
        for (const i of waiting) {
          const { requirements } = batch[i] as Batched;
          const missing = requirements.filter((r) => (stored.get(r.key)?.version ?? -1) < r.version);
          results[i] = missing;
          if (missing.length > 0) {
            if (batch.length === 1) return { results, stored };
            still.push(i);
            continue;
          }
          progress = true;
          await apply(batch[i] as Batched);
        }
        waiting = still;
      }
      await inserts.flush();
      const versions = [...recorded.values()];
      if (versions.length > 0 && trx.client.config.client === 'pg') {
        last();
        await recordOnPostgres(trx, versions);
      } else {
        for (let i = 0; i < versions.length; i += insertChunk) {
          if (i + insertChunk >= versions.length) last();
          await trx(versionsTable)
            .insert(versions.slice(i, i + insertChunk))
            .onConflict(['publisher', 'endpoint', 'object_id'])
            .merge(['version', 'destroyed', 'updated_at']);
        }
      }
      return { results, stored };
    }).then(
      ({ results, stored }) => {
        // Committed: what it read and wrote is there for good.
        for (const [key, version] of stored) this.see(key, version);
        for (const missing of results) if (missing.length > 0) this.observer.missed();
        return results;
      },
      (error: unknown) => {
        // A destroy that must wait for rows referencing its object, or an orphan for its own
        // newer version: alone, the message waits; in a batch, the batch is retried message by
        // message.
        if (!(error instanceof NotReady && batch.length === 1)) throw error;
        this.observer.missed();
        return [error.missing];
      },
    );
  }

  /**
   * A Knex transaction; on SQLite with its statements prepared once per connection; on
   * PostgreSQL on a connection of the pool whose BEGIN travels with the first statement, and
   * whose COMMIT with the one announced by `last` (see {@link PgTransaction}): the
   * one-message transaction takes three round trips, not five.
   */
  private async transaction<T>(fn: (trx: Knex.Transaction, last: () => void) => Promise<T>): Promise<T> {
    const { knex } = this.options;
    if (knex.client.config.client === 'better-sqlite3')
      return withPreparedStatements(knex, (connection) => knex.transaction((trx) => fn(trx, () => {}), { connection }));
    if (knex.client.config.client !== 'pg') return knex.transaction((trx) => fn(trx, () => {}));
    const connection = (await knex.client.acquireConnection()) as PgConnection;
    const transaction = new PgTransaction(connection);
    try {
      return await knex.transaction((trx) => fn(trx, () => transaction.last()), { connection });
    } finally {
      await transaction.close();
      await knex.client.releaseConnection(connection);
    }
  }

  /**
   * The rows of this app that still reference an object about to be deleted (through an
   * attribute its publisher declares `belongs_to`): their own change, which removes the
   * reference, comes first. Each is required at a version newer than the one stored.
   */
  private async dependents(
    trx: Knex.Transaction,
    subscription: SubscriptionDescriptor,
    op: OperationMessage,
  ): Promise<Requirement[]> {
    if (this.sharedTables.has(subscription.table)) return [];
    const out: Requirement[] = [];
    const seen = new Set<string>();
    for (const child of Object.values(this.options.schema.subscriptions)) {
      for (const attribute of child.attributes) {
        const where = `${child.table}.${attribute.column}`;
        if (!attribute.references || !op.types.includes(attribute.references) || seen.has(where)) continue;
        seen.add(where);
        const rows = (await trx(child.table).select(child.key).where(attribute.column, op.id).limit(10)) as Record<
          string,
          unknown
        >[];
        for (const row of rows) {
          const id = String(row[child.key]);
          const versions = (await trx(versionsTable)
            .select('publisher', 'endpoint', 'version')
            .where('object_id', id)) as { publisher: string; endpoint: string; version: number | string }[];
          const version = versions.find((v) => topicMatches(child.binding, routingKey(v.endpoint, 'update')));
          if (!version) continue;
          const { publisher, endpoint } = version;
          out.push({
            key: objectKey(publisher, endpoint, id),
            publisher,
            endpoint,
            id,
            version: Number(version.version) + 1,
          });
        }
      }
    }
    return out;
  }

  /** The stored versions of objects, by object key, each set locked as it says (undefined: not locked) until commit. */
  private async versions(trx: Knex.Transaction, sets: readonly LookupSet[]): Promise<Map<string, Stored>> {
    type Row = {
      publisher: string;
      endpoint: string;
      object_id: string;
      version: number | string;
      destroyed: boolean | number;
    };
    const client = trx.client.config.client;
    const rows: Row[] = [];
    if (client === 'pg') rows.push(...((await versionsOnPostgres(trx, sets)) as Row[]));
    // SQLite locks no rows (its single writer already serialises transactions): one read for all.
    else if (client === 'better-sqlite3') {
      const objects = sets.flatMap(([set]) => set);
      rows.push(...((await versionsOnSqlite(trx, objects)) as Row[]));
    } else
      for (const [objects, lock] of sets)
        if (objects.length > 0) rows.push(...((await this.versionsByEndpoint(trx, objects, lock)) as Row[]));
    return new Map(
      rows.map((r) => [
        objectKey(r.publisher, r.endpoint, r.object_id),
        { version: Number(r.version), destroyed: Boolean(r.destroyed) },
      ]),
    );
  }

  /** Other databases (MySQL, MariaDB): one condition per endpoint, `object_id IN (...)`, which the primary key serves. */
  private versionsByEndpoint(
    trx: Knex.Transaction,
    objects: readonly ObjectRef[],
    lock: LookupSet[1],
  ): Knex.QueryBuilder {
    const byEndpoint = new Map<string, { publisher: string; endpoint: string; ids: string[] }>();
    for (const o of objects) {
      const group = byEndpoint.get(`${o.publisher} ${o.endpoint}`) ?? {
        publisher: o.publisher,
        endpoint: o.endpoint,
        ids: [],
      };
      group.ids.push(o.id);
      byEndpoint.set(`${o.publisher} ${o.endpoint}`, group);
    }
    const query = trx(versionsTable)
      .select('publisher', 'endpoint', 'object_id', 'version', 'destroyed')
      .where((q) => {
        for (const g of byEndpoint.values()) {
          for (let i = 0; i < g.ids.length; i += insertChunk) {
            const ids = g.ids.slice(i, i + insertChunk);
            q.orWhere((w) => w.where({ publisher: g.publisher, endpoint: g.endpoint }).whereIn('object_id', ids));
          }
        }
      })
      .orderBy(['publisher', 'endpoint', 'object_id']);
    if (lock === undefined) return query;
    return lock === 'update' ? query.forUpdate() : query.forShare();
  }

  private plan(op: OperationMessage, publisher: string): Plan[] {
    // A sync is bound, routed and resolved as the update it stands for.
    const key = routingKey(op.endpoint, op.operation === 'sync' ? 'update' : op.operation);
    const { bound, subscription, targets } = this.route(key, op.types);
    if (bound && op.endpoint.split('/')[0] !== publisher) {
      throw new Unprocessable(`app ${publisher} sent an operation on ${op.endpoint}, an endpoint it does not own`);
    }
    if (targets.length === 0) {
      // An operation on an endpoint this app does not bind came along in a multi-type message: not ours.
      if (!bound) return [];
      throw new Unprocessable(
        `unknown type ${op.types.join(' < ')} on ${op.endpoint}: no subscription of ${this.options.schema.app} matches it or an ancestor`,
      );
    }
    if (op.attributes !== null) {
      for (const target of targets) {
        const validate = this.options.schema.validate.attributes[target];
        if (validate && !validate(op.attributes)) {
          throw new Unprocessable(`${op.types[0]} ${op.id} does not fit ${target}: ${describe(validate)}`);
        }
      }
    }
    return [{ op, key: objectKey(publisher, op.endpoint, op.id), ...(subscription ? { subscription } : {}), targets }];
  }

  /** Where an operation under a routing key, of a type chain, goes: resolved once per key and chain. */
  private route(key: string, types: readonly string[]): Route {
    const cacheKey = `${key} ${types.join(' ')}`;
    let route = this.routes.get(cacheKey);
    if (!route) {
      const { schema } = this.options;
      const subscription = resolveSubscription(schema, key, types);
      const observers = resolveObservers(schema, key, types);
      route = {
        bound: schema.bindings.some((b) => topicMatches(b, key)),
        ...(subscription ? { subscription } : {}),
        targets: [...(subscription ? [subscription.name] : []), ...observers.map((o) => o.name)],
      };
      // Bounded: type chains come from messages, which a faulty publisher could vary endlessly.
      if (this.routes.size >= 10_000) this.routes.clear();
      this.routes.set(cacheKey, route);
    }
    return route;
  }

  private async write(
    trx: Knex.Transaction,
    subscription: SubscriptionDescriptor,
    op: OperationMessage,
    known: boolean,
  ): Promise<void> {
    const where = { [subscription.key]: op.id };
    if (op.attributes === null) {
      if (this.sharedTables.has(subscription.table)) {
        // A shared row belongs to several publishers: one's destroy clears only its own columns.
        const cleared = Object.fromEntries(subscription.attributes.map((a) => [a.column, null]));
        await trx(subscription.table).where(where).update(cleared);
      } else await trx(subscription.table).where(where).delete();
      return;
    }
    if (op.operation === 'update' && !known) {
      this.options.logger?.warn(`${subscription.name} ${op.id}: update for a row that is not here; creating it`);
    }
    await this.insertOrUpdate(trx, subscription, this.row(subscription, op));
  }

  /** The row an operation writes: each subscribed attribute in its column, the key, the discriminator. */
  private row(subscription: SubscriptionDescriptor, op: OperationMessage): Record<string, unknown> {
    const attributes = op.attributes ?? {};
    const values: Record<string, unknown> = { [subscription.key]: op.id };
    for (const a of subscription.attributes) {
      if (!(a.name in attributes))
        throw new Unprocessable(`${op.types[0]} ${op.id} lacks the subscribed attribute ${a.name}`);
      values[a.column] = a.kind ? toColumn(a.kind, attributes[a.name]) : plain(attributes[a.name]);
    }
    if (subscription.discriminator) values[subscription.discriminator.column] = subscription.discriminator.value;
    return values;
  }

  /** Updates the row with the key of `values`, or inserts it when there is none. */
  private async insertOrUpdate(
    trx: Knex.Transaction,
    subscription: Pick<SubscriptionDescriptor, 'table' | 'key'>,
    values: Record<string, unknown>,
  ): Promise<void> {
    const where = { [subscription.key]: values[subscription.key] };
    const updated = Number(await trx(subscription.table).where(where).update(values));
    if (updated === 0) await trx(subscription.table).insert(values);
  }

  /** A table and its key column, from any subscription into it. */
  private keyOf(table: string): Pick<SubscriptionDescriptor, 'table' | 'key'> {
    const found = Object.values(this.options.schema.subscriptions).find((s) => s.table === table);
    return { table, key: found?.key ?? 'id' };
  }

  private callbacksOf(target: string): ObserverCallbacks<unknown> | undefined {
    return (this.options.callbacks as Record<string, ObserverCallbacks<unknown>> | undefined)?.[target];
  }

  private async callback(target: string, op: OperationMessage, envelope: Envelope): Promise<void> {
    const callbacks = this.callbacksOf(target);
    if (!callbacks) return;
    const event: ObservedEvent<unknown> = {
      id: op.id,
      type: op.types[0] ?? target,
      operation: op.operation,
      version: op.version,
      attributes: op.attributes,
      idempotencyKey: `${op.endpoint}:${op.id}:${op.version}${op.operation === 'sync' ? ':sync' : ''}`,
      envelope,
    };
    const specific = {
      create: callbacks.afterCreate,
      update: callbacks.afterUpdate,
      destroy: callbacks.afterDestroy,
      sync: callbacks.afterSync,
    }[op.operation];
    await specific?.(event);
    if (op.operation === 'create' || op.operation === 'update') await callbacks.afterSave?.(event);
  }

  private root(subscription: SubscriptionDescriptor): SubscriptionDescriptor {
    let current = subscription;
    while (current.parent) {
      const parent = this.options.schema.subscriptions[current.parent];
      if (!parent || parent.table !== current.table) break;
      current = parent;
    }
    return current;
  }

  private notify(error: Error, payload?: unknown): void {
    this.options.errorNotifier?.(error, payload);
  }
}

type ObjectRef = Omit<Requirement, 'version' | 'key'>;

/** Rows per INSERT, and ids per IN list: within every database's limits. */
const insertChunk = 200;

/** A message waiting, with others that arrived together, for its transaction. */
interface Batched {
  readonly envelope: Envelope;
  readonly plans: readonly Plan[];
  readonly requirements: readonly Requirement[];
  /** Until when the message may be held for the next transaction when it finds a dependency missing (see `hold`). */
  readonly holdUntil: number;
  resolve(missing: Requirement[]): void;
  reject(error: unknown): void;
}

/**
 * New rows written together: consecutive rows of one table (a sync page, a bulk create) go
 * as one multi-row INSERT; a row of another table first writes what came before, so that
 * rows are written in the order of their operations (parents before children). Creates are
 * new for sure. Syncs may find a row that is there without a version (put in by hand before
 * the initial sync): on PostgreSQL their INSERT skips the rows that conflict, which are then
 * written one by one, updating what is there; elsewhere it runs in a savepoint, and if it
 * fails each row is written on its own.
 */
class InsertBatch {
  private pending: { table: string; rows: Record<string, unknown>[]; certain: boolean } | undefined;

  constructor(
    private readonly trx: Knex.Transaction,
    private readonly upsert: (table: string, row: Record<string, unknown>) => Promise<void>,
    /** A table's key column, by which rows that existed already are told apart. */
    private readonly key?: (table: string) => string,
  ) {}

  async add(table: string, row: Record<string, unknown>, certain: boolean): Promise<void> {
    if (this.pending && this.pending.table !== table) await this.flush();
    this.pending ??= { table, rows: [], certain: true };
    this.pending.rows.push(row);
    this.pending.certain &&= certain;
  }

  async flush(): Promise<void> {
    if (!this.pending) return;
    const { table, rows, certain } = this.pending;
    this.pending = undefined;
    // SQLite writes a multi-row INSERT as a compound SELECT, at most 500 terms.
    for (let i = 0; i < rows.length; i += insertChunk) {
      const chunk = rows.slice(i, i + insertChunk);
      if (certain) {
        await this.trx(table).insert(chunk);
        continue;
      }
      if (this.key && this.trx.client.config.client === 'pg') {
        // The rows that exist already (any unique key conflicting) are skipped, then upserted
        // one by one: no savepoint, no subtransaction.
        const key = this.key(table);
        const inserted = (await this.trx(table).insert(chunk).onConflict().ignore().returning(key)) as Record<
          string,
          unknown
        >[];
        const added = new Set(inserted.map((row) => String(row[key])));
        for (const row of chunk) if (!added.has(String(row[key]))) await this.upsert(table, row);
        continue;
      }
      const inserted = await this.trx
        .transaction((savepoint) => savepoint(table).insert(chunk))
        .then(() => true)
        .catch(() => false);
      if (!inserted) for (const row of chunk) await this.upsert(table, row);
    }
  }
}

/** No requirements, and no waiting for dependents either: bareback, or recovery after the timeout. */
const lax: readonly Requirement[] = [];

/** Thrown inside the apply transaction to roll it back when something must be applied first. */
class NotReady extends Error {
  constructor(readonly missing: Requirement[]) {
    super('waiting for dependencies');
  }
}

/**
 * PostgreSQL: the versions applied, written as one array parameter per column. One statement
 * whatever their number, and its text always the same: Knex compiles a multi-row INSERT value
 * by value, and the server parses every one of them.
 */
async function recordOnPostgres(trx: Knex.Transaction, versions: readonly Record<string, unknown>[]): Promise<void> {
  const column = (name: string): Knex.Value => versions.map((v) => v[name]) as Knex.Value;
  await trx.raw(
    `INSERT INTO ?? (publisher, endpoint, object_id, version, destroyed, updated_at)
     SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::boolean[], ?::bigint[])
     ON CONFLICT (publisher, endpoint, object_id)
     DO UPDATE SET version = excluded.version, destroyed = excluded.destroyed, updated_at = excluded.updated_at`,
    [versionsTable, ...['publisher', 'endpoint', 'object_id', 'version', 'destroyed', 'updated_at'].map(column)],
  );
}

/** Objects whose versions are read, and how they are locked (undefined: not at all). */
type LookupSet = readonly [objects: readonly ObjectRef[], lock: 'update' | 'share' | undefined];

/**
 * PostgreSQL: the keys as three array parameters, each looked up in the primary key by a
 * LATERAL subquery of its own, which is also where it is locked, in the keys' order (sorted
 * here). A join of the keys to the versions let the planner, told of a thousand keys, hash
 * them against a scan of the whole table: 57 µs a key instead of 5 on a table of 100,000
 * versions, and worse as it grows (a new subscriber's initial sync). Every set in one
 * statement, their queries joined by UNION ALL: as queries of a WITH, PostgreSQL spent about
 * 0.1 ms more on each.
 */
async function versionsOnPostgres(trx: Knex.Transaction, sets: readonly LookupSet[]): Promise<unknown[]> {
  const lookup = (lock: LookupSet[1]) =>
    `SELECT v.publisher, v.endpoint, v.object_id, v.version, v.destroyed
     FROM unnest(?::text[], ?::text[], ?::text[]) AS k(publisher, endpoint, object_id)
     CROSS JOIN LATERAL (
       SELECT publisher, endpoint, object_id, version, destroyed FROM ??
       WHERE publisher = k.publisher AND endpoint = k.endpoint AND object_id = k.object_id
       ${lock === undefined ? '' : `FOR ${lock.toUpperCase()}`}
     ) AS v`;
  const used = sets.filter(([objects]) => objects.length > 0);
  if (used.length === 0) return [];
  const sql =
    used.length === 1 ? lookup(used[0]?.[1]) : used.map(([, lock]) => `(${lookup(lock)})`).join(' UNION ALL ');
  const bindings = used.flatMap(([objects, lock]) => {
    const keys = lock === undefined ? objects : [...objects].sort(byKey);
    return [keys.map((o) => o.publisher), keys.map((o) => o.endpoint), keys.map((o) => o.id), versionsTable];
  });
  const { rows } = (await trx.raw(sql, bindings)) as { rows: unknown[] };
  return rows;
}

/** The order in which every transaction locks the objects of a set: two never wait for each other over one set. */
function byKey(a: ObjectRef, b: ObjectRef): number {
  return compare(a.publisher, b.publisher) || compare(a.endpoint, b.endpoint) || compare(a.id, b.id);
}

function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The objects a row references through attributes its publisher declares `belongs_to`, by
 * object key: the rows its subscriber's foreign keys may point to.
 */
function parentsOf(subscription: SubscriptionDescriptor, op: OperationMessage, envelope: Envelope): string[] {
  const parents: string[] = [];
  if (op.attributes === null) return parents;
  for (const attribute of subscription.attributes) {
    const value = attribute.references === undefined ? undefined : op.attributes[attribute.name];
    if (value === null || value === undefined) continue;
    const id = String(value);
    const endpoint = endpointOf(envelope, attribute.references as string, id);
    if (endpoint !== undefined) parents.push(objectKey(endpoint.split('/')[0] as string, endpoint, id));
  }
  return parents;
}

/**
 * SQLite: the keys as one JSON parameter, joined to the versions through their primary key.
 * The statement's text is the same whatever the number of keys, and building it costs the
 * same: a backlog's batches of many keys are read at the cost of few.
 */
async function versionsOnSqlite(trx: Knex.Transaction, objects: readonly ObjectRef[]): Promise<unknown[]> {
  if (objects.length === 0) return [];
  const keys = JSON.stringify(objects.map((o) => [o.publisher, o.endpoint, o.id]));
  return (await trx.raw(
    `SELECT v.publisher, v.endpoint, v.object_id, v.version, v.destroyed
     FROM json_each(?) AS k
     JOIN ?? AS v ON v.publisher = k.value ->> 0 AND v.endpoint = k.value ->> 1 AND v.object_id = k.value ->> 2`,
    [keys, versionsTable],
  )) as unknown[];
}

/** By message: the endpoint of each object it writes or depends on, by `type id`. */
const endpointIndexes = new WeakMap<Envelope, Map<string, string>>();

/** The endpoint of an object of a type that a message writes or depends on: an index built once per message. */
function endpointOf(envelope: Envelope, type: string, id: string): string | undefined {
  let index = endpointIndexes.get(envelope);
  if (!index) {
    index = new Map();
    for (const d of envelope.dependencies) for (const t of d.types ?? []) index.set(`${t} ${d.id}`, d.endpoint);
    // What the message writes wins over what it depends on.
    for (const o of envelope.operations) for (const t of o.types) index.set(`${t} ${o.id}`, o.endpoint);
    endpointIndexes.set(envelope, index);
  }
  return index.get(`${type} ${id}`);
}

/** Sets a key as the newest of a map kept to `limit` keys: past it, the oldest fifth is forgotten. */
function latest<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size <= limit) return;
  let forget = Math.ceil(limit / 5);
  for (const old of map.keys()) {
    if (forget-- <= 0) break;
    map.delete(old);
  }
}

function objectKey(publisher: string, endpoint: string, id: string): string {
  return `${publisher}:${endpoint}:${id}`;
}

/** The objects a message writes, each once, for a version lookup. */
function uniqueObjects(
  publisher: string,
  plans: readonly Plan[],
): { publisher: string; endpoint: string; id: string }[] {
  const seen = new Map(plans.map(({ op, key }) => [key, { publisher, endpoint: op.endpoint, id: op.id }]));
  return [...seen.values()];
}

function describeRequirement(r: Requirement): string {
  return `${r.endpoint} ${r.id} at version ${r.version}`;
}

function describe(validate: CompiledValidator): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}

/** A value of unknown kind: objects and arrays go to the column as JSON text. */
function plain(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
}

function defaultDelay(attempt: number): number {
  return Math.min(120_000, 1_000 * 2 ** attempt);
}
