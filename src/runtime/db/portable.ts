/**
 * Any database Knex drives: every statement through Knex's query builder, in Knex's own
 * transactions. The implementations for SQLite and for MySQL and MariaDB build on this one.
 */
import type { Knex } from 'knex';
import {
  type Database,
  insertChunk,
  type LookupSet,
  type ObjectRef,
  type OutboxWork,
  type StoredVersionRow,
  type VersionRow,
} from './database.js';
import { asDeadlock } from './deadlock.js';
import type { Session } from './session.js';
import { outboxTable, versionsTable } from './tables.js';

export class PortableDatabase implements Database {
  readonly locksRows: boolean = true;
  readonly recheckUpdates: boolean = false;
  readonly staleReads: boolean = false;
  readonly distinctFrom: string = 'IS NOT';
  readonly comparableJson: string = '';
  readonly concurrentTransactions: number = 4;

  constructor(
    readonly knex: Knex,
    /** MySQL and MariaDB return no rows from a write: the publisher reads them back. */
    readonly returnsRows: boolean,
  ) {}

  async outboxTransaction<T>(
    work: (session: Session) => Promise<OutboxWork<T>>,
  ): Promise<{ value: T; outboxId?: number | string }> {
    return this.knex.transaction(async (trx) => {
      const session: Session = {
        table: (name) => trx(name),
        raw: async (sql, bindings) => trx.raw(sql, bindings as Knex.RawBinding[]),
      };
      const { value, outbox } = await work(session);
      if (!outbox) return { value };
      if (!this.returnsRows)
        return { value, outboxId: ((await trx(outboxTable).insert(outbox)) as number[])[0] as number };
      const [inserted] = (await trx(outboxTable).insert(outbox).returning('id')) as { id: number | string }[];
      return { value, outboxId: inserted?.id as number | string };
    });
  }

  transaction<T>(fn: (trx: Knex.Transaction, last: () => void) => Promise<T>): Promise<T> {
    return this.knex
      .transaction((trx) => fn(trx, () => {}))
      .catch((error: unknown) => {
        throw asDeadlock(error);
      });
  }

  async beginWriting(_trx: Knex.Transaction): Promise<void> {}

  async readVersions(trx: Knex.Transaction, sets: readonly LookupSet[]): Promise<StoredVersionRow[]> {
    const rows: StoredVersionRow[] = [];
    for (const [objects, lock] of sets)
      if (objects.length > 0) rows.push(...((await versionsByEndpoint(trx, objects, lock)) as StoredVersionRow[]));
    return rows;
  }

  async writeVersions(trx: Knex.Transaction, versions: readonly VersionRow[], last: () => void): Promise<void> {
    for (let i = 0; i < versions.length; i += insertChunk) {
      if (i + insertChunk >= versions.length) last();
      await trx(versionsTable)
        .insert(versions.slice(i, i + insertChunk))
        .onConflict(['publisher', 'endpoint', 'object_id'])
        .merge(['version', 'destroyed', 'updated_at']);
    }
  }

  /** In a savepoint: if the insert fails (a row conflicts), none is inserted, and every one is returned. */
  async insertNew(
    trx: Knex.Transaction,
    table: string,
    rows: readonly Record<string, unknown>[],
  ): Promise<Record<string, unknown>[]> {
    const inserted = await trx
      .transaction((savepoint) => savepoint(table).insert(rows))
      .then(() => true)
      .catch(() => false);
    return inserted ? [] : [...rows];
  }
}

/** One condition per endpoint, `object_id IN (...)`, which the primary key serves; in key order, as every transaction locks. */
function versionsByEndpoint(
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
