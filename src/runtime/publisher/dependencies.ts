import type { Knex } from 'knex';
import type { ModelDescriptor } from '../contract.js';
import type { Dependency, OperationMessage } from '../envelope.js';

/** A row written or read as some model: where its relations are found. */
export interface RowOf {
  readonly model: ModelDescriptor;
  readonly row: Readonly<Record<string, unknown>>;
}

/** Referenced ids one query reads at most. */
const readChunk = 5_000;

/** An object's key among the objects of every endpoint. */
export function endpointKey(endpoint: string, id: string): string {
  return `${endpoint}:${id}`;
}

/**
 * The rows that `rows` reference through `belongs_to` relations, at their current version: a
 * subscriber applies the referencing operation only after them. One query per referenced
 * model and {@link readChunk} ids, whatever the number of rows. Rows in `skip` (written by
 * the same message, or already recorded as dependencies) are not read.
 */
export async function relationDependencies(
  table: (name: string) => Knex.QueryBuilder,
  models: Readonly<Record<string, ModelDescriptor>>,
  rows: readonly RowOf[],
  skip: ReadonlySet<string>,
): Promise<Dependency[]> {
  const out: Dependency[] = [];
  for (const [target, ids] of references(models, rows, skip)) {
    const key = target.primaryKey.column;
    const values = [...ids.values()] as readonly string[];
    // In slices, so that a large page of rows stays within every database's limit on parameters.
    for (let i = 0; i < values.length; i += readChunk) {
      const found = (await table(target.table)
        .select(key, '_v')
        .whereIn(key, values.slice(i, i + readChunk))) as Record<string, unknown>[];
      for (const row of found) {
        out.push({
          endpoint: target.endpoint,
          id: String(row[key]),
          version: Number(row._v ?? 0),
          types: target.types,
        });
      }
    }
  }
  return out;
}

/** Of dependencies read once for many rows (by {@link endpointKey}), those `rows` reference, but for `skip`. */
export function referencedOf(
  byKey: ReadonlyMap<string, Dependency>,
  models: Readonly<Record<string, ModelDescriptor>>,
  rows: readonly RowOf[],
  skip: ReadonlySet<string>,
): Dependency[] {
  const out: Dependency[] = [];
  for (const [target, ids] of references(models, rows, skip)) {
    for (const id of ids.keys()) {
      const dependency = byKey.get(endpointKey(target.endpoint, id));
      if (dependency) out.push(dependency);
    }
  }
  return out;
}

/** The objects that rows reference, by model: each id as a string, with its value as the row holds it. */
function references(
  models: Readonly<Record<string, ModelDescriptor>>,
  rows: readonly RowOf[],
  skip: ReadonlySet<string>,
): Map<ModelDescriptor, Map<string, unknown>> {
  const wanted = new Map<ModelDescriptor, Map<string, unknown>>();
  for (const { model, row } of rows) {
    for (const attribute of model.attributes) {
      const target = attribute.belongsTo === undefined ? undefined : models[attribute.belongsTo];
      const value = attribute.column === undefined ? undefined : row[attribute.column];
      if (!target || value === null || value === undefined) continue;
      if (skip.has(endpointKey(target.endpoint, String(value)))) continue;
      const ids = wanted.get(target) ?? new Map<string, unknown>();
      ids.set(String(value), value);
      wanted.set(target, ids);
    }
  }
  return wanted;
}

/**
 * One dependency per object, at the highest version asked, leaving out the objects the
 * message writes itself (it applies them in order).
 */
export function mergeDependencies(
  dependencies: readonly Dependency[],
  operations: readonly OperationMessage[],
): Dependency[] {
  const written = new Set(operations.map((op) => endpointKey(op.endpoint, op.id)));
  const merged = new Map<string, Dependency>();
  for (const dependency of dependencies) {
    const key = endpointKey(dependency.endpoint, dependency.id);
    if (written.has(key)) continue;
    const seen = merged.get(key);
    if (!seen || seen.version < dependency.version) merged.set(key, dependency);
  }
  return [...merged.values()];
}

/** The dependencies a context's next message has on the operations of its previous one. */
export function dependenciesOn(operations: readonly OperationMessage[]): Dependency[] {
  return operations.map(({ endpoint, id, version, types }) => ({ endpoint, id, version, types }));
}
