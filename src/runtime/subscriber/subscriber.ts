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
import type { Envelope, OperationMessage } from '../envelope.js';
import { RecoveryError, SubscriberError, Unprocessable } from '../errors.js';
import { toColumn } from '../values.js';

export const versionsTable = 'promiscuous_versions';

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
   * `ordered` (default): an operation waits until the previous version of its object is
   * applied. `bareback`: no waiting at all, for development only.
   */
  readonly mode?: 'ordered' | 'bareback';
  /** How long a message waits in memory for its predecessor before it is deferred (default 500 ms). */
  readonly waitMs?: number;
  /** How long a message may wait for a missing predecessor before it is applied anyway (default 30 s). */
  readonly dependencyTimeoutMs?: number;
  /**
   * Coordinates several workers on one queue: a Redis lock per object while it is applied,
   * and wake-ups for messages waiting on a version. Without it, the database's row locks still
   * keep the result correct; waiting workers then only poll.
   */
  readonly coordinator?: RedisCoordinator;
  readonly errorNotifier?: (error: Error, payload?: unknown) => void;
  readonly logger?: { warn(message: string): void };
}

interface Plan {
  readonly op: OperationMessage;
  readonly subscription?: SubscriptionDescriptor;
  readonly targets: readonly string[];
}

/**
 * Applies an app's subscriptions. Each message (one publisher transaction) is applied in one
 * database transaction together with the version bookkeeping, and acknowledged only after
 * that commit, so a redelivered message changes nothing twice. A message that cannot be
 * applied is retried with backoff through the broker, then parked with its reason; a message
 * that can never be applied (malformed, failing its schema) is parked at once.
 */
