/** The causal benchmark's settings (flags or environment, as bench/causal.ts lists them), goal and workload's shape. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SubscriberMode } from '../../src/runtime/index.js';
import { type DbRef, numberOption, option, pairs, Processes } from '../lib/index.js';

export const settings = {
  pairs: pairs(option('pairs', 'BENCH_PAIRS', 'sqlite>sqlite,postgres>postgres')),
  writers: Math.max(1, Math.round(numberOption('writers', 'BENCH_WRITERS', 4))),
  rounds: Math.max(1, Math.round(numberOption('rounds', 'BENCH_ROUNDS', 6))),
  seconds: numberOption('seconds', 'BENCH_SECONDS', 3),
  quietWait: numberOption('quiet-wait', 'BENCH_QUIET_WAIT', 15),
  warmupSeconds: numberOption('warmup', 'BENCH_WARMUP_SECONDS', 1),
  drainRounds: Math.round(numberOption('drain-rounds', 'BENCH_DRAIN_ROUNDS', 4)),
  drainRequests: Math.max(1, Math.round(numberOption('drain-requests', 'BENCH_DRAIN_REQUESTS', 1000))),
  prefetch: option('prefetch', 'BENCH_PREFETCH', '')
    ? Math.max(1, Number(option('prefetch', 'BENCH_PREFETCH', '')))
    : undefined,
  profile: process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : undefined,
};

export const goal = 0.9;
export const orgsPerWriter = 10;
export const usersPerWriter = 20;
/** Every this many requests, the writer renames one of its organizations. */
export const orgRenameEvery = 8;

export type Mode = Extract<SubscriberMode, 'causal' | 'bareback'>;
export const modes: readonly Mode[] = ['causal', 'bareback'];
export const modeName = (m: Mode): string => (m === 'causal' ? 'causal' : 'bareback');

export interface PublisherInit {
  readonly role: 'publisher';
  readonly db: DbRef;
  readonly namespace: string;
  readonly writers: number;
}

export interface SubscriberInit {
  readonly role: 'subscriber';
  readonly db: DbRef;
  readonly namespace: string;
  readonly prefetch?: number;
}

/** The benchmark's child processes, forked from bench/causal.ts. */
export const processes = (): Processes =>
  new Processes(fileURLToPath(new URL('../causal.ts', import.meta.url)), { profileDir: settings.profile });
