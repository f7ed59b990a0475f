/** The initial-sync benchmark's settings (flags or environment, as bench/initial-sync.ts lists them), goal and roles. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DbRef, type Dialect, numberOption, option, pairs, Processes } from '../lib/index.js';

const rows = Math.max(1, Math.round(numberOption('rows', 'BENCH_SYNC_ROWS', 1_000_000)));
export const defaultPairs = 'postgres>postgres,postgres>mariadb';
export const defaultMariadbRows = 50_000;

export const settings = {
  rows,
  /** Users loaded for a pair whose subscriber is MariaDB (at most `rows`): it applies a few thousand a second. */
  mariadbRows: Math.min(
    rows,
    Math.max(1, Math.round(numberOption('mariadb-rows', 'BENCH_SYNC_MARIADB_ROWS', defaultMariadbRows))),
  ),
  orgs: Math.max(1, Math.round(numberOption('orgs', 'BENCH_SYNC_ORGS', 1_000))),
  pairs: syncPairs(option('pairs', 'BENCH_SYNC_PAIRS', defaultPairs)),
  liveRate: numberOption('live-rate', 'BENCH_SYNC_LIVE_RATE', 50),
  pageSize: Math.max(1, Math.round(numberOption('page-size', 'BENCH_SYNC_PAGE_SIZE', 1_000))),
  timeoutSeconds: numberOption('timeout', 'BENCH_SYNC_TIMEOUT', 300 + rows / 1000),
  /** `auto`: when the server's autovacuum is off, apply its analyze rule ourselves (see `autoAnalyze`); `off`: never. */
  autoAnalyze: option('autoanalyze', 'BENCH_SYNC_AUTOANALYZE', 'auto') === 'off' ? ('off' as const) : ('auto' as const),
  profile: option('profile', 'BENCH_PROFILE', '') ? resolve(option('profile', 'BENCH_PROFILE', '')) : undefined,
};

export const goal = 10_000;

/** The users loaded for a pair. */
export const rowsFor = (to: Dialect): number => (to === 'mariadb' ? settings.mariadbRows : settings.rows);

/** The publisher's tables are bulk-loaded by PostgreSQL or SQLite; any of the three subscribes. */
function syncPairs(raw: string): (readonly [Dialect, Dialect])[] {
  const parsed = pairs(raw, ['sqlite', 'postgres', 'mariadb']);
  const from = parsed.find(([publisher]) => publisher === 'mariadb');
  if (from)
    throw new Error(
      `\`${from.join('>')}\`: the publisher is postgres or sqlite (mariadb subscribes: postgres>mariadb)`,
    );
  return parsed;
}
/** Loaded users have ids `b0000000-0000-4000-8000-<12 hex digits of their number>`: recognisable, and in key order. */
export const bulkPrefix = 'b0000000-0000-4000-8000-';
export const bulkId = (i: number): string => `${bulkPrefix}${i.toString(16).padStart(12, '0')}`;

/** The sync process: `initialSync` as `promiscuous publish` runs it. */
export interface SyncInit {
  readonly role: 'sync';
  readonly db: DbRef;
  readonly namespace: string;
}

/** The live writers: a publisher app going on with its work. */
export interface LiveInit {
  readonly role: 'live';
  readonly db: DbRef;
  readonly namespace: string;
  readonly rows: number;
  readonly orgs: number;
}

export interface SubscriberInit {
  readonly role: 'subscriber';
  readonly db: DbRef;
  readonly namespace: string;
  readonly rows: number;
  readonly orgs: number;
}

/** The benchmark's child processes, forked from bench/initial-sync.ts, their CPU profiles in `profileDir`. */
export const processes = (profileDir: string | undefined): Processes =>
  new Processes(fileURLToPath(new URL('../initial-sync.ts', import.meta.url)), { profileDir });
