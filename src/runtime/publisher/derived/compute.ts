/**
 * Computes derived attributes of subjects from the database, as the transaction sees it: the
 * columns read through their relations (for copies and virtual functions, one query with a
 * join per relation) or an aggregate over children (one grouped query).
 */
import type { AttributeDescriptor, Derivation, ModelDescriptor, RelatedColumns } from '../../contract.js';
import type { Session } from '../../db/session.js';
import type { Dependency } from '../../envelope.js';
import { PublisherError } from '../../../common/errors.js';

/** Subject keys per query: within every database's limit on parameters. */
export const readChunk = 1_000;

/** A function computing a derived virtual attribute from the row's own columns and its related rows. */
export type DerivedFunction = (
  row: Readonly<Record<string, unknown>>,
  related: Readonly<Record<string, unknown>>,
) => unknown;

/** A subject's computed value, the value stored now, and the related rows read for it. */
export interface Computed {
  readonly key: unknown;
  readonly value: unknown;
  readonly stored: unknown;
  readonly read: readonly Dependency[];
}

export interface ComputeContext {
  readonly session: Session;
  readonly models: Readonly<Record<string, ModelDescriptor>>;
  /** The app's function for a derived virtual attribute of a model. */
  readonly virtual: (model: ModelDescriptor, attribute: string) => DerivedFunction;
  /** `Database.locksRows` and `Database.staleReads`. */
  readonly locksRows: boolean;
  readonly staleReads: boolean;
  /**
   * A refresh outside the writing transactions (the refresher's) gives way: it fails at once
   * on a subject a writer holds, and reads without locks, since a writer's change after its
   * reads marks the subject again.
   */
  readonly givesWay?: boolean | undefined;
}

/** The values of a derived attribute for the subjects with these keys (those still there). */
export async function computeDerived(
  context: ComputeContext,
  model: ModelDescriptor,
  attribute: AttributeDescriptor,
  keys: readonly unknown[],
): Promise<Computed[]> {
  const derivation = attribute.derived as Derivation;
  const out: Computed[] = [];
  for (let i = 0; i < keys.length; i += readChunk) {
    const chunk = keys.slice(i, i + readChunk);
    const locked = await lockSubjects(context, model, attribute, chunk);
    const computed =
      derivation.kind === 'aggregate'
        ? await aggregate(context, model, attribute, derivation, chunk)
        : await throughRelations(context, model, attribute, derivation, chunk);
    for (const c of computed) {
      const key = String(c.key);
      out.push(locked?.has(key) ? { ...c, stored: locked.get(key) } : c);
    }
  }
  return out;
}

/**
 * Locks the subjects' rows, in key order, before their values are read: a transaction that
 * moves a subject to another related row meanwhile commits first, and the read that follows
 * sees it (a locking read where plain reads see an older snapshot).
 */
async function lockSubjects(
  context: ComputeContext,
  model: ModelDescriptor,
  attribute: AttributeDescriptor,
  keys: readonly unknown[],
): Promise<Map<string, unknown> | undefined> {
  if (!context.locksRows) return undefined;
  const key = model.primaryKey.column;
  const query = context.session
    .table(model.table)
    .select({ k: key, s: attribute.column as string })
    .whereIn(key, keys as string[])
    .orderBy(key)
    .forUpdate();
  // A locking read sees the latest commit, where a plain one may see an older snapshot (MySQL).
  const rows = (await (context.givesWay ? query.noWait() : query)) as { k: unknown; s: unknown }[];
  return new Map(rows.map((row) => [String(row.k), row.s]));
}

type Aggregate = Extract<Derivation, { kind: 'aggregate' }>;

async function aggregate(
  context: ComputeContext,
  model: ModelDescriptor,
  attribute: AttributeDescriptor,
  derivation: Aggregate,
  keys: readonly unknown[],
): Promise<Computed[]> {
  const { session } = context;
  const key = model.primaryKey.column;
  const stored = (await session
    .table(model.table)
    .select({ k: key, s: attribute.column as string })
    .whereIn(key, keys as string[])) as { k: unknown; s: unknown }[];
  const query = session
    .table(derivation.table)
    .select({ k: derivation.via })
    .whereIn(derivation.via, keys as string[]);
  const column = derivation.column ?? '*';
  if (derivation.function === 'count') query.count({ v: '*' });
  else query[derivation.function]({ v: column });
  if (context.staleReads && !context.givesWay) query.forShare();
  const found = (await query.groupBy(derivation.via)) as { k: unknown; v: unknown }[];
  const values = new Map(found.map((row) => [String(row.k), row.v]));
  const empty = derivation.function === 'count' || derivation.function === 'sum' ? 0 : null;
  return stored.map((row) => ({ key: row.k, stored: row.s, value: values.get(String(row.k)) ?? empty, read: [] }));
}

/** A join of the subject's table with the tables its relations lead to, each under an alias. */
interface Joined {
  readonly alias: string;
  readonly model: ModelDescriptor;
  readonly columns: Map<string, string>;
}

