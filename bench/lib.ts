/**
 * What the benchmarks share (bench/causal.ts, bench/initial-sync.ts, bench/replication.ts):
 * the services, fresh databases, child processes driven over IPC, CPU accounting from /proc,
 * the machine's description, tables, and writing a marked section of BENCHMARKS.md.
 * bench/compile.ts takes only its tables, from bench/table.ts, which loads nothing else.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import knex, { type Knex } from 'knex';
import { crowdtapTables, sniperTables } from '../examples/users/schema.js';
import type { Delivery, Envelope, Transport } from '../src/runtime/index.js';
import { names } from '../src/transport/amqp/topology.js';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

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

export type Dialect = 'sqlite' | 'postgres';
const dialects: readonly Dialect[] = ['sqlite', 'postgres'];

export function pairs(raw: string): (readonly [Dialect, Dialect])[] {
  if (raw === 'none') return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((p) => {
      const [from = '', to = from] = p.split(/>|:/);
      for (const d of [from, to]) {
        if (!dialects.includes(d as Dialect)) throw new Error(`unknown database \`${d}\` (${dialects.join(', ')})`);
      }
      return [from as Dialect, to as Dialect] as const;
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

// ---------------------------------------------------------------------------------------------
// Databases

/** Where a database is, in a form a child process can open. */
export interface DbRef {
  readonly dialect: Dialect;
  readonly filename?: string;
  readonly schema?: string;
}

interface SqliteConnection {
  pragma(source: string): unknown;
}

/** SQLite in WAL mode with synchronous=NORMAL, as bench/replication.ts runs it. */
export function connect(ref: DbRef, poolMax = 10): Knex {
  if (ref.dialect === 'sqlite') {
    return knex({
      client: 'better-sqlite3',
      connection: { filename: ref.filename ?? ':memory:' },
      useNullAsDefault: true,
      pool: {
        afterCreate: (conn: SqliteConnection, done: (error: Error | null, conn: unknown) => void) => {
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = NORMAL');
          conn.pragma('foreign_keys = ON');
          done(null, conn);
        },
      },
    });
  }
  return knex({
    client: 'pg',
    connection: services.pg,
    searchPath: [ref.schema ?? 'public'],
    pool: { min: 0, max: poolMax },
  });
}

export interface TempDb {
  readonly ref: DbRef;
  drop(): Promise<void>;
}

const databases: TempDb[] = [];

/** A fresh database (SQLite file, PostgreSQL schema) with the tables of one side of the users example. */
export async function tempDb(kind: Dialect, side: 'publisher' | 'subscriber'): Promise<TempDb> {
  let db: TempDb;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(os.tmpdir(), 'promiscuous-bench-'));
    db = {
      ref: { dialect: kind, filename: join(dir, 'db.sqlite') },
      drop: async () => rmSync(dir, { recursive: true }),
    };
  } else {
    const schema = randomName('prom_bench');
    await admin((a) => a.raw('CREATE SCHEMA ??', [schema]));
    db = { ref: { dialect: kind, schema }, drop: () => admin((a) => a.raw('DROP SCHEMA ?? CASCADE', [schema])) };
  }
  databases.push(db);
  const k = connect(db.ref);
  try {
    await (side === 'publisher' ? crowdtapTables(k) : sniperTables(k));
  } finally {
    await k.destroy();
  }
  return db;
}

export async function dropDb(db: TempDb): Promise<void> {
  const i = databases.indexOf(db);
  if (i < 0) return;
  databases.splice(i, 1);
  await db.drop().catch((e: Error) => console.error(`could not drop a database: ${e.message}`));
}

