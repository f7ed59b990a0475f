/**
 * SQLite through better-sqlite3. It has a single writer, which serialises transactions, and
 * no row locks. Statements of the runtime's transactions are prepared once per connection
 * (see sqlite-connection.ts): preparing costs SQLite more than running a one-row write.
 */
import type { Knex } from 'knex';
import type { LookupSet, OutboxWork, StoredVersionRow } from './database.js';
import { PortableDatabase } from './portable.js';
import type { Session } from './session.js';
import { connectionSession } from './session.js';
import { sqliteRaw, withPreparedStatements } from './sqlite-connection.js';
import { outboxTable, versionsTable } from './tables.js';

export class SqliteDatabase extends PortableDatabase {
  override readonly locksRows = false;
  /** One: a second transaction would only wait for the first's write lock. */
  override readonly concurrentTransactions = 1;

  constructor(knex: Knex) {
    super(knex, true);
  }

  /**
   * Starts with `BEGIN IMMEDIATE`: the hooks read before they write, and a deferred
   * transaction that another process's write overtakes between the two fails with "database
   * is locked" at once, whereas an immediate one waits for the lock. Raw statements skip
   * Knex (see {@link sqliteRaw}).
   */
  override outboxTransaction<T>(
    work: (session: Session) => Promise<OutboxWork<T>>,
  ): Promise<{ value: T; outboxId?: number | string }> {
    return withPreparedStatements(this.knex, async (connection) => {
      try {
        connection.prepare('BEGIN IMMEDIATE').run();
        const session: Session = { ...connectionSession(this.knex, connection), raw: sqliteRaw(connection) };
        const { value, outbox } = await work(session);
        let outboxId: number | undefined;
        if (outbox) {
          const { message, created_at, attempts, claimed_by, claimed_until } = outbox;
          const [inserted] = (await session.raw(
            'INSERT INTO ?? (message, created_at, attempts, claimed_by, claimed_until) VALUES (?, ?, ?, ?, ?) RETURNING id',
            [outboxTable, message, created_at, attempts, claimed_by ?? null, claimed_until ?? null],
          )) as { id: number }[];
          outboxId = inserted?.id as number;
        }
        connection.prepare('COMMIT').run();
        return outboxId === undefined ? { value } : { value, outboxId };
      } catch (error) {
        if (connection.inTransaction) connection.exec('ROLLBACK');
        throw error;
      }
    });
  }

  override transaction<T>(fn: (trx: Knex.Transaction, last: () => void) => Promise<T>): Promise<T> {
    return withPreparedStatements(this.knex, (connection) =>
      this.knex.transaction((trx) => fn(trx, () => {}), { connection }),
    );
  }

  /**
   * Takes the write lock first, as BEGIN IMMEDIATE would (Knex cannot say it). A transaction
   * that reads and then writes fails at once with "database is locked" when another process
   * wrote in between; one that writes first waits for the lock.
   */
  override async beginWriting(trx: Knex.Transaction): Promise<void> {
    await trx.raw('UPDATE ?? SET version = version WHERE 0', [versionsTable]);
  }

  /**
   * Every set in one read (no row locks to take): the keys as one JSON parameter, joined to
   * the versions through their primary key. The statement's text is the same whatever the
   * number of keys, and building it costs the same: a backlog's batches of many keys are read
   * at the cost of few.
   */
  override async readVersions(trx: Knex.Transaction, sets: readonly LookupSet[]): Promise<StoredVersionRow[]> {
    const objects = sets.flatMap(([set]) => set);
    if (objects.length === 0) return [];
    const keys = JSON.stringify(objects.map((o) => [o.publisher, o.endpoint, o.id]));
    return (await trx.raw(
      `SELECT v.publisher, v.endpoint, v.object_id, v.version, v.destroyed
       FROM json_each(?) AS k
       JOIN ?? AS v ON v.publisher = k.value ->> 0 AND v.endpoint = k.value ->> 1 AND v.object_id = k.value ->> 2`,
      [keys, versionsTable],
    )) as StoredVersionRow[];
  }
}
