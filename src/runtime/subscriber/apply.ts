/**
 * One apply transaction for a batch of messages: it reads the versions they need, writes the
 * rows of each message whose requirements are all there (in order, a message that a later one
 * of the batch lets through in another pass), runs the callbacks, and records the new
 * versions; the database commits it all at once. A redelivered message changes nothing
 * twice: what it brings is at or below the version read.
 */
import type { Knex } from 'knex';
import type { LiveChange, LiveFeedWriter } from '../../transport/redis/live-feed.js';
import type { Database, LookupSet, ObjectRef, VersionRow } from '../db/database.js';
import type { Envelope } from '../envelope.js';
import type { SubscriberObserver } from '../observability/subscriber-observer.js';
import type { CallbackRunner } from './callbacks.js';
import { InsertBatch } from './insert-batch.js';
import { parentsOf, type RowWriter } from './rows.js';
import type { SinkRunner } from './sinks.js';
import { lax, NotReady, type Pending, type Plan, type Requirement, type Stored } from './types.js';
import type { VersionStore } from './version-store.js';

export interface ApplyStages {
  readonly database: Database;
  readonly versions: VersionStore;
  readonly rows: RowWriter;
  readonly callbacks: CallbackRunner;
  readonly sinks: SinkRunner;
  readonly observer: SubscriberObserver;
  /** Where the operations applied go once committed, for browsers (`liveChanges`); none by default. */
  readonly live?: LiveFeedWriter;
}

/** What one transaction works with. */
interface Transaction {
  readonly trx: Knex.Transaction;
  /** Each object's version: as read (or known), then as the transaction leaves it. */
  readonly stored: Map<string, Stored>;
  /** The versions to write at the end, by object key. */
  readonly recorded: Map<string, VersionRow>;
  readonly inserts: InsertBatch;
  /** The parents each plan's row references, by object key. */
  readonly parents: ReadonlyMap<Plan, readonly string[]>;
  /** The operations written, for the live feed (when there is one) once committed. */
  readonly changes: Omit<LiveChange, 'appliedAt'>[];
}

/** The versions a batch reads and how, those it needs no read of, and its rows' parents. */
interface Lookup {
  readonly sets: readonly LookupSet[];
  readonly met: readonly (readonly [string, Stored])[];
  readonly parents: ReadonlyMap<Plan, readonly string[]>;
}

export class Applier {
  constructor(private readonly stages: ApplyStages) {}

  /**
   * Applies what it can of a batch in one transaction; returns, for each message, what is
   * missing (nothing once applied). A message that must wait for something found in the
   * transaction (a destroy's dependents, an orphan's newer version) rolls it back: alone, it
   * gets what it waits for as missing; in a batch, the error goes up, and the caller applies
   * the batch message by message.
   */
  async apply(batch: readonly Pending[]): Promise<Requirement[][]> {
    const { database, versions, observer } = this.stages;
    return database
      .transaction(async (trx, last) => {
        await database.beginWriting(trx);
        const { sets, met, parents } = this.lookup(batch);
        const stored = await versions.read(trx, sets);
        for (const [key, version] of met) stored.set(key, version);
        const tx: Transaction = { trx, stored, recorded: new Map(), inserts: this.inserts(trx), parents, changes: [] };
        const results = await this.applyInOrder(tx, batch);
        await tx.inserts.flush();
        await versions.write(trx, [...tx.recorded.values()], last);
        return { results, stored, changes: tx.changes };
      })
      .then(
        ({ results, stored, changes }) => {
          // Committed: what it read and wrote is there for good.
          versions.committed(stored);
          this.announce(changes);
          for (const missing of results) if (missing.length > 0) observer.missed();
          return results;
        },
        (error: unknown) => {
          if (!(error instanceof NotReady && batch.length === 1)) throw error;
          observer.missed();
          return [error.missing];
        },
      );
  }

  /**
   * The versions of the objects the messages write, locked for update in key order, then of
   * those they only depend on. A required object that a written row references is locked for
   * share: transactions that reference the same object do not wait for each other, and a
   * destroy of it waits for them (the subscriber's foreign key would refuse the row
   * otherwise). Any other requirement is read without a lock, since a version stored never
   * goes back, and a row lock costs PostgreSQL a write of the row's page; or not read at all
   * when a version this process saw committed already meets it.
   */
  private lookup(batch: readonly Pending[]): Lookup {
    const written = new Map<string, ObjectRef>();
    /** Each required object, at the highest version a message of the batch requires. */
    const required = new Map<string, Requirement>();
    const parents = new Map<Plan, string[]>();
    for (const { envelope, plans, requirements } of batch) {
      for (const { key, op } of plans) written.set(key, { publisher: envelope.app, endpoint: op.endpoint, id: op.id });
      for (const object of requirements)
        if ((required.get(object.key)?.version ?? -1) < object.version) required.set(object.key, object);
      for (const plan of plans)
        if (plan.subscription) parents.set(plan, parentsOf(plan.subscription, plan.op, envelope));
    }
    for (const key of written.keys()) required.delete(key);
    const referenced = new Set([...parents.values()].flat());
    const shared: ObjectRef[] = [];
    const read: ObjectRef[] = [];
    const met: [string, Stored][] = [];
    for (const [key, object] of required) {
      const known = this.stages.versions.known(key);
      if (referenced.has(key)) shared.push(object);
      else if (known !== undefined && known.version >= object.version) met.push([key, known]);
      else read.push(object);
    }
    const sets: LookupSet[] = [
      [[...written.values()], 'update'],
      [shared, 'share'],
      [read, undefined],
    ];
    return { sets, met, parents };
  }