export class Subscriber<Callbacks = unknown> {
  private consumer: Consumer | undefined;
  private readonly sharedTables: ReadonlySet<string>;
  /** Messages waiting in this process for an object's next version, by object. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly unlisten: (() => void) | undefined;

  constructor(private readonly options: SubscriberOptions<Callbacks>) {
    const roots = new Map<string, Set<string>>();
    for (const s of Object.values(options.schema.subscriptions)) {
      const set = roots.get(s.table) ?? new Set();
      set.add(this.root(s).name);
      roots.set(s.table, set);
    }
    this.sharedTables = new Set([...roots].filter(([, r]) => r.size > 1).map(([t]) => t));
    this.unlisten = options.coordinator?.onApplied((object) => this.wakeObject(object));
  }

  async start(): Promise<void> {
    this.consumer = await this.options.transport.consume(
      this.options.schema.app,
      { prefetch: this.options.prefetch ?? 5, bindings: this.options.schema.bindings },
      (delivery) => this.handle(delivery),
    );
  }

  /** Stops taking messages and waits for those in flight to be applied and acknowledged. */
  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.unlisten?.();
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
    try {
      const plans = envelope.operations.flatMap((op) => this.plan(op, envelope.app));
      if (plans.length > 0 && this.options.mode !== 'bareback' && !(await this.whenReady(envelope, plans))) {
        const since = delivery.waitingSince ?? Date.now();
        if (Date.now() - since < (this.options.dependencyTimeoutMs ?? 30_000)) return await delivery.defer(200, since);
        this.notify(
          new RecoveryError(
            `message ${envelope.id} waited ${Date.now() - since} ms for a previous version; applied without it`,
          ),
          envelope,
        );
      }
      const objects = plans.map((p) => objectKey(envelope.app, p.op));
      if (!(await this.lock(objects))) return await delivery.defer(200, delivery.waitingSince ?? Date.now());
      try {
        await this.applyPlans(envelope, plans);
        await delivery.ack();
        await this.options.coordinator?.applied(objects);
      } finally {
        await this.options.coordinator?.unlockAll(objects);
      }
      for (const object of objects) this.wakeObject(object);
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
      await delivery.retry(error as Error, (this.options.retryDelayMs ?? defaultDelay)(delivery.attempt));
    }
  }

  /**
   * Per-object order: an operation at version v needs version v - 1 of its object applied
   * first. Waits in memory for a while (woken by this process's own commits), then gives up
   * so that the message can be deferred through the broker and its slot freed.
   */
  private async whenReady(envelope: Envelope, plans: readonly Plan[]): Promise<boolean> {
    const deadline = Date.now() + (this.options.waitMs ?? 500);
    for (;;) {
      const missing = await this.missing(envelope, plans);
      if (missing.length === 0) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          for (const key of missing) this.waiters.get(key)?.delete(wake);
          resolve();
        };
        // Another process may apply the predecessor: look again now and then, not only when woken.
        const timer = setTimeout(wake, Math.min(left, 50));
        for (const key of missing) {
          const set = this.waiters.get(key) ?? new Set();
          set.add(wake);
          this.waiters.set(key, set);
        }
      });
    }
  }

  /** The objects whose previous version is not applied yet. */
  private async missing(envelope: Envelope, plans: readonly Plan[]): Promise<string[]> {
    const out: string[] = [];
    for (const { op } of plans) {
      if (op.version <= 1) continue;
      const row = (await this.options
        .knex(versionsTable)
        .select('version')
        .where({ publisher: envelope.app, endpoint: op.endpoint, object_id: op.id })
        .first()) as { version: number | string } | undefined;
      if (Number(row?.version ?? 0) < op.version - 1) out.push(objectKey(envelope.app, op));
    }
    return out;
  }

  private wakeObject(object: string): void {
    for (const wake of this.waiters.get(object) ?? []) wake();
    this.waiters.delete(object);
  }

  /** Takes the Redis locks of the message's objects, waiting a little while another worker holds one. */
  private async lock(objects: readonly string[]): Promise<boolean> {
    const coordinator = this.options.coordinator;
    if (!coordinator) return true;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (await coordinator.lockAll(objects, 30_000)) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }

  private async park(delivery: Delivery, reason: string, envelope?: Envelope): Promise<void> {
    this.notify(
      new SubscriberError(`message ${delivery.messageId ?? '?'} parked: ${reason}`),
      envelope ?? delivery.body.toString('utf8'),
    );
    await delivery.park(reason);
  }

  /** Applies every operation this app cares about, in one database transaction. */
  private async applyPlans(envelope: Envelope, plans: readonly Plan[]): Promise<void> {
    if (plans.length === 0) return;
    await this.options.knex.transaction(async (trx) => {
      for (const plan of plans) {
        const { op } = plan;
        const current = await this.version(trx, envelope.app, op);
        // Already applied, or older than what is stored: a duplicate or a late message.
        if (current !== undefined && current >= op.version) continue;
        if (plan.subscription) await this.write(trx, plan.subscription, op, current !== undefined);
        await this.record(trx, envelope.app, op, current !== undefined);
        // Callbacks run before commit: if one throws, nothing is recorded and the message is retried.
        for (const target of plan.targets) await this.callback(target, op, envelope);
      }
    });
  }

  private plan(op: OperationMessage, publisher: string): Plan[] {
    const key = routingKey(op.endpoint, op.operation);
    const bound = this.options.schema.bindings.some((b) => topicMatches(b, key));
    if (bound && op.endpoint.split('/')[0] !== publisher) {
      throw new Unprocessable(`app ${publisher} sent an operation on ${op.endpoint}, an endpoint it does not own`);
    }
    const subscription = resolveSubscription(this.options.schema, key, op.types);
    const observers = resolveObservers(this.options.schema, key, op.types);
    if (!subscription && observers.length === 0) {
      // An operation on an endpoint this app does not bind came along in a multi-type message: not ours.
      if (!bound) return [];
      throw new Unprocessable(
        `unknown type ${op.types.join(' < ')} on ${op.endpoint}: no subscription of ${this.options.schema.app} matches it or an ancestor`,
      );
    }
    const targets = [...(subscription ? [subscription.name] : []), ...observers.map((o) => o.name)];
    if (op.operation !== 'destroy') {
      for (const target of targets) {
        const validate = this.options.schema.validate.attributes[target];
        if (validate && !validate(op.attributes)) {
          throw new Unprocessable(`${op.types[0]} ${op.id} does not fit ${target}: ${describe(validate)}`);
        }
      }
    }
    return [{ op, ...(subscription ? { subscription } : {}), targets }];
  }

  private async version(trx: Knex.Transaction, publisher: string, op: OperationMessage): Promise<number | undefined> {
    const query = trx(versionsTable)
      .select('version')
      .where({ publisher, endpoint: op.endpoint, object_id: op.id })
      .first();
    if (trx.client.config.client !== 'better-sqlite3') query.forUpdate();
    const row = (await query) as { version: number | string } | undefined;
    return row === undefined ? undefined : Number(row.version);
  }

  private async record(trx: Knex.Transaction, publisher: string, op: OperationMessage, exists: boolean): Promise<void> {
    const values = { version: op.version, destroyed: op.operation === 'destroy', updated_at: Date.now() };
    const where = { publisher, endpoint: op.endpoint, object_id: op.id };
    if (exists) await trx(versionsTable).where(where).update(values);
    else await trx(versionsTable).insert({ ...where, ...values });
  }

  private async write(
    trx: Knex.Transaction,
    subscription: SubscriptionDescriptor,
    op: OperationMessage,
    known: boolean,
  ): Promise<void> {
    const where = { [subscription.key]: op.id };
    if (op.operation === 'destroy') {
      if (this.sharedTables.has(subscription.table)) {
        // A shared row belongs to several publishers: one's destroy clears only its own columns.
        const cleared = Object.fromEntries(subscription.attributes.map((a) => [a.column, null]));
        await trx(subscription.table).where(where).update(cleared);
      } else await trx(subscription.table).where(where).delete();
      return;
    }
    const attributes = op.attributes ?? {};
    const values: Record<string, unknown> = {};
    for (const a of subscription.attributes) {
      if (!(a.name in attributes))
        throw new Unprocessable(`${op.types[0]} ${op.id} lacks the subscribed attribute ${a.name}`);
      values[a.column] = a.kind ? toColumn(a.kind, attributes[a.name]) : plain(attributes[a.name]);
    }
    if (subscription.discriminator) values[subscription.discriminator.column] = subscription.discriminator.value;
    const existing = await trx(subscription.table).select(subscription.key).where(where).first();
    if (existing) await trx(subscription.table).where(where).update(values);
    else {
      if (op.operation === 'update' && !known) {
        this.options.logger?.warn(`${subscription.name} ${op.id}: update for a row that is not here; creating it`);
      }
      await trx(subscription.table).insert({ ...where, ...values });
    }
  }

  private async callback(target: string, op: OperationMessage, envelope: Envelope): Promise<void> {
    const callbacks = (this.options.callbacks as Record<string, ObserverCallbacks<unknown>> | undefined)?.[target];
    if (!callbacks) return;
    const event: ObservedEvent<unknown> = {
      id: op.id,
      type: op.types[0] ?? target,
      operation: op.operation,
      version: op.version,
      attributes: op.attributes,
      idempotencyKey: `${op.endpoint}:${op.id}:${op.version}`,
      envelope,
    };
    const specific = { create: callbacks.afterCreate, update: callbacks.afterUpdate, destroy: callbacks.afterDestroy }[
      op.operation
    ];
    await specific?.(event);
    if (op.operation !== 'destroy') await callbacks.afterSave?.(event);
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

function objectKey(publisher: string, op: OperationMessage): string {
  return `${publisher}:${op.endpoint}:${op.id}`;
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
