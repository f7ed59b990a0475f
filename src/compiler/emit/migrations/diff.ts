/**
 * The difference between what the migrations made (the snapshot) and what the routes need
 * now, as the changes of the next migration, and the snapshot after it. Changes only add:
 * tables, columns, the foreign keys and indexes of new columns, `_v` on a newly published
 * table; or loosen: NULL allowed where a column may now be left empty, a foreign key dropped
 * where it would refuse the rows now written. What the routes no longer need is kept, and said
 * in a note.
 */
import type {
  ColumnNeed,
  ColumnType,
  ForeignKeyNeed,
  Needs,
  PublishedTableNeed,
  SubscribedTableNeed,
} from './needs.js';
import type {
  Made,
  PublishedVersion,
  Snapshot,
  SnapshotColumn,
  SnapshotForeignKey,
  SnapshotTable,
} from './snapshot.js';

export type Change =
  | { readonly kind: 'outbox' }
  | { readonly kind: 'versions' }
  | { readonly kind: 'refresh' }
  | { readonly kind: 'sinks' }
  /** `_v` on a published table of the app's own. */
  | { readonly kind: 'version'; readonly table: string }
  /** Columns of derived attributes on a published table of the app's own, added nullable. */
  | { readonly kind: 'derived'; readonly table: string; readonly columns: readonly ColumnNeed[] }
  | { readonly kind: 'create'; readonly table: SubscribedTableNeed; readonly foreignKeys: readonly ForeignKeyNeed[] }
  /** A table made before the migrations managed it: created when missing, else given the columns it lacks. */
  | { readonly kind: 'adopt'; readonly table: SubscribedTableNeed }
  | {
      readonly kind: 'columns';
      readonly table: string;
      /** Added nullable: the rows already there have no value for them. */
      readonly columns: readonly ColumnNeed[];
      /** A new key column, unique. */
      readonly key?: string;
      readonly foreignKeys: readonly ForeignKeyNeed[];
    }
  /** Foreign keys between tables that reference each other, added once both exist. */
  | { readonly kind: 'foreignKeys'; readonly table: string; readonly foreignKeys: readonly ForeignKeyNeed[] }
  | { readonly kind: 'nullable'; readonly table: string; readonly columns: readonly SnapshotColumn[] }
  /** Foreign keys that would refuse the rows the subscriber now writes. */
  | { readonly kind: 'dropForeignKeys'; readonly table: string; readonly foreignKeys: readonly SnapshotForeignKey[] }
  | { readonly kind: 'note'; readonly text: string };

export interface Diff {
  readonly changes: readonly Change[];
  readonly snapshot: Snapshot;
}

/**
 * `migration` names the migration the changes would go in; `adopting` says that subscriber
 * tables may exist already though the snapshot does not know them (a folder that began with
 * the single migration of earlier versions, whose users made those tables by hand).
 */
export function diff(previous: Snapshot, needs: Needs, migration: string, adopting: boolean): Diff {
  const changes: Change[] = [];
  const made: Made = { migration };
  const runtime = (
    kind: 'outbox' | 'versions' | 'refresh' | 'sinks',
    needed: boolean,
    table: string,
  ): Made | undefined => {
    const before = previous[kind];
    if (needed && !before) changes.push({ kind });
    else if (!needed && before && !before.unused) {
      changes.push({ kind: 'note', text: `${table} is no longer needed by the routes: it is kept.` });
      return { ...before, unused: true };
    }
    return needed ? (before ? used(before) : made) : before;
  };
  const outbox = runtime('outbox', needs.outbox, 'promiscuous_outbox');
  const versions = runtime('versions', needs.versions, 'promiscuous_versions');
  const refresh = runtime('refresh', needs.refresh, 'promiscuous_refresh');
  const sinks = runtime('sinks', needs.sinks, 'promiscuous_sinks');
  const published = needs.published.map((need) => {
    const before = previous.published.find((p) => p.table === need.name);
    if (!before) changes.push({ kind: 'version', table: need.name });
    return derivedChanges(before ? used(before) : { table: need.name, ...made }, need, migration, changes);
  });
  for (const before of previous.published) {
    if (needs.published.some((p) => p.name === before.table)) continue;
    if (!before.unused) changes.push({ kind: 'note', text: `${before.table} is no longer published: its _v is kept.` });
    published.push({ ...before, unused: true });
  }
  const tables = subscribedChanges(previous, needs, migration, adopting, changes);
  const snapshot: Snapshot = {
    format: 1,
    app: needs.app,
    ...(previous.baseline ? { baseline: previous.baseline } : {}),
    ...(outbox ? { outbox } : {}),
    ...(versions ? { versions } : {}),
    ...(refresh ? { refresh } : {}),
    ...(sinks ? { sinks } : {}),
    published,
    tables,
  };
  return { changes: order(changes), snapshot };
}

