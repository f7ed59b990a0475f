/**
 * PostgreSQL's planner statistics: on a server whose autovacuum is off, the benchmark applies
 * autovacuum's analyze rule itself, as a server with the default configuration would.
 */
import { admin, connect, type DbRef, now, sleep } from '../lib/index.js';
import { settings } from './settings.js';

export interface AutovacuumSettings {
  readonly on: boolean;
  readonly naptimeMs: number;
  readonly threshold: number;
  readonly scaleFactor: number;
}

export async function autovacuumSettings(): Promise<AutovacuumSettings> {
  let out: AutovacuumSettings = { on: true, naptimeMs: 60_000, threshold: 50, scaleFactor: 0.1 };
  await admin(async (k) => {
    const { rows } = (await k.raw(
      `SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum', 'autovacuum_naptime', 'autovacuum_analyze_threshold', 'autovacuum_analyze_scale_factor')`,
    )) as { rows: { name: string; setting: string }[] };
    const get = (name: string): string | undefined => rows.find((r) => r.name === name)?.setting;
    out = {
      on: get('autovacuum') !== 'off',
      naptimeMs: Number(get('autovacuum_naptime') ?? 60) * 1000,
      threshold: Number(get('autovacuum_analyze_threshold') ?? 50),
      scaleFactor: Number(get('autovacuum_analyze_scale_factor') ?? 0.1),
    };
  });
  return out;
}

/**
 * What autovacuum would do for the tables of a schema, for a server where it is off: every
 * `autovacuum_naptime`, ANALYZE each table changed by more than `autovacuum_analyze_threshold +
 * autovacuum_analyze_scale_factor * reltuples` rows since its last analyze. Without it, the
 * planner never learns that the subscriber's tables grew from empty, and picks plans that read
 * every row. Returns a function that stops it and gives the number of ANALYZE it ran.
 */
export function autoAnalyze(ref: DbRef, av: AutovacuumSettings): () => Promise<number> {
  if (ref.dialect !== 'postgres' || av.on || settings.autoAnalyze === 'off') return async () => 0;
  let stopped = false;
  let analyzed = 0;
  const db = connect(ref, { poolMax: 1 });
  const loop = (async () => {
    while (!stopped) {
      const until = now() + av.naptimeMs;
      while (!stopped && now() < until) await sleep(250);
      if (stopped) break;
      const { rows } = (await db.raw(
        `SELECT s.relname, s.n_mod_since_analyze AS changed, greatest(c.reltuples, 0) AS tuples
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = ?`,
        [ref.schema ?? 'public'],
      )) as { rows: { relname: string; changed: string; tuples: number }[] };
      for (const r of rows) {
        if (Number(r.changed) > av.threshold + av.scaleFactor * Number(r.tuples)) {
          await db.raw('ANALYZE ??', [r.relname]);
          analyzed += 1;
        }
      }
    }
  })();
  let stopping: Promise<number> | undefined;
  return () =>
    (stopping ??= (async () => {
      stopped = true;
      await loop.catch(() => {});
      await db.destroy();
      return analyzed;
    })());
}
