/**
 * The messages of a sync (initial sync, re-sync answers): rows' current state as `sync`
 * operations, a batch a message, each with the dependencies on what its own rows reference,
 * and ids no row has as tombstones.
 */
import type { Knex } from 'knex';
import type { ModelDescriptor } from '../contract.js';
import { type Dependency, goneVersion, type OperationMessage } from '../envelope.js';
import { endpointKey, referencedOf, relationDependencies } from './dependencies.js';
import type { Publications } from './publications.js';

/** Operations per message of a sync: large enough to apply fast, small enough to stay a modest message. */
export const syncBatch = 100;

/** One message's operations and dependencies. */
export interface SyncMessage {
  readonly operations: OperationMessage[];
  readonly dependencies: Dependency[];
}

export async function syncMessages(
  knex: Knex,
  publications: Publications,
  models: Readonly<Record<string, ModelDescriptor>>,
  model: ModelDescriptor,
  rows: readonly Record<string, unknown>[],
  gone: readonly string[],
): Promise<SyncMessage[]> {
  const out: SyncMessage[] = [];
  const items = rows.map((row) => ({ model, row }));
  // The rows' references, read once for all the rows: each message takes those of its own.
  const read = await relationDependencies((name) => knex(name), models, items, new Set());
  const references = new Map(read.map((d) => [endpointKey(d.endpoint, d.id), d]));
  for (let i = 0; i < rows.length; i += syncBatch) {
    const operations = rows.slice(i, i + syncBatch).flatMap((row) =>
      publications.of(model, row).map((publication): OperationMessage => ({
        endpoint: publication.endpoint,
        types: publication.types,
        id: String(row[model.primaryKey.column]),
        operation: 'sync',
        version: Number(row._v ?? 0),
        attributes: publications.attributes(publication, row),
      })),
    );
    const skip = new Set(operations.map((op) => endpointKey(op.endpoint, op.id)));
    out.push({ operations, dependencies: referencedOf(references, models, items.slice(i, i + syncBatch), skip) });
  }
  const { endpoint, types } = model;
  for (let i = 0; i < gone.length; i += syncBatch) {
    const operations = gone.slice(i, i + syncBatch).map((id): OperationMessage => ({
      endpoint,
      types,
      id,
      operation: 'sync',
      version: goneVersion,
      attributes: null,
    }));
    out.push({ operations, dependencies: [] });
  }
  return out;
}
