/** What a benchmark reads from its command line and environment, and where the services are. */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function num(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

/** `--name value` or `--name=value` from the command line, else the environment variable, else the default. */
export function option(flag: string, env: string, fallback: string): string {
  const args = process.argv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === `--${flag}` && args[i + 1] !== undefined) return args[i + 1] as string;
    if (a.startsWith(`--${flag}=`)) return a.slice(flag.length + 3);
  }
  return process.env[env] || fallback;
}

export function numberOption(flag: string, env: string, fallback: number): number {
  const value = Number(option(flag, env, String(fallback)).replace(/_/g, ''));
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

export type Dialect = 'sqlite' | 'postgres' | 'mariadb';

/** The databases the causal and sync benchmarks run on; the replication benchmark adds MariaDB. */
const twoDialects: readonly Dialect[] = ['sqlite', 'postgres'];

export function dialect(name: string, allowed: readonly Dialect[] = twoDialects): Dialect {
  if (!allowed.includes(name as Dialect)) throw new Error(`unknown database \`${name}\` (${allowed.join(', ')})`);
  return name as Dialect;
}

/** A comma-separated list; `none` is the empty list. */
export function list(raw: string): string[] {
  if (raw === 'none') return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `publisher>subscriber` database pairs (`postgres` alone: the same on both sides). */
export function pairs(raw: string, allowed: readonly Dialect[] = twoDialects): (readonly [Dialect, Dialect])[] {
  return list(raw).map((p) => {
    const [from = '', to = from] = p.split(/>|:/);
    return [dialect(from, allowed), dialect(to, allowed)] as const;
  });
}

export const services = {
  amqpUrl: process.env.PROMISCUOUS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  pg: {
    host: process.env.PGHOST ?? '127.0.0.1',
    user: process.env.PGUSER ?? 'postgres',
    database: process.env.PGDATABASE ?? 'test',
    ...(process.env.PGPASSWORD ? { password: process.env.PGPASSWORD } : {}),
  },
  mariadb: { host: '127.0.0.1', user: 'root', password: '' },
  /** The services run as deployed ones would, unless NODE_ENV says otherwise. */
  nodeEnv: process.env.NODE_ENV || 'production',
  out: resolve(process.env.BENCH_OUT ?? join(root, 'BENCHMARKS.md')),
};

/** Milliseconds on the monotonic clock, comparable between the processes of one machine. */
export const now = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A fresh turn of the event loop, as a write a request triggers would start in. */
export const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
export const randomName = (prefix: string): string => `${prefix}_${randomBytes(4).toString('hex')}`;

/** The items in the order of a round: reversed every other round (ABBA), so that a drift of the machine hits all. */
export function alternating<T>(items: readonly T[], round: number): readonly T[] {
  return round % 2 === 0 ? items : [...items].reverse();
}
