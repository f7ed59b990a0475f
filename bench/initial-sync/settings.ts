/** The initial-sync benchmark's settings (flags or environment, as bench/initial-sync.ts lists them), goal and roles. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DbRef, numberOption, option, pairs, Processes } from '../lib/index.js';

const rows = Math.max(1, Math.round(numberOption('rows', 'BENCH_SYNC_ROWS', 1_000_000)));

export const settings = {
  rows,
  orgs: Math.max(1, Math.round(numberOption('orgs', 'BENCH_SYNC_ORGS', 1_000))),
  pairs: pairs(option('pairs', 'BENCH_SYNC_PAIRS', 'postgres>postgres')),
  liveRate: numberOption('live-rate', 'BENCH_SYNC_LIVE_RATE', 50),
  pageSize: Math.max(1, Math.round(numberOption('page-size', 'BENCH_SYNC_PAGE_SIZE', 1_000))),
  timeoutSeconds: numberOption('timeout', 'BENCH_SYNC_TIMEOUT', 300 + rows / 1000),
  /** `auto`: when the server's autovacuum is off, apply its analyze rule ourselves (see `autoAnalyze`); `off`: never. */
  autoAnalyze: option('autoanalyze', 'BENCH_SYNC_AUTOANALYZE', 'auto') === 'off' ? ('off' as const) : ('auto' as const),
  profile: option('profile', 'BENCH_PROFILE', '') ? resolve(option('profile', 'BENCH_PROFILE', '')) : undefined,
};

export const goal = 10_000;
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