/**
 * The derived columns of a published table: those the routes add, added; those they no longer
 * derive, kept (the publisher no longer writes them); a type the routes changed, noted.
 */
function derivedChanges(
  before: PublishedVersion,
  need: PublishedTableNeed,
  migration: string,
  changes: Change[],
): PublishedVersion {
  const previous = before.derived ?? [];
  const columns: SnapshotColumn[] = [];
  const added: ColumnNeed[] = [];
  for (const c of need.derived) {
    const old = previous.find((p) => p.name === c.name);
    if (!old) {
      added.push(c);
      columns.push({ ...c, migration });
      continue;
    }
    const { routes: said, ...made } = used(old);
    const differs = !sameType(c, made);
    if (differs && !sameType(c, said ?? made)) {
      changes.push({
        kind: 'note',
        text: `${need.name}.${c.name} is now ${describe(c)} in the routes, ${describe(made)} in the database: it is not altered.`,
      });
    }
    columns.push(differs ? { ...made, routes: { kind: c.kind, ...precision(c) } } : made);
  }
  for (const old of previous) {
    if (need.derived.some((c) => c.name === old.name)) continue;
    if (!old.unused) changes.push({ kind: 'note', text: `${need.name}.${old.name} is no longer derived: it is kept.` });
    columns.push({ ...old, unused: true });
  }
  if (added.length > 0) changes.push({ kind: 'derived', table: need.name, columns: added });
  const { derived: _, ...rest } = before;
  return columns.length > 0 ? { ...rest, derived: columns } : rest;
}

function used<T extends { readonly unused?: true }>(made: T): T {
  const { unused: _, ...rest } = made;
  return rest as T;
}

function subscribedChanges(
  previous: Snapshot,
  needs: Needs,
  migration: string,
  adopting: boolean,
  changes: Change[],
): SnapshotTable[] {
  const tables: SnapshotTable[] = [];
  // A table made before the migrations managed it (the app's own, or one that may be, before
  // the snapshot) is taken over; whether it holds its keys uniquely is not known, so no foreign
  // key points to it, now or in a later migration.
  const taken = needs.subscribed.filter((need) => {
    const before = previous.tables.find((t) => t.name === need.name);
    return need.managed && !before?.managed && (adopting || before !== undefined);
  });
  const adopted = new Set([
    ...taken.map((need) => need.name),
    ...previous.tables.filter((t) => t.managed && t.adopted).map((t) => t.name),
  ]);
  for (const table of needs.subscribed) {
    const need = { ...table, foreignKeys: table.foreignKeys.filter((fk) => !adopted.has(fk.table)) };
    const before = previous.tables.find((t) => t.name === need.name);
    if (!need.managed) {
      if (before?.managed && !before.unused) {
        changes.push({
          kind: 'note',
          text: `${need.name} is now unmanaged: the migrations leave it as it is from here on.`,
        });
      }
      tables.push({ name: need.name, managed: false });
    } else if (!before?.managed) {
      const adopt = taken.some((t) => t.name === need.name);
      changes.push(adopt ? { kind: 'adopt', table: need } : { kind: 'create', table: need, foreignKeys: [] });
      tables.push(created(need, migration, adopt));
    } else tables.push(alter(before, need, migration, changes));
  }
  for (const before of previous.tables) {
    if (needs.subscribed.some((t) => t.name === before.name) || !before.managed) continue;
    if (!before.unused) changes.push({ kind: 'note', text: `${before.name} is no longer subscribed: it is kept.` });
    tables.push({ ...before, unused: true });
  }
  placeForeignKeys(changes);
  return tables;
}