  /**
   * Applies each message whose requirements are met, in the batch's order; a message that a
   * later one of the batch lets through is applied after it, in another pass (messages are
   * handled concurrently, so one may join the batch before the message it depends on).
   */
  private async applyInOrder(tx: Transaction, batch: readonly Pending[]): Promise<Requirement[][]> {
    const results: Requirement[][] = batch.map(() => []);
    let waiting = batch.map((_, i) => i);
    for (let progress = true; progress && waiting.length > 0;) {
      progress = false;
      const still: number[] = [];
      for (const i of waiting) {
        const message = batch[i] as Pending;
        const missing = message.requirements.filter((r) => (tx.stored.get(r.key)?.version ?? -1) < r.version);
        results[i] = missing;
        if (missing.length > 0) {
          still.push(i);
          continue;
        }
        progress = true;
        await this.applyMessage(tx, message);
      }
      waiting = still;
    }
    return results;
  }

  /** Writes one message whose requirements are all there, with its callbacks. */
  private async applyMessage(tx: Transaction, { envelope, plans, requirements }: Pending): Promise<void> {
    let written = 0;
    for (const plan of plans) {
      const current = tx.stored.get(plan.key)?.version;
      // Already applied, or older than what is stored: a duplicate or a late message.
      if (current !== undefined && current >= plan.op.version) continue;
      const destroyed = await this.writeOperation(tx, plan, envelope, requirements, current);
      const { op, key } = plan;
      tx.stored.set(key, { version: op.version, destroyed });
      written += 1;
      tx.recorded.set(key, {
        publisher: envelope.app,
        endpoint: op.endpoint,
        object_id: op.id,
        version: op.version,
        destroyed,
        updated_at: Date.now(),
      });
      if (this.stages.live) tx.changes.push(liveChange(envelope, op));
      await this.afterWrite(tx, plan, envelope);
    }
    this.stages.observer.committing(tx.trx, envelope.app, written, plans.length - written);
  }

  /**
   * Callbacks, then sinks, run before commit, after their row is written (a callback reads it
   * through the transaction it is given): if one throws, nothing is recorded, what it wrote
   * rolls back, and the message is retried. Sinks come last: what they send cannot be undone.
   */
  private async afterWrite(tx: Transaction, { op, targets }: Plan, envelope: Envelope): Promise<void> {
    const { callbacks, sinks } = this.stages;
    if (targets.some((target) => callbacks.has(target) || sinks.has(target))) await tx.inserts.flush();
    for (const target of targets) await callbacks.run(target, op, envelope, tx.trx);
    for (const target of targets) await sinks.run(target, op, envelope, tx.trx);
  }

  /**
   * Writes an operation's row, if it goes to a subscription (an observer's has none); returns
   * whether its object counts as destroyed. A new object of a table this app alone fills is
   * inserted together with the other new objects; anything else is written in order, after
   * them.
   */
  private async writeOperation(
    tx: Transaction,
    plan: Plan,
    envelope: Envelope,
    requirements: readonly Requirement[],
    current: number | undefined,
  ): Promise<boolean> {
    const { rows } = this.stages;
    const { op, key, subscription } = plan;
    // Its parent is destroyed here. The publisher's own foreign key let it delete the parent
    // only once no row referenced it: this row has a newer version (deleted, or moved to
    // another parent) on its way. Writing this one would break the subscriber's foreign key,
    // and skipping it for good would lose its children if it was moved: the message waits
    // for that newer version (or, after the dependency timeout, for the row's current state
    // from its publisher). Without waiting (recovery, bareback), it is not written and counts
    // as destroyed, and so do its children.
    if ((tx.parents.get(plan) ?? []).some((parent) => tx.stored.get(parent)?.destroyed)) {
      if (requirements === lax) return true;
      throw new NotReady([{ key, publisher: envelope.app, endpoint: op.endpoint, id: op.id, version: op.version + 1 }]);
    }
    const fresh = current === undefined && op.operation !== 'update' && op.attributes !== null;
    if (subscription && fresh && rows.insertable(subscription)) {
      await tx.inserts.add(subscription.table, rows.row(subscription, op), op.operation === 'create');
    } else if (subscription) {
      await tx.inserts.flush();
      if (op.attributes === null && requirements !== lax) {
        const dependents = await rows.dependents(tx.trx, subscription, op);
        if (dependents.length > 0) throw new NotReady(dependents);
      }
      await rows.write(tx.trx, subscription, op, current !== undefined);
    }
    return op.attributes === null;
  }

  /** Hands what a transaction committed to the live feed, without waiting for it. */
  private announce(changes: readonly Omit<LiveChange, 'appliedAt'>[]): void {
    const { live } = this.stages;
    if (!live || changes.length === 0) return;
    const appliedAt = Date.now();
    live.append(changes.map((change) => ({ ...change, appliedAt })));
  }

  private inserts(trx: Knex.Transaction): InsertBatch {
    const { database, rows } = this.stages;
    return new InsertBatch(
      database,
      trx,
      (table, row) => rows.upsert(trx, rows.keyOf(table), row),
      (table) => rows.keyOf(table).key,
    );
  }
}

function liveChange(envelope: Envelope, op: Plan['op']): Omit<LiveChange, 'appliedAt'> {
  const { endpoint, types, id, operation, version, attributes } = op;
  return {
    publisher: envelope.app,
    endpoint,
    types,
    id,
    operation,
    version,
    attributes,
    committedAt: envelope.timestamp,
  };
}
