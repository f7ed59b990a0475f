/**
 * The seam between the runtime and the databases it runs on. Everything that differs between
 * PostgreSQL, MySQL/MariaDB and SQLite (how a transaction begins and how its statements
 * travel, whether writes return rows, row locks, how versions are read and written, multi-row
 * inserts) sits behind {@link Database}, one implementation per database; the publisher and
 * the subscriber never ask which database they are on. Only this folder reads Knex's client
 * name: `databaseOf` (index.ts), and `readOnlyConfig` for a config not yet connected.
 */
import type { Knex } from 'knex';
import type { Session } from './session.js';

/** An object as the subscriber knows it: the app that publishes it, its endpoint, its id. */
export interface ObjectRef {
  readonly publisher: string;
  readonly endpoint: string;
  readonly id: string;
}

/** Objects whose versions are read, and how they are locked until commit (undefined: not at all). */
export type LookupSet = readonly [objects: readonly ObjectRef[], lock: 'update' | 'share' | undefined];

/** A row of the versions table as a database returns it (numbers and booleans in its own types). */
export interface StoredVersionRow {
  readonly publisher: string;
  readonly endpoint: string;
  readonly object_id: string;
  readonly version: number | string;
  readonly destroyed: boolean | number;
}

/**
 * The version of a placeholder row: a lock on an object that has no version yet, which
 * readers take for no row (MySQL and MariaDB, see mysql.ts). Real versions are never negative.
 */
export const unversioned = -1;

/** A row of the versions table as the subscriber writes it. */
export interface VersionRow {
  readonly publisher: string;
  readonly endpoint: string;
  readonly object_id: string;
  readonly version: number;
  readonly destroyed: boolean;
  readonly updated_at: number;
}

/** A row of the outbox as the publisher writes it. */
export interface OutboxInsert {
  readonly message: string;
  readonly created_at: number;
  readonly attempts: number;
  readonly claimed_by?: string;
  readonly claimed_until?: number;
}

/** What a publisher transaction returns: its value, and the outbox row to insert before commit, if any. */
export interface OutboxWork<T> {
  readonly value: T;
  readonly outbox?: OutboxInsert | undefined;
}

export interface Database {
  /** Whether `FOR UPDATE` and `FOR SHARE` lock rows; SQLite's single writer serialises transactions instead. */
  readonly locksRows: boolean;
  /** Whether INSERT, UPDATE and DELETE can return the rows they wrote (`RETURNING`). */
  readonly returnsRows: boolean;
  /**
   * Whether a conditional UPDATE that matched no row is worth trying again once the row is
   * locked: another transaction may have committed a change between the two (PostgreSQL).
   * SQLite's transaction holds the write lock from its start.
   */
  readonly recheckUpdates: boolean;
  /**
   * Whether a plain read in a transaction sees the snapshot of the transaction's first read
   * rather than the latest commits (MySQL's REPEATABLE READ): a read that must see the latest
   * is then made a locking one.
   */
  readonly staleReads: boolean;
  /** The operator that says two values differ, NULL being a value like any other. */
  readonly distinctFrom: string;
  /** What makes a JSON column comparable with {@link distinctFrom} (PostgreSQL's json type has no equality). */
  readonly comparableJson: string;
  /** How many subscriber transactions are worth running at once when a backlog waits. */
  readonly concurrentTransactions: number;

  /**
   * A publisher transaction: `work` writes through the session and says which outbox row to
   * insert; the row is inserted in the same transaction, which then commits. Resolves with
   * `work`'s value and the outbox row's id. Rolls back if anything throws.
   */
  outboxTransaction<T>(
    work: (session: Session) => Promise<OutboxWork<T>>,
  ): Promise<{ value: T; outboxId?: number | string }>;

  /**
   * A subscriber transaction through Knex. `fn` calls `last()` right before its last
   * statement, which may then carry the COMMIT (PostgreSQL).
   */
  transaction<T>(fn: (trx: Knex.Transaction, last: () => void) => Promise<T>): Promise<T>;

  /**
   * Called first in a subscriber transaction that reads before it writes: takes the write lock
   * where a transaction that read and was overtaken by another's write would fail at once.
   */
  beginWriting(trx: Knex.Transaction): Promise<void>;

  /** The stored versions of the objects of every set, each set locked as it says until commit. */
  readVersions(trx: Knex.Transaction, sets: readonly LookupSet[]): Promise<StoredVersionRow[]>;

  /**
   * Inserts or replaces versions; `last()` is called before the transaction's last statement.
   * A transaction that read versions for update calls it before it commits, with no version if
   * it wrote none: MySQL's implementation removes its placeholders there.
   */
  writeVersions(trx: Knex.Transaction, versions: readonly VersionRow[], last: () => void): Promise<void>;

  /**
   * Inserts rows of a table that may exist already (a row put in by hand before an initial
   * sync); returns those it could not insert, for the caller to write one by one. `key` is
   * the table's key column.
   */
  insertNew(
    trx: Knex.Transaction,
    table: string,
    rows: readonly Record<string, unknown>[],
    key: string,
  ): Promise<Record<string, unknown>[]>;
}

/** Rows per INSERT, and ids per IN list: within every database's limits (SQLite's compound SELECT: 500 terms). */
export const insertChunk = 200;

/** The order in which every transaction locks versions (the primary key's): two never wait for each other over one set. */
export function byKey(a: ObjectRef, b: ObjectRef): number {
  return compare(a.publisher, b.publisher) || compare(a.endpoint, b.endpoint) || compare(a.id, b.id);
}

function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