function created(need: SubscribedTableNeed, migration: string, adopt: boolean): SnapshotTable {
  return {
    name: need.name,
    managed: true,
    migration,
    ...(adopt ? { adopted: true as const } : {}),
    key: need.key,
    surrogate: need.surrogate,
    // A table taken over may have had rows before: what it is given is nullable.
    columns: need.columns.map((c) => ({ ...c, nullable: adopt ? c.name !== need.key : c.nullable, migration })),
    // One it had may hold rows whose parents are not there: it gets no foreign keys.
    foreignKeys: adopt ? [] : need.foreignKeys.map((fk) => ({ ...fk, migration })),
  };
}

/** A managed table that exists: new columns, NULL where it is now allowed, notes for the rest. */
function alter(before: SnapshotTable, need: SubscribedTableNeed, migration: string, changes: Change[]): SnapshotTable {
  if (before.key !== undefined && (before.key !== need.key || Boolean(before.surrogate) !== need.surrogate)) {
    // A primary key cannot be added to: the change would rebuild the table and its rows.
    throw new Error(
      `the key of \`${need.name}\` changes from \`${before.key}\` to \`${need.key}\`, which a generated migration cannot do (it only adds): ` +
        `subscribe into a new table (\`into ${need.name}_v2\`), then drop \`${need.name}\` in a migration of your own`,
    );
  }
  const previous = before.columns ?? [];
  const columns: SnapshotColumn[] = [];
  const added: ColumnNeed[] = [];
  const relaxed: SnapshotColumn[] = [];
  for (const c of need.columns) {
    const old = previous.find((p) => p.name === c.name);
    if (!old) {
      added.push({ ...c, nullable: true });
      columns.push({ ...c, nullable: true, migration });
      continue;
    }
    // The snapshot says what the database holds: a type the routes changed since stays, and
    // the new one is noted once, when it first differs.
    const { routes: said, ...made } = used(old);
    const differs = !sameType(c, made);
    if (differs && !sameType(c, said ?? made)) {
      changes.push({
        kind: 'note',
        text: `${need.name}.${c.name} is now ${describe(c)} in the routes, ${describe(made)} in the database: it is not altered.`,
      });
    }
    const now: SnapshotColumn = differs ? { ...made, routes: { kind: c.kind, ...precision(c) } } : made;
    if (c.nullable && !old.nullable) relaxed.push(old);
    columns.push(c.nullable ? { ...now, nullable: true } : now);
  }
  for (const old of previous) {
    if (need.columns.some((c) => c.name === old.name)) continue;
    // The subscriber no longer writes it: rows it inserts leave it empty.
    if (!old.nullable) relaxed.push(old);
    if (!old.unused)
      changes.push({ kind: 'note', text: `${need.name}.${old.name} is no longer subscribed: it is kept.` });
    columns.push({ ...old, nullable: true, unused: true });
  }
  const foreignKeys = need.foreignKeys.filter((fk) => added.some((c) => c.name === fk.column));
  if (added.length > 0) {
    const key = added.some((c) => c.name === need.key) ? { key: need.key } : {};
    changes.push({ kind: 'columns', table: need.name, columns: added, ...key, foreignKeys });
  }
  if (relaxed.length > 0) changes.push({ kind: 'nullable', table: need.name, columns: relaxed });
  return {
    ...used(before),
    columns,
    foreignKeys: [...keptForeignKeys(before, need, changes), ...foreignKeys.map((fk) => ({ ...fk, migration }))],
  };
}