async function throughRelations(
  context: ComputeContext,
  model: ModelDescriptor,
  attribute: AttributeDescriptor,
  derivation: Exclude<Derivation, Aggregate>,
  keys: readonly unknown[],
): Promise<Computed[]> {
  const reads: readonly RelatedColumns[] =
    derivation.kind === 'copy' ? [{ path: derivation.path, columns: [derivation.column] }] : derivation.reads;
  const read = async () => {
    const { query, joins } = joinQuery(context, model, attribute, reads);
    if (context.staleReads && !context.givesWay) query.forShare();
    const found = (await query.whereIn(`t0.${model.primaryKey.column}`, keys as string[])) as Record<string, unknown>[];
    return { joins, rows: found };
  };
  let { joins, rows } = await read();
  // Where reads see each statement's latest commits (PostgreSQL), a related row another
  // transaction is changing is locked for share, and read again once it committed: else a
  // subject written here would keep the value from before that change, which reaches only
  // the subjects committed when it looked.
  if (context.locksRows && !context.staleReads && !context.givesWay && (await shareRelated(context, joins, rows))) {
    ({ joins, rows } = await read());
  }
  const fn = derivation.kind === 'virtual' ? context.virtual(model, attribute.name) : undefined;
  return rows.map((row) => {
    const values = readValues(joins, row);
    const value = fn
      ? fn(values.get('') ?? {}, nest(joins, values))
      : (values.get(pathName(derivation.kind === 'copy' ? derivation.path : []))?.[reads[0]?.columns[0] ?? ''] ?? null);
    return { key: row.k, stored: row.s, value, read: hopsRead(joins, row) };
  });
}

/** Locks the related rows the subjects read for share, each table's in key order; whether there were any. */
async function shareRelated(
  context: ComputeContext,
  joins: ReadonlyMap<string, Joined>,
  rows: readonly Record<string, unknown>[],
): Promise<boolean> {
  let locked = false;
  for (const [name, { alias, model }] of joins) {
    if (name === '') continue;
    const keys = [...new Set(rows.map((row) => row[`${alias}_k`]).filter((k) => k !== null && k !== undefined))];
    if (keys.length === 0) continue;
    const key = model.primaryKey.column;
    await context.session
      .table(model.table)
      .select(key)
      .whereIn(key, keys as string[])
      .orderBy(key)
      .forShare();
    locked = true;
  }
  return locked;
}

function pathName(path: readonly { readonly name: string }[]): string {
  return path.map((step) => step.name).join('.');
}

/** The query reading the subject's key and stored value, and the columns at the end of every path. */
function joinQuery(
  { session, models }: ComputeContext,
  model: ModelDescriptor,
  attribute: AttributeDescriptor,
  reads: readonly RelatedColumns[],
): { query: ReturnType<Session['table']>; joins: Map<string, Joined> } {
  const query = session.table(`${model.table} as t0`);
  const joins = new Map<string, Joined>([['', { alias: 't0', model, columns: new Map() }]]);
  const select: Record<string, string> = { k: `t0.${model.primaryKey.column}`, s: `t0.${attribute.column as string}` };
  for (const { path, columns } of reads) {
    let from = joins.get('') as Joined;
    for (let i = 0; i < path.length; i += 1) {
      const step = path[i] as RelatedColumns['path'][number];
      const name = pathName(path.slice(0, i + 1));
      let joined = joins.get(name);
      if (!joined) {
        const target = models[step.model];
        if (!target)
          throw new PublisherError(`a derived attribute of ${model.name} reads ${step.model}, which is not published`);
        joined = { alias: `t${joins.size}`, model: target, columns: new Map() };
        joins.set(name, joined);
        query.leftJoin(
          `${step.table} as ${joined.alias}`,
          `${from.alias}.${step.column}`,
          `${joined.alias}.${step.key}`,
        );
        select[`${joined.alias}_k`] = `${joined.alias}.${step.key}`;
        select[`${joined.alias}_v`] = `${joined.alias}._v`;
      }
      from = joined;
    }
    for (const column of columns) {
      const alias = `${from.alias}_c${from.columns.size}`;
      if ([...from.columns.values()].includes(column)) continue;
      from.columns.set(alias, column);
      select[alias] = `${from.alias}.${column}`;
    }
  }
  return { query: query.select(select), joins };
}

/** The columns read at the end of each path, by path name; a path whose row is missing has none. */
function readValues(
  joins: ReadonlyMap<string, Joined>,
  row: Record<string, unknown>,
): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const [name, joined] of joins) {
    if (name !== '' && (row[`${joined.alias}_k`] === null || row[`${joined.alias}_k`] === undefined)) continue;
    const values: Record<string, unknown> = {};
    for (const [alias, column] of joined.columns) values[column] = row[alias];
    out.set(name, values);
  }
  return out;
}

/** The related rows nested by relation name (`customer.region.name`), null where a relation is null. */
function nest(
  joins: ReadonlyMap<string, Joined>,
  values: ReadonlyMap<string, Record<string, unknown>>,
): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const names = [...joins.keys()]
    .filter((name) => name !== '')
    .sort((a, b) => a.split('.').length - b.split('.').length);
  for (const name of names) {
    const parts = name.split('.');
    const last = parts.pop() as string;
    let parent: Record<string, unknown> | null = root;
    for (const part of parts) parent = (parent?.[part] as Record<string, unknown> | null | undefined) ?? null;
    if (parent) parent[last] = values.has(name) ? { ...values.get(name) } : null;
  }
  return root;
}

/** The related rows a subject's value was read from, as dependencies at the versions read. */
function hopsRead(joins: ReadonlyMap<string, Joined>, row: Record<string, unknown>): Dependency[] {
  const out: Dependency[] = [];
  for (const [name, { alias, model }] of joins) {
    const key = row[`${alias}_k`];
    if (name === '' || key === null || key === undefined) continue;
    out.push({
      endpoint: model.endpoint,
      id: String(key),
      version: Number(row[`${alias}_v`] ?? 0),
      types: model.types,
    });
  }
  return out;
}
