/** The replication benchmark's settings (from the environment, as bench/replication.ts lists them) and goals. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { app as crowdtapApp } from '../../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';
import { generateKeyPair, type SignatureOptions } from '../../src/runtime/index.js';
import {
  connect,
  type DbRef,
  type Dialect,
  dialect,
  list,
  namespace,
  num,
  pairs,
  Processes,
  QueryStats,
  serviceOrMariadb,
  shape,
  type TempDb,
  tempDb,
} from '../lib/index.js';

const dialects: readonly Dialect[] = ['sqlite', 'postgres', 'mariadb'];

export const settings = {
  dialects: list(process.env.BENCH_DIALECTS || 'sqlite,postgres').map((d) => dialect(d, dialects)),
  pairs: pairs(process.env.BENCH_PAIRS || 'sqlite>sqlite,postgres>postgres', dialects),
  writers: Math.max(1, Math.round(num('BENCH_WRITERS', 4))),
  rounds: Math.max(1, Math.round(num('BENCH_ROUNDS', 5))),
  overheadSeconds: num('BENCH_OVERHEAD_SECONDS', 1.5),
  e2eSeconds: num('BENCH_SECONDS', 6),
  e2eRounds: Math.max(1, Math.round(num('BENCH_E2E_ROUNDS', 2))),
  latencySeconds: num('BENCH_LATENCY_SECONDS', 6),
  warmupSeconds: num('BENCH_WARMUP_SECONDS', 1),
  updateShare: Math.min(1, num('BENCH_UPDATE_SHARE', 0.5)),
  frameSize: Number(process.env.BENCH_FRAME_SIZE ?? 50),
  latencyRate: process.env.BENCH_LATENCY_RATE ? Number(process.env.BENCH_LATENCY_RATE) : undefined,
  prefetch: process.env.BENCH_PREFETCH ? Math.max(1, Number(process.env.BENCH_PREFETCH)) : undefined,
  sqliteJournal: process.env.BENCH_SQLITE_JOURNAL === 'delete' ? ('delete' as const) : ('wal' as const),
  breakdown: process.env.BENCH_BREAKDOWN === '1',
  decompose: process.env.BENCH_DECOMPOSE === '1',
  quietWait: num('BENCH_QUIET_WAIT', 0),
  profile: process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : undefined,
  signatures: process.env.BENCH_SIGNATURES !== '0',
};

/** The Subscriber's default prefetch, which the naive consumer gets too when none is set. */
export const defaultPrefetch = 5;

export const goals = { overhead: 0.8, versusNaive: 1.0, versusCommits: 0.9, p50: 10, p99: 50, signed: 0.9 };

/** A connection to a database, SQLite in the journal mode the settings ask for. */
export const connectTo = (ref: DbRef): Knex => connect(ref, { sqliteJournal: settings.sqliteJournal });

/** A fresh database of one side of the users example, SQLite in the journal mode the settings ask for. */
export const freshDb = (kind: Dialect, side: 'publisher' | 'subscriber'): Promise<TempDb> =>
  tempDb(kind, side, { sqliteJournal: settings.sqliteJournal });

export interface InitArgs {
  readonly role:
    'overhead' | 'promiscuous-publisher' | 'promiscuous-subscriber' | 'naive-publisher' | 'naive-subscriber';
  readonly db: DbRef;
  readonly namespace: string;
  readonly updateShare: number;
  readonly prefetch?: number;
  /** Figure 1: which side this process writes. */
  readonly variant?: Variant;
  /** Figure 1's `statements` side: what the hooks issued for a template create and update. */
  readonly statements?: Record<'create' | 'update', readonly Statement[]>;
  /** Signing on: the publisher's private key (PEM), or the public key its subscriber trusts and requires. */
  readonly signing?: { readonly key?: string; readonly trust?: string };
}

/**
 * Figure 1's sides: bare Knex, the hooks with the relay, the same with signing on; with
 * BENCH_DECOMPOSE=1 also the hooks' statements replayed as raw SQL on plain Knex, and the hooks
 * with the relay off.
 */
export type Variant = 'bare' | 'publisher' | 'signed' | 'statements' | 'relay-off';

/** The key pair of the runs with signing on, made once per run. */
let keyPair: { privatePem: string; publicText: string } | undefined;

/** What a publisher signs with (`key`) or a subscriber trusts and requires (`trust`), when signing is on. */
export function signing(side: 'key' | 'trust'): NonNullable<InitArgs['signing']> {
  keyPair ??= generateKeyPair();
  return side === 'key' ? { key: keyPair.privatePem } : { trust: keyPair.publicText };
}

/** A publisher's and a subscriber's `signatures` option from their init arguments: signing, or trusting and requiring. */
export function signatureOptions(init: InitArgs): { signatures?: SignatureOptions } {
  const s = init.signing;
  if (s?.key) return { signatures: { key: s.key } };
  if (s?.trust) return { signatures: { trust: { [crowdtapApp]: [s.trust] }, require: true } };
  return {};
}

/** A statement as Knex reports it: SQL with `?` placeholders, and its bindings. */
export interface Statement {
  readonly sql: string;
  readonly bindings: readonly unknown[];
}

/** The template write's id and new name: the values a replay replaces. */
export const template = { id: '00000000-0000-4000-8000-000000000001', name: 'Template name' };

/** A statement's shape, as `shape` gives it but without ` on conflict` (as this benchmark always reported it). */
const statementShape = (sql: string): string => shape(sql).replace(/ on conflict$/, '');

/** The statements a process runs on `db`, counted by shape. */
export function statementsOf(db: Knex): QueryStats {
  const stats = new QueryStats(statementShape);
  stats.attach(db);
  return stats;
}

/**
 * The benchmark's child processes, forked from bench/replication.ts: CPU profiles named by this
 * process's id; one that hangs on closing is killed after 15 s.
 */
export const processes = (): Processes =>
  new Processes(fileURLToPath(new URL('../replication.ts', import.meta.url)), {
    profileDir: settings.profile,
    profileName: (label) => `${label}.${process.pid}.cpuprofile`,
    killAfterMs: 15_000,
    service: serviceOrMariadb,
  });

/** The naive pipeline's exchange and queue in a namespace. */
export const naiveNames = (ns: string): { readonly exchange: string; readonly queue: string } => ({
  exchange: `${ns}.naive`,
  queue: `${ns}.naive.members`,
});

/** A random AMQP namespace, its subscriber's queues and the naive pipeline's removed at the end. */
export const replicationNamespace = (): string =>
  namespace([sniper.app], (ns) => ({ queues: [naiveNames(ns).queue], exchanges: [naiveNames(ns).exchange] }));
