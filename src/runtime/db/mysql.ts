/**
 * MySQL and MariaDB (InnoDB): {@link PortableDatabase}, with version locks that subscriber
 * transactions cannot deadlock over.
 *
 * InnoDB's locking read of a key that no row has locks the gap where the key would go, and gap
 * locks never conflict with each other: two transactions that lock new objects of one gap (as
 * every new object of an initial sync falls at the end of the index) both get it, then each
 * waits for the other to insert its versions there. No order of the keys avoids that, since
 * the locks conflict only at the insert. So a transaction locks the objects it writes by
 * inserting their versions first: a placeholder ({@link unversioned}) for an object that has
 * none yet, which other transactions wait for as for any row, and for one that has a version,
 * an exclusive lock on its row. Every version lock, for update or for share, is taken in one
 * order, the keys'; a transaction deletes the placeholders it did not replace with a version
 * before it commits.
 *
 * Keys are matched as `(publisher, endpoint, object_id) IN (...)`, which MySQL and MariaDB serve
 * from the primary key whatever the size of the table: with one condition per endpoint, they
 * scan a small table instead, and a locking read (or a delete) locks every row it scans.
 */
import type { Knex } from 'knex';
import {
  byKey,
  type LookupSet,
  type ObjectRef,
  type StoredVersionRow,
  unversioned,
  type VersionRow,
} from './database.js';
import { PortableDatabase } from './portable.js';
import { versionsTable } from './tables.js';

/** The most statements that lock a transaction's versions; past them, every one is locked for update in one. */
const maxLockStatements = 4;

export class MysqlDatabase extends PortableDatabase {
  override readonly staleReads = true;
  /** The placeholders a transaction inserted, until it writes its versions. */
  private readonly placeholders = new WeakMap<Knex.Transaction, ObjectRef[]>();

  constructor(knex: Knex) {
    // MySQL and MariaDB return no rows from a write.
    super(knex, false);
  }

  override async readVersions(trx: Knex.Transaction, sets: readonly LookupSet[]): Promise<StoredVersionRow[]> {
    const rows: StoredVersionRow[] = [];
    const written: ObjectRef[] = [];
    for (const [objects, lock] of lockRuns(sets)) {
      if (lock === 'share') {
        rows.push(...(await lookup(trx, objects, 'LOCK IN SHARE MODE')));
        continue;
      }
      await trx.raw(
        `INSERT INTO ?? (publisher, endpoint, object_id, version, destroyed, updated_at)
         VALUES ${objects.map(() => `(?, ?, ?, ${unversioned}, 0, 0)`).join(', ')}
         ON DUPLICATE KEY UPDATE version = version`,
        [versionsTable, ...keyBindings(objects)],
      );
      written.push(...objects);
    }
    if (written.length > 0) {
      const locked = await lookup(trx, written, 'FOR UPDATE');
      const placeholders = locked.filter((r) => Number(r.version) === unversioned);
      this.placeholders.set(
        trx,
        placeholders.map((r) => ({ publisher: r.publisher, endpoint: r.endpoint, id: r.object_id })),
      );
      rows.push(...locked.filter((r) => Number(r.version) !== unversioned));
    }
    const read = sets.flatMap(([objects, lock]) => (lock === undefined ? objects : []));
    if (read.length > 0) rows.push(...(await lookup(trx, read, '')));
    return rows;
  }

  override async writeVersions(
    trx: Knex.Transaction,
    versions: readonly VersionRow[],
    last: () => void,
  ): Promise<void> {
    const written = new Set(versions.map((v) => `${v.publisher} ${v.endpoint} ${v.object_id}`));
    const unwritten = (this.placeholders.get(trx) ?? []).filter(
      (o) => !written.has(`${o.publisher} ${o.endpoint} ${o.id}`),
    );
    this.placeholders.delete(trx);
    if (unwritten.length > 0) {
      await trx.raw(`DELETE FROM ?? WHERE ${withKeys(unwritten)} AND version = ?`, [
        versionsTable,
        ...keyBindings(unwritten),
        unversioned,
      ]);
    }
    await super.writeVersions(trx, versions, last);
  }
}

/**
 * The objects that sets lock, in key order, in runs of one lock: a statement each. Past
 * {@link maxLockStatements} runs (objects written and shared interleaved), every one is locked
 * for update, in one run: stronger locks than asked, still in key order.
 */
function lockRuns(sets: readonly LookupSet[]): [ObjectRef[], 'update' | 'share'][] {
  const locked = sets
    .flatMap(([objects, lock]) => (lock === undefined ? [] : objects.map((o) => [o, lock] as const)))
    .sort(([a], [b]) => byKey(a, b));
  const runs: [ObjectRef[], 'update' | 'share'][] = [];
  for (const [object, lock] of locked) {
    const run = runs.at(-1);
    if (run?.[1] === lock) run[0].push(object);
    else runs.push([[object], lock]);
  }
  return runs.length <= maxLockStatements ? runs : [[locked.map(([o]) => o), 'update']];
}

/** The versions of the objects that have one, read in key order with `lock` (a locking clause, or none). */
async function lookup(trx: Knex.Transaction, objects: readonly ObjectRef[], lock: string): Promise<StoredVersionRow[]> {
  const [rows] = (await trx.raw(
    `SELECT publisher, endpoint, object_id, version, destroyed FROM ??
     WHERE ${withKeys(objects)}
     ORDER BY publisher, endpoint, object_id ${lock}`,
    [versionsTable, ...keyBindings(objects)],
  )) as [StoredVersionRow[]];
  return rows;
}

/** The condition that picks the rows of these keys (one key: MariaDB scans the table to delete `IN` a single row). */
function withKeys(objects: readonly ObjectRef[]): string {
  if (objects.length === 1) return 'publisher = ? AND endpoint = ? AND object_id = ?';
  return `(publisher, endpoint, object_id) IN (${objects.map(() => '(?, ?, ?)').join(', ')})`;
}

function keyBindings(objects: readonly ObjectRef[]): string[] {
  return objects.flatMap((o) => [o.publisher, o.endpoint, o.id]);
}
