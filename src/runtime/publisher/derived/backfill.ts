/**
 * Where refreshes outside the writing transactions get their subjects: the due marks of
 * coalescing models, and every row of a model for a backfill.
 */
import type { Knex } from 'knex';
import type { Id } from '../../contract.js';
import type { Session } from '../../db/session.js';
import type { Recorder } from '../recorder.js';
import { refreshTable } from './refresh.js';
import { refreshBatch } from './refresher.js';

/**
 * Takes up to {@link refreshBatch} due marks and marks their rows for refresh in the
 * recorder's transaction, and removes those marks at its end. A mark a writer marked again
 * meanwhile (its version moved) stays, due one window later: a subject written without pause
 * is published once a window. Resolves to how many it took. Marks are read without a lock, so
 * that a writer never waits for a refresher.
 */
export async function takeDue(
  session: Session,
  recorder: Recorder,
  windows: Readonly<Record<string, number>>,
  models: ReadonlySet<string>,
): Promise<{ taken: number; settle: () => Promise<void> }> {
  const due = (await session
    .table(refreshTable)
    .select('model', 'id', 'version')
    .where('due_at', '<=', Date.now())
    .orderBy('due_at')
    .limit(refreshBatch)) as { model: string; id: string; version: number | string }[];
  const groups = new Map<string, { model: string; version: number; ids: string[] }>();
  for (const { model, id, version } of due) {
    const group = groups.get(`${model} ${version}`) ?? { model, version: Number(version), ids: [] };
    group.ids.push(id);
    groups.set(`${model} ${version}`, group);
  }
  // A mark of a model these routes no longer coalesce (a rollback, a rolling deploy) is dropped.
  for (const { model, ids } of groups.values()) if (models.has(model)) recorder.markModel(model, ids);
  const settle = async (): Promise<void> => {
    const now = Date.now();
    for (const { model, version, ids } of groups.values()) {
      if (!models.has(model)) {
        await session.table(refreshTable).where({ model }).whereIn('id', ids).delete();
        continue;
      }
      await session.table(refreshTable).where({ model, version }).whereIn('id', ids).delete();
      const later = now + (windows[model] ?? 0);
      await session.table(refreshTable).where('model', model).whereIn('id', ids).update({ due_at: later });
    }
  };
  return { taken: due.length, settle };
}

/** The keys of a table's rows in pages of {@link refreshBatch}, in key order: all, or those given. */
export async function* keyPages(
  knex: Knex,
  table: string,
  key: string,
  which: readonly Id[] | undefined,
): AsyncGenerator<unknown[]> {
  if (which) {
    for (let i = 0; i < which.length; i += refreshBatch) yield which.slice(i, i + refreshBatch);
    return;
  }
  let after: unknown;
  for (;;) {
    const query = knex(table).select(key).orderBy(key).limit(refreshBatch);
    if (after !== undefined) query.where(key, '>', after as string);
    const keys = ((await query) as Record<string, unknown>[]).map((row) => row[key]);
    if (keys.length === 0) return;
    yield keys;
    after = keys.at(-1);
  }
}