export async function admin(fn: (k: Knex) => Promise<unknown>): Promise<void> {
  const k = knex({ client: 'pg', connection: services.pg, pool: { min: 0, max: 1 } });
  try {
    await fn(k);
  } finally {
    await k.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// AMQP namespaces

const namespaces: { ns: string; apps: string[] }[] = [];

/** A random namespace, whose queues of `apps` (with their retry and parked queues) are deleted at the end. */
export function namespace(apps: readonly string[]): string {
  const ns = randomName('prom_bench');
  namespaces.push({ ns, apps: [...apps] });
  return ns;
}

/** Messages waiting in an app's queue of a namespace. */
export async function queueDepth(ns: string, app: string): Promise<number> {
  const connection = await amqp.connect(services.amqpUrl);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    const { messageCount } = await channel.checkQueue(names(ns).queue(app));
    return messageCount;
  } finally {
    await connection.close().catch(() => {});
  }
}

/** Drops every database and AMQP namespace this run created. */
export async function cleanup(): Promise<void> {
  for (const db of [...databases]) await dropDb(db);
  if (namespaces.length === 0) return;
  try {
    const connection = await amqp.connect(services.amqpUrl);
    for (const { ns, apps } of namespaces.splice(0)) {
      const n = names(ns);
      const queues = apps.flatMap((app) => [
        n.queue(app),
        n.parked(app),
        ...Array.from({ length: 6 }, (_, level) => n.retry(app, level)),
      ]);
      // A channel per deletion: deleting what does not exist closes the channel.
      for (const queue of queues) {
        const channel = await connection.createChannel();
        channel.on('error', () => {});
        await channel.deleteQueue(queue).catch(() => {});
        await channel.close().catch(() => {});
      }
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      await channel.deleteExchange(n.exchange).catch(() => {});
      await channel.close().catch(() => {});
    }
    await connection.close();
  } catch (error) {
    console.error(`could not remove the AMQP queues: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Statements: how many a message costs, and where their time goes

interface QueryEvent {
  readonly sql: string;
  readonly __knexQueryUid?: string;
}

export interface ShapeStat {
  n: number;
  ms: number;
}

const shapeCache = new Map<string, string>();

/** A statement's shape: its verb and table, `BEGIN`, `COMMIT`. */
export function shape(sql: string): string {
  let known = shapeCache.get(sql);
  if (known === undefined) {
    known = shapeOf(sql);
    if (shapeCache.size < 10_000) shapeCache.set(sql, known);
  }
  return known;
}

function shapeOf(sql: string): string {
  const s = sql.trim().toLowerCase();
  if (/^(begin|start transaction)/.test(s)) return 'BEGIN';
  if (s.startsWith('commit')) return 'COMMIT';
  if (s.startsWith('rollback')) return 'ROLLBACK';
  const table = (re: RegExp): string => re.exec(s)?.[1] ?? '?';
  const t = /["`]?([a-z0-9_]+)["`]?/.source;
  if (s.startsWith('insert'))
    return `insert ${table(new RegExp(`^insert into ${t}`))}${/ returning /.test(s) ? ' returning' : ''}${/ on conflict /.test(s) ? ' on conflict' : ''}`;
  if (s.startsWith('update')) return `update ${table(new RegExp(`^update ${t}`))}`;
  if (s.startsWith('delete')) return `delete ${table(new RegExp(`^delete from ${t}`))}`;
  if (s.startsWith('select')) {
    const lock = / for update skip locked/.test(s)
      ? ' for update skip locked'
      : / for update/.test(s)
        ? ' for update'
        : '';
    return `select ${table(new RegExp(` from ${t}`))}${lock}`;
  }
  return s.split(/\s+/).slice(0, 2).join(' ');
}

export class QueryStats {
  private shapes = new Map<string, ShapeStat>();
  private started = new Map<string, [string, number]>();

  /** `shapeOf`: how statements are grouped (by default `shape`). */
  constructor(private readonly shapeOf: (sql: string) => string = shape) {}

  attach(db: Knex, onQuery?: (shape: string) => void): void {
    db.on('query', (q: QueryEvent) => {
      const key = this.shapeOf(q.sql);
      onQuery?.(key);
      const stat = this.shapes.get(key) ?? { n: 0, ms: 0 };
      stat.n += 1;
      this.shapes.set(key, stat);
      if (q.__knexQueryUid) this.started.set(q.__knexQueryUid, [key, now()]);
    });
    const done = (q: QueryEvent): void => {
      const started = q.__knexQueryUid ? this.started.get(q.__knexQueryUid) : undefined;
      if (!started || !q.__knexQueryUid) return;
      this.started.delete(q.__knexQueryUid);
      const stat = this.shapes.get(started[0]);
      if (stat) stat.ms += now() - started[1];
    };
    db.on('query-response', (_r: unknown, q: QueryEvent) => done(q));
    db.on('query-error', (_e: unknown, q: QueryEvent) => done(q));
  }

  reset(): void {
    this.shapes = new Map();
    this.started = new Map();
  }

  snapshot(): Record<string, ShapeStat> {
    return Object.fromEntries([...this.shapes].map(([k, v]) => [k, { ...v }]));
  }
}

export function addShapes(into: Record<string, ShapeStat>, from: Record<string, ShapeStat>): void {
  for (const [k, v] of Object.entries(from)) {
    const s = into[k] ?? { n: 0, ms: 0 };
    s.n += v.n;
    s.ms += v.ms;
    into[k] = s;
  }
}

export function totalStatements(s: Record<string, ShapeStat>): number {
  return Object.values(s).reduce((a, b) => a + b.n, 0);
}

/** Statements per unit (a message, a page), by shape, with their mean time. */
export function perUnit(s: Record<string, ShapeStat>, units: number, limit = 10): string {
  return Object.entries(s)
    .sort((a, b) => b[1].ms - a[1].ms || b[1].n - a[1].n)
    .slice(0, limit)
    .map(([k, v]) => `${k} ${fmt(v.n / Math.max(1, units), 2)} (${fmt(v.ms / Math.max(1, v.n), 2)} ms)`)
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// Child processes: one role each, driven by messages from the coordinator

interface Request {
  readonly id: number;
  readonly cmd: string;
  readonly args?: unknown;
}

interface Reply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: string;
}

export interface Role {
  call(cmd: string, args: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** The child side: `init` makes the role, `close` ends it, anything else goes to the role. */
export function serveChild(make: (init: unknown) => Promise<Role>): void {
  let role: Role | undefined;
  const send = (reply: Reply): void => void process.send?.(reply);
  process.on('message', async (request: Request) => {
    try {
      if (request.cmd === 'init') {
        role = await make(request.args);
        send({ id: request.id, result: null });
      } else if (request.cmd === 'close') {
        await role?.close();
        send({ id: request.id, result: null });
        process.disconnect();
      } else {
        if (!role) throw new Error('not initialised');
        send({ id: request.id, result: await role.call(request.cmd, request.args) });
      }
    } catch (error) {
      send({ id: request.id, error: (error as Error).stack ?? String(error) });
    }
  });
}

/** The coordinator's handle on a child process running `script --child <label>`. */
export class Worker {
  private readonly proc: ChildProcess;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  private readonly killAfterMs: number;

  /** `profileName`: the CPU profile's file name (default `<label>.cpuprofile`); `killAfterMs`: how long `close` waits. */
  constructor(
    script: string,
    readonly label: string,
    profileDir?: string,
    options: { readonly profileName?: string; readonly killAfterMs?: number } = {},
  ) {
    this.killAfterMs = options.killAfterMs ?? 30_000;
    const profile = profileDir
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${profileDir}`,
          `--cpu-prof-name=${options.profileName ?? `${label}.cpuprofile`}`,
        ]
      : [];
    this.proc = fork(script, ['--child', label], {
      execArgv: [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof')), ...profile],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NODE_ENV: services.nodeEnv },
    });
    this.proc.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.error !== undefined) waiter.reject(new Error(`${label}: ${reply.error}`));
      else waiter.resolve(reply.result);
    });
    this.proc.on('exit', (code) => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${label} exited with ${code}`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  call<T>(cmd: string, args?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label} has exited`));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, cmd, args } satisfies Request);
    });
  }

  /** Closes the role and waits for the process to end; ends this one process (by its id) if it hangs. */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    const timer = setTimeout(() => {
      if (!this.exited && this.proc.pid !== undefined) process.kill(this.proc.pid, 'SIGKILL');
    }, this.killAfterMs);
    await this.call('close').catch(() => {});
    await exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting: on a small machine every process competes for the same cores

export interface CpuSample {
  readonly at: number;
  readonly busy: number;
  readonly steal: number;
  readonly ticks: Map<number, { readonly comm: string; readonly ppid: number; readonly ticks: number }>;
}

/** CPU time of every process, from /proc (Linux); undefined elsewhere. */
export function cpuSample(): CpuSample | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const ticks = new Map<number, { comm: string; ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      ticks.set(Number(name), {
        comm: stat.slice(stat.indexOf('(') + 1, close),
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
      });
    } catch {}
  }
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] =
    readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.split(/\s+/).map(Number) ?? [];
  return { at: now(), ticks, busy: user + nice + system + irq + softirq, steal };
}

/** The key under which `cpuSpent` gives the wall time between its samples. */
export const wall = '(wall)';
export const clockTick = 10; // ms per tick: USER_HZ is 100 on Linux

/** Other processes' CPU and wall time over every measured phase. */
export const loadTotals = { other: 0, wall: 0 };

/** The service a process (by its command name) belongs to, or undefined for other processes. */
export function serviceOf(comm: string): string | undefined {
  if (comm === 'postgres') return 'PostgreSQL';
  if (comm === 'beam.smp' || comm.startsWith('erl') || comm.startsWith('1_scheduler')) return 'RabbitMQ';
  return undefined;
}

/**
 * CPU milliseconds by consumer between two samples; `mine` names this benchmark's processes,
 * `service` the services' (by their command name).
 */
export function cpuSpent(
  from: CpuSample | undefined,
  to: CpuSample | undefined,
  mine: ReadonlyMap<number, string>,
  service: (comm: string) => string | undefined = serviceOf,
): Record<string, number> {
  if (!from || !to) return {};
  const out: Record<string, number> = {};
  const ours = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 20; p = to.ticks.get(p)?.ppid ?? 0, hops++) {
      if (p === process.pid) return true;
    }
    return false;
  };
  for (const [pid, { comm, ticks }] of to.ticks) {
    const spent = (ticks - (from.ticks.get(pid)?.ticks ?? 0)) * clockTick;
    if (spent <= 0) continue;
    const who =
      mine.get(pid) ?? (pid === process.pid || ours(pid) ? 'coordinator' : (service(comm) ?? 'other processes'));
    if (who !== 'other processes') out[who] = (out[who] ?? 0) + spent;
  }
  // Other processes: the machine's busy time less what the processes above account for.
  const known = Object.values(out).reduce((a, b) => a + b, 0);
  out['other processes'] = Math.max(0, (to.busy - from.busy) * clockTick - known);
  if (to.steal > from.steal) out['stolen by the hypervisor'] = (to.steal - from.steal) * clockTick;
  out[wall] = to.at - from.at;
  loadTotals.other += out['other processes'] ?? 0;
  loadTotals.wall += out[wall] ?? 0;
  return out;
}

/** Cores that processes other than the benchmark's and its services' kept busy, on average. */
export function otherLoad(cpu: Record<string, number>): number {
  return (cpu['other processes'] ?? 0) / Math.max(1, cpu[wall] ?? 0);
}

export function addCpu(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** CPU per unit, by consumer: `subscriber 0.41, PostgreSQL 0.80` (ms). */
export function cpuPer(cpu: Record<string, number>, units: number, scale = 1): string {
  return Object.entries(cpu)
    .filter(([k, v]) => k !== 'coordinator' && k !== wall && (v * scale) / Math.max(1, units) >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt((v * scale) / Math.max(1, units), 2)}`)
    .join(', ');
}

/** Cores each consumer kept busy: `subscriber 0.95, PostgreSQL 0.60`. */
export function coresBusy(cpu: Record<string, number>): string {
  const ms = Math.max(1, cpu[wall] ?? 0);
  return Object.entries(cpu)
    .filter(([k, v]) => k !== wall && v / ms >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt(v / ms, 2)}`)
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// The machine

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memory: string;
  readonly os: string;
  readonly node: string;
  readonly versions: Record<string, string>;
  readonly commit: string;
}

export async function machine(used: ReadonlySet<Dialect>): Promise<Machine> {
  const versions: Record<string, string> = {};
  if (used.has('sqlite')) {
    const k = connect({ dialect: 'sqlite' });
    const [row] = (await k.raw('select sqlite_version() as v')) as [{ v: string }];
    versions.SQLite = `${row.v} (better-sqlite3 ${pkg('better-sqlite3')}, journal WAL, synchronous=NORMAL)`;
    await k.destroy();
  }
  if (used.has('postgres')) {
    versions.PostgreSQL = await postgresVersion();
  }
  versions.RabbitMQ = await rabbitVersion();
  versions.knex = pkg('knex');
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const state = srcState();
    if (state) commit += ` (src/ modified: diff ${state})`;
  } catch {}
  return describeMachine(versions, commit);
}

/** PostgreSQL's version and its synchronous_commit. */
export async function postgresVersion(): Promise<string> {
  let version = '';
  await admin(async (k) => {
    const { rows } = (await k.raw('show server_version')) as { rows: { server_version: string }[] };
    const { rows: sync } = (await k.raw('show synchronous_commit')) as { rows: { synchronous_commit: string }[] };
    version = `${rows[0]?.server_version} (pg ${pkg('pg')}, synchronous_commit=${sync[0]?.synchronous_commit})`;
  });
  return version;
}

/** The broker's version, as it announces it. */
export async function rabbitVersion(): Promise<string> {
  const connection = await amqp.connect(services.amqpUrl);
  const server = (connection as unknown as { connection: { serverProperties?: Record<string, unknown> } }).connection
    .serverProperties;
  await connection.close();
  return `${String(server?.version ?? '?')} (amqplib ${pkg('amqplib')})`;
}

/** This machine, with the versions of what the benchmark uses and the commit it measured. */
export function describeMachine(versions: Record<string, string>, commit: string): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    versions,
    commit,
  };
}

/**
 * A short hash of the working tree's changes to src/ against HEAD (tracked and untracked
 * files), or '' when there are none: which code a figure measured, while others edit it.
 */
export function srcState(): string {
  try {
    const diff = execFileSync('git', ['diff', 'HEAD', '--', 'src'], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const untracked = execFileSync('git', ['ls-files', '--others', '--exclude-standard', '--', 'src'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    if (!diff && untracked.length === 0) return '';
    const h = createHash('sha1').update(diff);
    for (const file of untracked.sort()) h.update(file).update(readFileSync(join(root, file)));
    return h.digest('hex').slice(0, 8);
  } catch {
    return '';
  }
}

/** A hash of every file under src/ as it is on disk: whether the code changed during a run (a commit alone does not). */
export function srcContent(): string {
  const h = createHash('sha1');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else h.update(path).update(readFileSync(path));
    }
  };
  walk(join(root, 'src'));
  return h.digest('hex');
}

/** The installed version of a package. */
export function pkg(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return '?';
  }
}

export function machineLines(m: Machine): string[] {
  return [
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memory} memory; ${m.os}; Node ${m.node}`,
    ...Object.entries(m.versions).map(([k, v]) => `- ${k} ${v}`),
    `- Everything on this one machine: the databases, RabbitMQ, the publisher and the subscriber processes.`,
    `- Publisher and subscriber processes run with NODE_ENV=${services.nodeEnv}.`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Reporting

export const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
export const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
export const thousands = (n: number): string => Math.round(n).toLocaleString('en-US');

export { table } from './table.js';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/**
 * Writes `body` into BENCHMARKS.md between `<!-- name:start -->` and `<!-- name:end -->`,
 * keeping the rest of the file; appends the section when the markers are not there yet.
 */
export function writeSection(name: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  let text = existsSync(services.out) ? readFileSync(services.out, 'utf8') : '# Benchmarks\n';
  const a = text.indexOf(start);
  const b = text.indexOf(end, a + start.length);
  if (a >= 0 && b >= 0) text = `${text.slice(0, a)}${section}${text.slice(b + end.length)}`;
  else text = `${text.replace(/\s*$/, '')}\n\n${section}\n`;
  mkdirSync(dirname(services.out), { recursive: true });
  writeFileSync(services.out, text);
}

export const isoNow = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** A goal of a benchmark, and whether the run met it. */
export interface Goal {
  readonly what: string;
  readonly value: string;
  readonly goal: string;
  readonly ok: boolean;
}

/** A goal of one of a benchmark's numbered figures. */
export interface FigureGoal extends Goal {
  readonly figure: string;
}

/** The machine in the lines a benchmark starts with: `<cpu>, <cores> cores, <memory>, Node <version>` and the versions. */
export function machineBanner(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memory}, Node ${m.node}\n${Object.entries(m.versions)
    .map(([k, v]) => `  ${k} ${v}`)
    .join('\n')}\n`;
}

/**
 * Runs a benchmark's body: on SIGINT cleans up and exits with 130; a failure is printed and
 * sets the exit status to 1; cleans up at the end.
 */
export async function runBenchmark(
  body: () => Promise<void>,
  options: { readonly cleanup?: () => Promise<void> } = {},
): Promise<void> {
  const clean = options.cleanup ?? cleanup;
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    console.log('\ninterrupted: cleaning up');
    void clean().finally(() => process.exit(130));
  });
  try {
    await body();
  } catch (error) {
    if (!interrupted) console.error(`the benchmark failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  } finally {
    if (!interrupted) await clean();
  }
}

/**
 * Prints the figures, writes them into BENCHMARKS.md as the section `name` under `## heading`,
 * and prints how many goals the run met.
 */
export function report(
  name: string,
  heading: string,
  render: (markdown: boolean) => string,
  goals: readonly Goal[],
  seconds: number,
): void {
  console.log(render(false));
  writeSection(name, `## ${heading}\n\n${render(true)}`);
  console.log(
    `\n${goals.filter((g) => g.ok).length} of ${goals.length} goals met; ${fmt(seconds)} s; written to ${services.out}`,
  );
}

/** A 64-bit hash of a string, for order-independent checksums of many rows. */
export function hash64(text: string): bigint {
  return createHash('sha1').update(text).digest().readBigUInt64BE(0);
}

// ---------------------------------------------------------------------------------------------
// CPU profiles

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

/**
 * The self time of a `.cpuprofile` (from `--cpu-prof`), grouped by where the code lives (the
 * runtime's files by name, dependencies by package, Node's internals, garbage collection) and
 * its top functions.
 */
export function summariseProfile(
  file: string,
  top = 12,
): { groups: [string, number][]; functions: [string, number][] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += ms;
    if (functionName === '(idle)' || functionName === '(program)') {
      groups.set(functionName, (groups.get(functionName) ?? 0) + ms);
      continue;
    }
    const group = groupOf(functionName, url);
    groups.set(group, (groups.get(group) ?? 0) + ms);
    const where = url ? `${url.replace(/^.*\/(node_modules\/)?/, '')}:${lineNumber + 1}` : '';
    const fn = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
  }
  const sort = (m: Map<string, number>): [string, number][] =>
    [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / Math.max(1, total)]);
  return { groups: sort(groups).slice(0, top), functions: sort(functions).slice(0, top) };
}

function groupOf(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (!url) return functionName.startsWith('(') ? functionName : 'native';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1] as string;
  if (url.startsWith('node:')) return 'node internals';
  const src = /\/(src\/.+|bench\/.+|examples\/.+)$/.exec(url);
  return src ? (src[1] as string) : url;
}

export function profileFiles(dir: string, label: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith(label) && f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f));
}

