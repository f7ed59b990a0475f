/**
 * What an app's database needs, read from the routes alone: the runtime's tables, a `_v` on
 * each published table, and every subscriber table with its key, columns and foreign keys. The
 * snapshot records what the migrations made of it; the `tables` export describes it.
 */
import type { App, FieldType, ScalarName, Subscription } from '../../ir/ir.js';

/** A column kind as the routes name it; arrays and embedded documents are `json`. */
export type ColumnKind = ScalarName | 'enum';

export interface ColumnType {
  readonly kind: ColumnKind;
  readonly precision?: number;
  readonly scale?: number;
}

export interface ColumnNeed extends ColumnType {
  readonly name: string;
  readonly nullable: boolean;
}

/** A column of a subscriber table holding the id of an object stored in another (or the same) table. */
export interface ForeignKeyNeed {
  readonly column: string;
  readonly table: string;
  readonly references: string;
}

export interface SubscribedTableNeed {
  readonly name: string;
  readonly managed: boolean;
  /** The column holding the publisher's id. */
  readonly key: string;
  /** A surrogate `id` is the primary key and the key column is unique: a key other than `id`. */
  readonly surrogate: boolean;
  /** The key first, then the discriminator, then the attributes' columns. */
  readonly columns: readonly ColumnNeed[];
  readonly foreignKeys: readonly ForeignKeyNeed[];
}

export interface PublishedTableNeed {
  readonly name: string;
  /** The publisher's non-virtual columns, but derived ones: the app's own. */
  readonly columns: readonly ColumnNeed[];
  /** The columns of derived attributes, which the migrations add (nullable: rows are there before them). */
  readonly derived: readonly ColumnNeed[];
}

export interface Needs {
  readonly app: string;
  /** The app publishes rows: its writes go through the outbox. */
  readonly outbox: boolean;
  /** The app subscribes or observes: it records the versions it applied. */
  readonly versions: boolean;
  /** A model coalesces the refreshes of its derived attributes: they wait in the refresh table. */
  readonly refresh: boolean;
  /** The app subscribes or observes: its sinks record what they sent (whether it configures any is known only at run time). */
  readonly sinks: boolean;
  readonly published: readonly PublishedTableNeed[];
  readonly subscribed: readonly SubscribedTableNeed[];
}

export function databaseNeeds(app: App): Needs {
  return {
    app: app.name,
    outbox: app.publications.length > 0,
    versions: app.subscriptions.length + app.observers.length > 0,
    refresh: app.publications.some((p) => p.coalesce !== undefined),
    sinks: app.subscriptions.length + app.observers.length > 0,
    published: publishedTables(app),
    subscribed: subscribedTables(app),
  };
}

export function columnKind(type: FieldType): ColumnKind {
  if (type.kind === 'scalar') return type.name;
  return type.kind === 'enum' ? 'enum' : 'json';
}

function columnType(type: FieldType | undefined): ColumnType {
  if (!type) return { kind: 'text' };
  if (type.kind === 'scalar' && type.precision !== undefined) {
    return { kind: type.name, precision: type.precision, scale: type.scale ?? 0 };
  }
  return { kind: columnKind(type) };
}

