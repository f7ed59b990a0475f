/**
 * The outbox's rows as the publisher writes them, and its backlog, which the relay reports in
 * its metrics and the status reads: apart from the relay, so that reading it needs none of the
 * relay's metrics.
 */
import type { Knex } from 'knex';
import { outboxTable } from '../db/tables.js';

/** How many rows the outbox holds, and the commit time (ms since the epoch) of the oldest. */
export async function outboxBacklog(knex: Knex): Promise<{ rows: number; oldest: number | null }> {
  const row = (await knex(outboxTable).count({ rows: '*' }).min({ oldest: 'created_at' }).first()) as
    { rows: number | string; oldest: number | string | null } | undefined;
  return {
    rows: Number(row?.rows ?? 0),
    oldest: row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest),
  };
}

/**
 * JSON with every character beyond ASCII escaped (`\u00e9`): the same JSON, which a
 * PostgreSQL literal carries whatever the connection's client encoding.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