// ---------------------------------------------------------------------------------------------
// Transports

/** An operation of a delivered message, as the benchmarks' subscribers record it. */
export interface DeliveredOperation {
  readonly endpoint: string;
  readonly id: string;
  readonly operation: string;
  readonly version: number;
}

const operationPattern =
  /"endpoint":"([^"]+)","types":\[[^\]]*\],"id":"([^"]+)","operation":"([a-z]+)","version":(\d+)/g;
/** Whether the pattern read the first message as parsing it did (undefined: no message yet). */
let patternReads: boolean | undefined;

/**
 * The operations of a delivered message, read off its text by a pattern: parsing each message
 * a second time, beside the subscriber's own parse, would count against the subscriber a share
 * of its CPU. The first message is parsed too; should the pattern not read it right (the
 * envelope's layout changed), every message is parsed, with a warning.
 */
export function deliveredOperations(body: Buffer): DeliveredOperation[] {
  const text = body.toString('utf8');
  if (patternReads === false) return parsedOperations(text);
  const found = [...text.matchAll(operationPattern)].map(([, endpoint, id, operation, version]) => ({
    endpoint: endpoint as string,
    id: id as string,
    operation: operation as string,
    version: Number(version),
  }));
  if (patternReads === undefined) {
    const parsed = parsedOperations(text);
    patternReads = JSON.stringify(parsed) === JSON.stringify(found);
    if (!patternReads) {
      console.warn('  the envelope pattern does not read the operations: every message is parsed again');
      return parsed;
    }
  }
  return found;
}

function parsedOperations(text: string): DeliveredOperation[] {
  try {
    return (JSON.parse(text) as Envelope).operations.map(({ endpoint, id, operation, version }) => ({
      endpoint,
      id,
      operation,
      version,
    }));
  } catch {
    return [];
  }
}

/**
 * The transport with its deliveries passed through `wrap` before the subscriber's handler
 * (everything else delegated as is, whatever methods the transport has).
 */
export function wrapConsume(
  transport: Transport,
  wrap: (delivery: Delivery, handle: (d: Delivery) => Promise<void>) => Promise<void>,
): Transport {
  const consume: Transport['consume'] = (app, options, handle) =>
    transport.consume(app, options, (d) => wrap(d, handle));
  return new Proxy(transport, {
    get(target, prop) {
      if (prop === 'consume') return consume;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The transport with each `publish` call timed: messages and milliseconds until the broker confirmed them. */
export function timePublish(transport: Transport, onPublished: (messages: number, ms: number) => void): Transport {
  const publish: Transport['publish'] = async (messages) => {
    const at = now();
    await transport.publish(messages);
    onPublished(messages.length, now() - at);
  };
  return new Proxy(transport, {
    get(target, prop) {
      if (prop === 'publish') return publish;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Waits, up to `maxSeconds`, until the whole machine keeps fewer than `cores` cores busy over a
 * second (between phases this benchmark's own processes are idle, so what is left is other
 * work); returns the seconds waited. On a shared machine, a burst of other work would otherwise
 * fall on one side of a comparison and not the other.
 */
export async function quiet(maxSeconds: number, cores = 0.3): Promise<number> {
  const started = now();
  while (maxSeconds > 0 && now() - started < maxSeconds * 1000) {
    const a = cpuSample();
    await sleep(1000);
    const b = cpuSample();
    if (!a || !b) break;
    if (((b.busy - a.busy) * clockTick) / (b.at - a.at) < cores) break;
  }
  return (now() - started) / 1000;
}