/** Tables in the order the routes first name them; within one, columns likewise. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

function publishedTables(app: App): PublishedTableNeed[] {
  return [...groupBy(app.publications, (p) => p.table)].map(([name, publications]) => {
    const columns = new Map<string, ColumnNeed>();
    const derived = new Map<string, ColumnNeed>();
    const add = (column: ColumnNeed) => {
      const known = columns.get(column.name);
      columns.set(column.name, known ? { ...known, nullable: known.nullable || column.nullable } : column);
    };
    const discriminators = publications.filter((p) => p.discriminator);
    for (const p of publications) {
      for (const field of p.fields) {
        if (field.column === undefined || field.virtual) continue;
        if (field.derived) {
          derived.set(field.column, { name: field.column, ...columnType(field.type), nullable: true });
          continue;
        }
        // A column that some publication of the table does not write may be left empty by it.
        const everywhere = publications.every((q) => q.fields.some((f) => f.column === field.column));
        add({ name: field.column, ...columnType(field.type), nullable: field.nullable || !everywhere });
      }
      if (p.discriminator) {
        const nullable = discriminators.length < publications.length;
        add({ name: p.discriminator.column, kind: 'string', nullable });
      }
    }
    return { name, columns: [...columns.values()].filter((c) => !derived.has(c.name)), derived: [...derived.values()] };
  });
}

function subscribedTables(app: App): SubscribedTableNeed[] {
  const tables = groupBy(app.subscriptions, (s) => s.table);
  return [...tables].map(([name, feeds]) => {
    const first = feeds[0] as Subscription;
    const roots = new Set(feeds.map((s) => root(app, s)));
    // Rows of a table fed by several publishers hold only the columns of those that sent them.
    const shared = roots.size > 1;
    const columns: ColumnNeed[] = [
      { name: first.key.column, ...keyType(feeds), nullable: false },
      ...discriminator(feeds, shared),
      ...attributeColumns(feeds, shared),
    ];
    return {
      name,
      managed: first.managed,
      key: first.key.column,
      surrogate: !columns.some((c) => c.name === 'id'),
      columns,
      foreignKeys: foreignKeys(app, feeds, tables),
    };
  });
}

/** The publisher's key type; `string` when no publisher is known (P412 says so). */
function keyType(feeds: readonly Subscription[]): ColumnType {
  const type = feeds.find((s) => s.key.type)?.key.type;
  return type ? columnType(type) : { kind: 'string' };
}

function discriminator(feeds: readonly Subscription[], shared: boolean): ColumnNeed[] {
  const first = feeds.find((s) => s.discriminator);
  if (!first?.discriminator) return [];
  const everywhere = feeds.every((s) => s.discriminator);
  return [{ name: first.discriminator.column, kind: 'string', nullable: shared || !everywhere }];
}

/**
 * A column is NOT NULL only when every message that lands in the table carries it non-null:
 * every subscription into the table writes it, with a type known to be non-null.
 */
function attributeColumns(feeds: readonly Subscription[], shared: boolean): ColumnNeed[] {
  const columns = new Map<string, ColumnNeed>();
  for (const s of feeds) {
    for (const a of s.attributes) {
      const everywhere = feeds.every((f) => f.attributes.some((b) => b.column === a.column));
      const nullable = shared || !everywhere || a.type === undefined || a.nullable !== false;
      const known = columns.get(a.column);
      if (known) columns.set(a.column, { ...known, nullable: known.nullable || nullable });
      else columns.set(a.column, { name: a.column, ...columnType(a.type), nullable });
    }
  }
  return [...columns.values()];
}

/**
 * An attribute that holds the id of a type this app stores in one managed table: a foreign key
 * to that table's key column, so that the schema shows the order the subscriber keeps.
 */
function foreignKeys(
  app: App,
  feeds: readonly Subscription[],
  tables: ReadonlyMap<string, readonly Subscription[]>,
): ForeignKeyNeed[] {
  if (!feeds[0]?.managed) return [];
  const out = new Map<string, ForeignKeyNeed>();
  for (const a of feeds.flatMap((s) => s.attributes)) {
    if (a.references === undefined || out.has(a.column)) continue;
    const landing = new Set(
      app.resolutions
        .filter((r) => r.type === a.references)
        .map((r) => app.subscriptions.find((s) => s.name === r.subscription)?.table),
    );
    const [target] = landing;
    const targetFeeds = target === undefined ? undefined : tables.get(target);
    if (landing.size !== 1 || !targetFeeds?.[0]?.managed) continue;
    out.set(a.column, { column: a.column, table: target as string, references: targetFeeds[0].key.column });
  }
  return [...out.values()];
}

/** The subscription whose table this is: a subtype stored with its parent shares its root. */
function root(app: App, subscription: Subscription): string {
  let current = subscription;
  while (current.parent !== undefined) {
    const parent = app.subscriptions.find((s) => s.name === current.parent);
    if (!parent || parent.table !== current.table) break;
    current = parent;
  }
  return current.name;
}
