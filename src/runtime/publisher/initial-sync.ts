import type { Knex } from 'knex';
import type { ModelDescriptor } from '../contract.js';
import { PublisherError } from '../../common/errors.js';
import type { Publisher } from './publisher.js';

export const syncProgressTable = 'promiscuous_sync_progress';

export interface InitialSyncOptions {
  /** The model to publish, by name. */
  readonly type: string;
  /** An SQL condition on the model's table (`org_id = 7`), trusted: it comes from the operator. */
  readonly where?: string;
  /** Only to this subscriber app's queue (default: every subscriber of the model). */
  readonly to?: string;
  /** Rows per page (default 1,000); each page is published in messages of 100 rows. */
  readonly pageSize?: number;
  /** This process's share: rows whose integer key modulo `count` is `index`. */
  readonly shard?: { readonly index: number; readonly count: number };
  /** Start again from the first row instead of resuming where the last run stopped. */
  readonly restart?: boolean;
  /** Called after each page with the rows published so far and the total to publish. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Stops after the current page when aborted; the next run resumes there. */
  readonly signal?: AbortSignal;
}

export interface InitialSyncResult {
  readonly job: string;
  /** Rows published by this run. */
  readonly published: number;
  /** Rows published by every run of this job, this one included. */
  readonly total: number;
  readonly finished: boolean;
}

/**
 * Publishes the current state of a model's existing rows, for a subscriber that was not there
 * when they were written: in key order, one page at a time, as `sync` operations. After each
 * page the job's cursor is saved in the publisher's database, so that a run that crashed or
 * was stopped resumes after the last page the broker confirmed. Shards split a job across
 * processes; overlap is harmless, because a subscriber applies a sync only when it is newer
 * than what it holds, and live writes meanwhile keep their order.
 */
export async function initialSync(
  publisher: Publisher<unknown, unknown>,
  knex: Knex,
  options: InitialSyncOptions,
): Promise<InitialSyncResult> {
  const model = publisher.model(options.type);
  checkShard(model, options.shard);
  const key = model.primaryKey.column;
  const job = jobName(options);
  await ensureProgressTable(knex);
  if (options.restart) await knex(syncProgressTable).where({ job }).delete();
  const saved = (await knex(syncProgressTable).where({ job }).first()) as
    { cursor: string | null; rows: number | string; finished: boolean | number } | undefined;
  let cursor = saved?.cursor ?? null;
  let done = Number(saved?.rows ?? 0);
  if (saved && Boolean(saved.finished)) return { job, published: 0, total: done, finished: true };

  const selection = (): Knex.QueryBuilder => {
    const query = knex(model.table);
    if (options.where) query.whereRaw(options.where);
    if (model.discriminator && model.types.length > 1)
      query.where(model.discriminator.column, model.discriminator.value);
    if (options.shard && options.shard.count > 1) {
      query.whereRaw('?? % ? = ?', [key, options.shard.count, options.shard.index]);
    }
    return query;
  };
  const remaining = selection();
  if (cursor !== null) remaining.where(key, '>', cursor);
  const [{ n } = { n: 0 }] = (await remaining.count({ n: '*' })) as { n: number | string }[];
  const total = done + Number(n);
  options.onProgress?.(done, total);

  let published = 0;
  const pageSize = options.pageSize ?? 1_000;
  for (;;) {
    if (options.signal?.aborted) return { job, published, total: done, finished: false };
    const page = selection().orderBy(key).limit(pageSize);
    if (cursor !== null) page.where(key, '>', cursor);
    const rows = (await page) as Record<string, unknown>[];
    if (rows.length === 0) break;
    await publisher.syncRows(model, rows, [], options.to);
    cursor = String(rows.at(-1)?.[key]);
    done += rows.length;
    published += rows.length;
    await saveProgress(knex, job, cursor, done, false);
    options.onProgress?.(done, total);
  }
  await saveProgress(knex, job, cursor, done, true);
  return { job, published, total: done, finished: true };
}

/** A job is its selection and shard: running the same command again resumes it. */
export function jobName(options: Pick<InitialSyncOptions, 'type' | 'where' | 'to' | 'shard'>): string {
  const parts = [options.type, options.where ? `where ${options.where}` : '', options.to ? `to ${options.to}` : ''];
  if (options.shard && options.shard.count > 1) parts.push(`shard ${options.shard.index}/${options.shard.count}`);
  return parts.filter(Boolean).join(' ').slice(0, 250);
}

async function ensureProgressTable(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable(syncProgressTable)) return;
  await knex.schema
    .createTable(syncProgressTable, (table) => {
      table.string('job', 255).primary();
      table.string('cursor', 255).nullable();
      table.bigInteger('rows').notNullable();
      table.boolean('finished').notNullable();
      table.bigInteger('updated_at').notNullable();
    })
    .catch(async (error: unknown) => {
      // Another process of the same job created it first.
      if (!(await knex.schema.hasTable(syncProgressTable))) throw error;
    });
}

async function saveProgress(knex: Knex, job: string, cursor: string | null, rows: number, finished: boolean) {
  await knex(syncProgressTable)
    .insert({ job, cursor, rows, finished, updated_at: Date.now() })
    .onConflict('job')
    .merge(['cursor', 'rows', 'finished', 'updated_at']);
}

/** Checks a shard option: the key must be an integer for rows to be split by it. */
export function checkShard(model: ModelDescriptor, shard: InitialSyncOptions['shard']): void {
  if (!shard || shard.count <= 1) return;
  const key = model.attributes.find((a) => a.name === model.primaryKey.attribute);
  if (key?.kind !== 'integer' && key?.kind !== 'bigint') {
    throw new PublisherError(
      `${model.name} cannot be split into shards: its key ${model.primaryKey.attribute} is not an integer; run one process`,
    );
  }
}
