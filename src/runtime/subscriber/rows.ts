/**
 * The rows an app's subscriptions write: the row of an operation, its insert, update or
 * delete (a shared table's destroy clears only its publisher's columns), the rows that still
 * reference an object about to be deleted, and the parents a row references.
 */
import type { Knex } from 'knex';
import { routingKey, topicMatches } from '../../common/topic.js';
import type { SubscriberSchema, SubscriptionDescriptor } from '../contract.js';
import { unversioned } from '../db/database.js';
import { versionsTable } from '../db/tables.js';
import type { Envelope, OperationMessage } from '../envelope.js';
import type { Logger } from '../../common/logger.js';
import { toColumn } from '../values.js';
import { objectKey, type Requirement } from './types.js';

type Row = Record<string, unknown>;
type TableKey = Pick<SubscriptionDescriptor, 'table' | 'key'>;

export class RowWriter {
  /** Tables that subscriptions of several publishers' roots fill, each its own columns. */
  private readonly sharedTables: ReadonlySet<string>;

  constructor(
    private readonly schema: SubscriberSchema<unknown>,
    private readonly log: Logger,
  ) {
    const roots = new Map<string, Set<string>>();
    for (const s of Object.values(schema.subscriptions)) {
      const set = roots.get(s.table) ?? new Set();
      set.add(this.root(s).name);
      roots.set(s.table, set);
    }
    this.sharedTables = new Set([...roots].filter(([, r]) => r.size > 1).map(([t]) => t));
  }

  /** Whether a new row of the subscription's table can be inserted with others: only one publisher fills it. */
  insertable(subscription: SubscriptionDescriptor): boolean {
    return !this.sharedTables.has(subscription.table);
  }

  /** Writes an operation's row: deletes it (or clears a shared row's columns), or updates or inserts it. */
  async write(
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
      this.log.warn(
        {
          subscription: subscription.name,
          table: subscription.table,
          endpoint: op.endpoint,
          id: op.id,
          version: op.version,
        },
        'update for a row that is not here; creating it',
      );
    }
    await this.upsert(trx, subscription, this.row(subscription, op));
  }

  /**
   * The row an operation writes: each subscribed attribute in its column, the key, the
   * discriminator. An attribute absent from the operation is left out, not written as null:
   * the validator lets only a nullable one be absent (a publisher older than the attribute
   * does not send it), and its column keeps what it holds, or its default on insert.
   */
  row(subscription: SubscriptionDescriptor, op: OperationMessage): Row {
    const attributes = op.attributes ?? {};
    const values: Row = { [subscription.key]: op.id };
    for (const a of subscription.attributes) {
      if (!Object.hasOwn(attributes, a.name)) continue;
      values[a.column] = a.kind ? toColumn(a.kind, attributes[a.name]) : plain(attributes[a.name]);
    }
    if (subscription.discriminator) values[subscription.discriminator.column] = subscription.discriminator.value;
    return values;
  }

  /** Updates the row with the key of `values`, or inserts it when there is none. */
  async upsert(trx: Knex.Transaction, table: TableKey, values: Row): Promise<void> {
    const where = { [table.key]: values[table.key] };
    const updated = Number(await trx(table.table).where(where).update(values));
    if (updated === 0) await trx(table.table).insert(values);
  }

  /** A table and its key column, from any subscription into it. */
  keyOf(table: string): TableKey {
    const found = Object.values(this.schema.subscriptions).find((s) => s.table === table);
    return { table, key: found?.key ?? 'id' };
  }

  /**
   * The rows of this app that still reference an object about to be deleted (through an
   * attribute its publisher declares `belongs_to`): their own change, which removes the
   * reference, comes first. Each is required at a version newer than the one stored.
   */
  async dependents(
    trx: Knex.Transaction,
    subscription: SubscriptionDescriptor,
    op: OperationMessage,
  ): Promise<Requirement[]> {
    if (this.sharedTables.has(subscription.table)) return [];
    const out: Requirement[] = [];
    const seen = new Set<string>();
    for (const child of Object.values(this.schema.subscriptions)) {
      for (const attribute of child.attributes) {
        const where = `${child.table}.${attribute.column}`;
        if (!attribute.references || !op.types.includes(attribute.references) || seen.has(where)) continue;
        seen.add(where);
        const rows = (await trx(child.table).select(child.key).where(attribute.column, op.id).limit(10)) as Row[];
        for (const row of rows) {
          const id = String(row[child.key]);
          const versions = (await trx(versionsTable)
            .select('publisher', 'endpoint', 'version')
            .where('object_id', id)
            .andWhere('version', '>', unversioned)) as {
            publisher: string;
            endpoint: string;
            version: number | string;
          }[];
          const version = versions.find((v) => topicMatches(child.binding, routingKey(v.endpoint, 'update')));
          if (!version) continue;
          const { publisher, endpoint } = version;
          const key = objectKey(publisher, endpoint, id);
          out.push({ key, publisher, endpoint, id, version: Number(version.version) + 1 });
        }
      }
    }
    return out;
  }

  private root(subscription: SubscriptionDescriptor): SubscriptionDescriptor {
    let current = subscription;
    while (current.parent) {
      const parent = this.schema.subscriptions[current.parent];
      if (!parent || parent.table !== current.table) break;
      current = parent;
    }
    return current;
  }
}

/**
 * The objects a row references through attributes its publisher declares `belongs_to`, by
 * object key: the rows its subscriber's foreign keys may point to.
 */
export function parentsOf(subscription: SubscriptionDescriptor, op: OperationMessage, envelope: Envelope): string[] {
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

/** A value of unknown kind: objects and arrays go to the column as JSON text. */
function plain(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
}