/**
 * A foreign key whose column the subscriber still writes but whose parent it no longer stores
 * there (that subscription is gone, or elsewhere) would refuse its rows: it is dropped, the
 * column kept. One on a column no longer written stays: the column allows NULL.
 */
function keptForeignKeys(before: SnapshotTable, need: SubscribedTableNeed, changes: Change[]): SnapshotForeignKey[] {
  const kept: SnapshotForeignKey[] = [];
  const dropped: SnapshotForeignKey[] = [];
  for (const fk of before.foreignKeys ?? []) {
    const written = need.columns.some((c) => c.name === fk.column);
    const still = need.foreignKeys.some((n) => n.column === fk.column && n.table === fk.table);
    (written && !still ? dropped : kept).push(fk);
  }
  for (const fk of dropped) {
    changes.push({
      kind: 'note',
      text: `${need.name}.${fk.column} no longer holds ids of rows stored in ${fk.table}: its foreign key is dropped, the column kept.`,
    });
  }
  if (dropped.length > 0) changes.push({ kind: 'dropForeignKeys', table: need.name, foreignKeys: dropped });
  return kept;
}

function precision(c: ColumnNeed): Partial<ColumnNeed> {
  return c.precision === undefined ? {} : { precision: c.precision, scale: c.scale ?? 0 };
}

function sameType(a: ColumnType, b: ColumnType): boolean {
  return a.kind === b.kind && a.precision === b.precision && (a.scale ?? 0) === (b.scale ?? 0);
}

function describe(c: Pick<ColumnNeed, 'kind' | 'precision' | 'scale'>): string {
  return c.precision === undefined ? c.kind : `${c.kind}(${c.precision}, ${c.scale ?? 0})`;
}

/**
 * Tables are created parents first, each with the foreign keys to tables that exist by then
 * (or to itself); a foreign key to a table created after it, in a cycle, is added at the end.
 */
function placeForeignKeys(changes: Change[]): void {
  const creates = changes.filter((c) => c.kind === 'create');
  const pending = new Set(creates.map((c) => c.table.name));
  const done = new Set<string>();
  const sorted: Change[] = [];
  const deferred: Change[] = [];
  const visit = (create: Extract<Change, { kind: 'create' }>, path: Set<string>): void => {
    if (done.has(create.table.name)) return;
    path.add(create.table.name);
    for (const fk of create.table.foreignKeys) {
      const parent = creates.find((c) => c.table.name === fk.table);
      if (parent && !path.has(fk.table)) visit(parent, path);
    }
    path.delete(create.table.name);
    const now = (fk: ForeignKeyNeed) => fk.table === create.table.name || done.has(fk.table) || !pending.has(fk.table);
    const inline = create.table.foreignKeys.filter(now);
    const later = create.table.foreignKeys.filter((fk) => !now(fk));
    done.add(create.table.name);
    sorted.push({ ...create, foreignKeys: inline });
    if (later.length > 0) deferred.push({ kind: 'foreignKeys', table: create.table.name, foreignKeys: later });
  };
  for (const create of creates) visit(create, new Set());
  const rest = changes.filter((c) => c.kind !== 'create');
  changes.splice(0, changes.length, ...sorted, ...rest, ...deferred);
}

const rank: Record<Change['kind'], number> = {
  note: 0,
  outbox: 1,
  versions: 2,
  refresh: 3,
  sinks: 4,
  version: 5,
  derived: 6,
  create: 7,
  adopt: 8,
  columns: 9,
  foreignKeys: 10,
  dropForeignKeys: 11,
  nullable: 12,
};

/** Notes first, then the runtime's tables, `_v` and derived columns, tables, columns; creates keep their parents-first order. */
function order(changes: readonly Change[]): Change[] {
  return changes
    .map((change, index) => ({ change, index }))
    .sort((a, b) => rank[a.change.kind] - rank[b.change.kind] || a.index - b.index)
    .map((x) => x.change);
}
