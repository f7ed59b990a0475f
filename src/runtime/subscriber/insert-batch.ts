/**
 * New rows written together: consecutive rows of one table (a sync page, a bulk create) go
 * as one multi-row INSERT; a row of another table first writes what came before, so that
 * rows are written in the order of their operations (parents before children). Creates are
 * new for sure. Syncs may find a row that is there without a version (put in by hand before
 * the initial sync): the database inserts what it can (see `Database.insertNew`), and the
 * rest is written one by one, updating what is there. Rows of one INSERT have the same
 * columns: a row without an attribute (sent by a publisher older than it) starts another, so
 * that its column gets its default rather than the NULL a multi-row INSERT would fill in on
 * some databases.
 */
import type { Knex } from 'knex';
import { type Database, insertChunk } from '../db/database.js';

type Row = Record<string, unknown>;

export class InsertBatch {
  private pending: { table: string; columns: string; rows: Row[]; certain: boolean } | undefined;

  constructor(
    private readonly database: Database,
    private readonly trx: Knex.Transaction,
    /** Writes a row that may exist already, updating it. */
    private readonly upsert: (table: string, row: Row) => Promise<void>,
    /** A table's key column, by which rows that existed already are told apart. */
    private readonly key: (table: string) => string,
  ) {}

  /** Adds a new row; `certain` when it cannot exist already (a create). */
  async add(table: string, row: Row, certain: boolean): Promise<void> {
    const columns = Object.keys(row).join(' ');
    if (this.pending && (this.pending.table !== table || this.pending.columns !== columns)) await this.flush();
    this.pending ??= { table, columns, rows: [], certain: true };
    this.pending.rows.push(row);
    this.pending.certain &&= certain;
  }

  /** Writes the rows added so far. */
  async flush(): Promise<void> {
    if (!this.pending) return;
    const { table, rows, certain } = this.pending;
    this.pending = undefined;
    for (let i = 0; i < rows.length; i += insertChunk) {
      const chunk = rows.slice(i, i + insertChunk);
      if (certain) {
        await this.trx(table).insert(chunk);
        continue;
      }
      const existing = await this.database.insertNew(this.trx, table, chunk, this.key(table));
      for (const row of existing) await this.upsert(table, row);
    }
  }
}
