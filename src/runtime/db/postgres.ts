/**
 * PostgreSQL through node-postgres. Transactions run on a connection of Knex's pool through
 * {@link PgTransaction}, whose BEGIN travels with the first statement and COMMIT with the
 * last; versions are read and written with array parameters, one statement whatever their
 * number.
 */
import type { Knex } from 'knex';
import { PublisherError } from '../../common/errors.js';
import {
  byKey,
  type Database,
  type LookupSet,
  type OutboxWork,
  type StoredVersionRow,
  type VersionRow,
} from './database.js';
import { asDeadlock } from './deadlock.js';
import { literal, type PgConnection, PgTransaction } from './pg-transaction.js';
import { connectionSession, type Session } from './session.js';
import { outboxTable, versionsTable } from './tables.js';

export class PostgresDatabase implements Database {
  readonly locksRows = true;
  readonly returnsRows = true;
  readonly recheckUpdates = true;
  readonly staleReads = false;
  readonly distinctFrom = 'IS DISTINCT FROM';
  readonly comparableJson = '::jsonb';
  readonly concurrentTransactions = 4;

  constructor(readonly knex: Knex) {}

  /**
   * The outbox row goes with COMMIT, written in as literals: a transaction of one write takes
   * two round trips, where a Knex transaction without the outbox takes three.
   */
  outboxTransaction<T>(
    work: (session: Session) => Promise<OutboxWork<T>>,
  ): Promise<{ value: T; outboxId?: number | string }> {
    return this.onConnection(async (connection, transaction) => {
      const { value, outbox } = await work(connectionSession(this.knex, connection));
      if (!outbox) {
        await transaction.commit();
        return { value };
      }
      const { message, created_at, attempts, claimed_by, claimed_until } = outbox;
      const values = [message, created_at, attempts, claimed_by, claimed_until].map((v) => literal(v, connection));
      // The message is ASCII JSON, the rest numbers and this host's name: literals, always.
      if (values.includes(undefined)) throw new PublisherError(`the outbox row cannot be written as literals`);
      const [inserted] = await transaction.commit(
        `INSERT INTO ${outboxTable} (message, created_at, attempts, claimed_by, claimed_until) VALUES (${values.join(', ')}) RETURNING id`,
      );
      return { value, outboxId: inserted?.rows[0]?.id as string };
    });
  }

  /**
   * Knex drives the transaction on the connection: its BEGIN goes with the first statement,
   * and its COMMIT with the one announced by `last`. The one-message transaction takes three
   * round trips, not five.
   */
  transaction<T>(fn: (trx: Knex.Transaction, last: () => void) => Promise<T>): Promise<T> {
    return this.onConnection((connection, transaction) =>
      this.knex.transaction((trx) => fn(trx, () => transaction.last()), { connection }),
    ).catch((error: unknown) => {
      throw asDeadlock(error);
    });
  }

  async beginWriting(): Promise<void> {}

  /**
   * The keys as three array parameters, each looked up in the primary key by a LATERAL
   * subquery of its own, which is also where it is locked, in the keys' order (sorted here).
   * A join of the keys to the versions lets the planner, told of many keys, hash them against
   * a scan of the whole table, which grows with it (a new subscriber's initial sync). Every
   * set in one statement, their queries joined by UNION ALL, which PostgreSQL runs for less
   * than queries of a WITH.
   */
  async readVersions(trx: Knex.Transaction, sets: readonly LookupSet[]): Promise<StoredVersionRow[]> {
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
    const { rows } = (await trx.raw(sql, bindings)) as { rows: StoredVersionRow[] };
    return rows;
  }

  /**
   * One array parameter per column: one statement whatever the number of versions, and its
   * text always the same (Knex compiles a multi-row INSERT value by value, and the server
   * parses every one of them).
   */
  async writeVersions(trx: Knex.Transaction, versions: readonly VersionRow[], last: () => void): Promise<void> {
    if (versions.length === 0) return;
    last();
    const columns = ['publisher', 'endpoint', 'object_id', 'version', 'destroyed', 'updated_at'] as const;
    await trx.raw(
      `INSERT INTO ?? (publisher, endpoint, object_id, version, destroyed, updated_at)
       SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::boolean[], ?::bigint[])
       ON CONFLICT (publisher, endpoint, object_id)
       DO UPDATE SET version = excluded.version, destroyed = excluded.destroyed, updated_at = excluded.updated_at`,
      [versionsTable, ...columns.map((name) => versions.map((v) => v[name]) as Knex.Value)],
    );
  }

  /** The rows that exist already (any unique key conflicting) are skipped and returned: no savepoint, no subtransaction. */
  async insertNew(
    trx: Knex.Transaction,
    table: string,
    rows: readonly Record<string, unknown>[],
    key: string,
  ): Promise<Record<string, unknown>[]> {
    const inserted = (await trx(table)
      .insert([...rows])
      .onConflict()
      .ignore()
      .returning(key)) as Record<string, unknown>[];
    const added = new Set(inserted.map((row) => String(row[key])));
    return rows.filter((row) => !added.has(String(row[key])));
  }

  /** Runs `fn` in a {@link PgTransaction} on a pooled connection, which goes back to the pool outside any transaction. */
  private async onConnection<T>(fn: (connection: PgConnection, transaction: PgTransaction) => Promise<T>): Promise<T> {
    const connection = (await this.knex.client.acquireConnection()) as PgConnection;
    const transaction = new PgTransaction(connection);
    try {
      return await fn(connection, transaction);
    } finally {
      // Rolls back whatever did not commit.
      await transaction.close();
      await this.knex.client.releaseConnection(connection);
    }
  }
}
