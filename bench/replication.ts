/**
 * Replication benchmark: what the runtime costs a publisher, how fast changes cross from one
 * database to another, and how long each one takes, every figure against a baseline measured
 * in the same run on the same databases and broker.
 *
 *   node --conditions=source --import tsx bench/replication.ts
 *
 * 1. Publisher overhead: transactions per second of one-row writes through the generated hooks
 *    inside `publisher.transaction` (relay running, publishing to a durable queue), divided by
 *    the same row writes inside a bare `knex.transaction` on the same table of the same
 *    database. Creates and updates separately. The two sides run in two processes (nothing of
 *    the publisher loaded where the bare writes run) that take turns, the order alternating
 *    from round to round (ABBA), so that a drift of the machine hits both.
 * 2. End-to-end throughput, commit to applied: several writers at full speed on the publisher
 *    (half creates, half updates of objects created earlier), a `Subscriber` applying into
 *    another database. Divided by (a) a naive pipeline on the same kinds of databases (insert
 *    or update the row in a transaction, publish its JSON awaiting a publisher confirm per
 *    message, a consumer upserting it: no outbox, no versions, no ordering) and (b) the
 *    publishers' own commit rate in the same run. Both pipelines are up together and measured
 *    in alternation.
 * 3. Latency commit to applied (p50, p99) at half the maximum end-to-end rate of figure 2, open
 *    loop (writes start on a fixed schedule whatever the previous ones are doing), split into
 *    its legs: commit to publish (the relay), publish to delivery (the broker), delivery to
 *    applied (the subscriber). The naive pipeline at the same rate, or at half its own maximum
 *    if that is lower.
 *
 * Each side runs in a process of its own, as services would: the publisher (its writers and
 * relay) in one, the subscriber in another; this process only coordinates, and accounts for the
 * CPU every process spends (from /proc), the database servers and the broker included. Times
 * come from the monotonic clock, which all processes of the machine share. Child processes run
 * with NODE_ENV=production (unless NODE_ENV is set), as deployed services would. Every write
 * starts in a fresh turn of the event loop, as one a request triggers would.
 *
 * Every run uses fresh databases (SQLite files, PostgreSQL schemas) and a random AMQP
 * namespace, all removed at the end. The figures are printed and written to BENCHMARKS.md
 * between the markers `<!-- replication:start -->` and `<!-- replication:end -->` (the rest of
 * the file is kept). The exit status is 0 whether goals are met or not: a benchmark reports.
 *
 * Environment (defaults keep a run near two minutes on two cores):
 *   BENCH_DIALECTS=sqlite,postgres          databases of figure 1 (mariadb works too; none: skip)
 *   BENCH_PAIRS=sqlite>sqlite,postgres>postgres   publisher>subscriber databases of figures 2-3
 *   BENCH_WRITERS=4                         concurrent writers on the publisher
 *   BENCH_ROUNDS=3  BENCH_OVERHEAD_SECONDS=1.5     figure 1: rounds, seconds per side and round
 *   BENCH_SECONDS=6                         figure 2: seconds at full speed per pipeline
 *   BENCH_LATENCY_SECONDS=6                 figure 3: seconds at half load per pipeline
 *   BENCH_E2E_ROUNDS=2                      figures 2-3: rounds those seconds are split into
 *   BENCH_WARMUP_SECONDS=1                  warm-up of each pipeline before it is measured
 *   BENCH_UPDATE_SHARE=0.5                  share of updates in figures 2-3
 *   BENCH_FRAME_SIZE=50                     messages per broker message at most (the transport's frameSize; 1: one each)
 *   BENCH_LATENCY_RATE                      figure 3: this rate instead of half the maximum
 *   BENCH_PREFETCH                          subscriber prefetch (default: the Subscriber's own)
 *   BENCH_SQLITE_JOURNAL=wal                wal (synchronous=NORMAL) or delete (synchronous=FULL)
 *   BENCH_QUIET_WAIT=0                      seconds to wait, before each figure, for other
 *                                           processes to leave the machine idle
 *   BENCH_DECOMPOSE=1                       figure 1 also runs the hooks' statements alone (raw
 *                                           SQL) and the hooks with the relay off
 *   BENCH_BREAKDOWN=1                       also print statements and CPU per write
 *   BENCH_PROFILE=<dir>                     write a CPU profile of every child process into <dir>
 *   BENCH_OUT=<file>                        where to write (default BENCHMARKS.md at the repo root)
 *   PROMISCUOUS_AMQP_URL, PGHOST, PGUSER, PGPASSWORD, PGDATABASE   the services
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import knex, { type Knex } from 'knex';
import { schema as crowdtap, type Hooks, type Virtuals } from '../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../examples/users/generated/sniper/subscriber.js';
import { crowdtapTables, sniperTables } from '../examples/users/schema.js';
import {
  AmqpTransport,
  type Delivery,
  type Envelope,
  NullTransport,
  outboxTable,
  Publisher,
  Subscriber,
  type Transport,
} from '../src/runtime/index.js';
import { names } from '../src/transport/amqp/topology.js';
import {
  addCpu,
  addShapes,
  clockTick,
  cpuPer,
  cpuSample,
  cpuSpent,
  describeMachine,
  type FigureGoal,
  fmt,
  isoNow,
  loadTotals,
  type Machine,
  machineBanner,
  nextTurn,
  now,
  num,
  otherLoad,
  percentile,
  pkg,
  postgresVersion,
  QueryStats,
  rabbitVersion,
  randomName,
  type Role,
  root,
  runBenchmark,
  type ShapeStat,
  serveChild,
  services,
  shape,
  sleep,
  table,
  totalStatements,
  verdict,
  Worker,
  writeSection,
} from './lib.js';

// ---------------------------------------------------------------------------------------------
// Settings

const self = fileURLToPath(import.meta.url);

function list(name: string, fallback: string): string[] {
  const raw = process.env[name] || fallback;
  if (raw === 'none') return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

type Dialect = 'sqlite' | 'postgres' | 'mariadb';
const dialects: readonly Dialect[] = ['sqlite', 'postgres', 'mariadb'];

function dialect(name: string): Dialect {
  if (!dialects.includes(name as Dialect)) throw new Error(`unknown database \`${name}\` (${dialects.join(', ')})`);
  return name as Dialect;
}

const settings = {
  amqpUrl: services.amqpUrl,
  pg: services.pg,
  mariadb: { host: '127.0.0.1', user: 'root', password: '' },
  dialects: list('BENCH_DIALECTS', 'sqlite,postgres').map(dialect),
  pairs: list('BENCH_PAIRS', 'sqlite>sqlite,postgres>postgres').map((p) => {
    const [from = '', to = from] = p.split(/>|:/);
    return [dialect(from), dialect(to)] as const;
  }),
  writers: Math.max(1, Math.round(num('BENCH_WRITERS', 4))),
  rounds: Math.max(1, Math.round(num('BENCH_ROUNDS', 3))),
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
  out: services.out,
  nodeEnv: services.nodeEnv,
};

/** The Subscriber's default prefetch, which the naive consumer gets too when none is set. */
const defaultPrefetch = 5;

const goals = { overhead: 0.8, versusNaive: 1.0, versusCommits: 0.9, p50: 10, p99: 50 };

/*
 * Every write starts in a fresh turn of the event loop (`nextTurn`), as one a request triggers
 * would. Without it, writers on SQLite (a synchronous driver) never let the loop read its
 * sockets, and the relay's publisher confirms wait until the writers stop.
 */

// ---------------------------------------------------------------------------------------------
// Databases

/** Where a database is, in a form a child process can open. */
interface DbRef {
  readonly dialect: Dialect;
  readonly filename?: string;
  readonly schema?: string;
  readonly database?: string;
}

interface SqliteConnection {
  pragma(source: string): unknown;
}

function connect(ref: DbRef): Knex {
  if (ref.dialect === 'sqlite') {
    const wal = settings.sqliteJournal === 'wal';
    return knex({
      client: 'better-sqlite3',
      connection: { filename: ref.filename ?? ':memory:' },
      useNullAsDefault: true,
      pool: {
        afterCreate: (conn: SqliteConnection, done: (error: Error | null, conn: unknown) => void) => {
          conn.pragma(`journal_mode = ${wal ? 'WAL' : 'DELETE'}`);
          conn.pragma(`synchronous = ${wal ? 'NORMAL' : 'FULL'}`);
          conn.pragma('foreign_keys = ON');
          done(null, conn);
        },
      },
    });
  }
  if (ref.dialect === 'postgres') {
    return knex({
      client: 'pg',
      connection: settings.pg,
      searchPath: [ref.schema ?? 'public'],
      pool: { min: 0, max: 10 },
    });
  }
  return knex({
    client: 'mysql2',
    connection: { ...settings.mariadb, database: ref.database ?? '', timezone: 'Z' },
    pool: { min: 0, max: 10 },
  });
}

interface TempDb {
  readonly ref: DbRef;
  drop(): Promise<void>;
}

/** A fresh empty database, with the tables of one side of the users example. */
async function createDb(kind: Dialect, side: 'publisher' | 'subscriber'): Promise<TempDb> {
  let db: TempDb;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(os.tmpdir(), 'promiscuous-bench-'));
    db = {
      ref: { dialect: kind, filename: join(dir, 'db.sqlite') },
      drop: async () => rmSync(dir, { recursive: true }),
    };
  } else if (kind === 'postgres') {
    const schema = randomName('prom_bench');
    await admin(kind, (a) => a.raw('CREATE SCHEMA ??', [schema]));
    db = { ref: { dialect: kind, schema }, drop: () => admin(kind, (a) => a.raw('DROP SCHEMA ?? CASCADE', [schema])) };
  } else {
    const database = randomName('prom_bench');
    await admin(kind, (a) => a.raw('CREATE DATABASE ??', [database]));
    db = { ref: { dialect: kind, database }, drop: () => admin(kind, (a) => a.raw('DROP DATABASE ??', [database])) };
  }
  const k = connect(db.ref);
  try {
    await (side === 'publisher' ? crowdtapTables(k) : sniperTables(k));
  } finally {
    await k.destroy();
  }
  return db;
}

async function admin(kind: Dialect, fn: (k: Knex) => Promise<unknown>): Promise<void> {
  const k =
    kind === 'postgres'
      ? knex({ client: 'pg', connection: settings.pg, pool: { min: 0, max: 1 } })
      : knex({ client: 'mysql2', connection: settings.mariadb, pool: { min: 0, max: 1 } });
  try {
    await fn(k);
  } finally {
    await k.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Query statistics: how many statements a write costs, and where their time goes

/** A statement's shape, as `shape` gives it but without ` on conflict` (as this benchmark always reported it). */
const statementShape = (sql: string): string => shape(sql).replace(/ on conflict$/, '');

// ---------------------------------------------------------------------------------------------
// The workload

const virtuals: Virtuals = { User: { full_name: (row) => `${row.first_name} ${row.last_name}` } };

let serial = 0;

function newUser(): {
  id: string;
  name: string;
  email: string;
  first_name: string;
  last_name: string;
  addresses: { id: string; street_name: string; zipcode: string }[];
  tags: string[];
} {
  serial += 1;
  return {
    id: randomUUID(),
    name: `User ${serial}`,
    email: `user${serial}@example.com`,
    first_name: 'User',
    last_name: String(serial),
    addresses: [{ id: randomUUID(), street_name: 'Main Street', zipcode: '12345' }],
    tags: ['bench'],
  };
}

type User = ReturnType<typeof newUser>;

/** The row a plain app writes for a user: the same columns, JSON as text, no `_v`. */
function bareRow(user: User): Record<string, unknown> {
  return { ...user, type: 'User', addresses: JSON.stringify(user.addresses), tags: JSON.stringify(user.tags) };
}

/** A write: its key (object id and version, or sequence), and when it committed. */
type Commit = readonly [key: string, at: number];

interface Writes {
  create(user: User): Promise<Commit>;
  update(user: User, name: string): Promise<Commit>;
}

/**
 * Objects each written by one writer at a time: an update picks an object nobody is writing,
 * so that a writer never waits on another's row lock and an object's versions commit in order.
 */
class Workload {
  private readonly idle: User[] = [];
  private updates = 0;

  constructor(
    private readonly writes: Writes,
    private readonly updateShare: number,
  ) {}

  async one(): Promise<Commit> {
    if (this.idle.length > 0 && Math.random() < this.updateShare) {
      const i = Math.floor(Math.random() * this.idle.length);
      const user = this.idle[i] as User;
      this.idle[i] = this.idle[this.idle.length - 1] as User;
      this.idle.pop();
      this.updates += 1;
      user.name = `User ${user.last_name} update ${this.updates}`;
      try {
        return await this.writes.update(user, user.name);
      } finally {
        this.idle.push(user);
      }
    }
    const user = newUser();
    const commit = await this.writes.create(user);
    this.idle.push(user);
    return commit;
  }
}

interface RunArgs {
  readonly mode: 'max' | 'rate';
  readonly seconds: number;
  readonly writers: number;
  /** Writes per second, in `rate` mode. */
  readonly rate?: number;
}

export interface RunResult {
  readonly start: number;
  readonly commits: Commit[];
  /** When each key was handed to the broker (by the relay, or by the naive writer). */
  readonly published: [string, number][];
  /** Each wait for publisher confirms: messages covered, milliseconds. */
  readonly confirms: [number, number][];
  readonly errors: number;
  readonly firstError?: string;
  /** In `rate` mode: how often the schedule found too many writes in flight and fell behind. */
  readonly late: number;
  readonly queries: Record<string, ShapeStat>;
}

/** Writes at full speed with `writers` loops, or on a fixed schedule (open loop) at `rate`. */
async function drive(
  workload: Workload,
  args: RunArgs,
  stats: QueryStats,
): Promise<Omit<RunResult, 'published' | 'confirms'>> {
  const commits: Commit[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let late = 0;
  const one = async (): Promise<void> => {
    try {
      commits.push(await workload.one());
    } catch (error) {
      errors += 1;
      firstError ??= (error as Error).stack ?? String(error);
    }
  };
  stats.reset();
  const start = now();
  const end = start + args.seconds * 1000;
  if (args.mode === 'max') {
    await Promise.all(
      Array.from({ length: args.writers }, async () => {
        while (now() < end) {
          await nextTurn();
          await one();
        }
      }),
    );
  } else {
    const rate = args.rate ?? 100;
    const total = Math.max(1, Math.round(rate * args.seconds));
    const inFlight = new Set<Promise<void>>();
    const cap = 256;
    for (let launched = 0; launched < total;) {
      const due = Math.min(total, Math.floor(((now() - start) / 1000) * rate) + 1);
      while (launched < due) {
        if (inFlight.size >= cap) {
          late += 1;
          await Promise.race(inFlight);
          continue;
        }
        const p: Promise<void> = one().finally(() => inFlight.delete(p));
        inFlight.add(p);
        launched += 1;
      }
      const next = start + (launched / rate) * 1000;
      await sleep(Math.max(0, next - now()));
    }
    await Promise.all(inFlight);
  }
  return { start, commits, errors, ...(firstError ? { firstError } : {}), late, queries: stats.snapshot() };
}

// ---------------------------------------------------------------------------------------------
// Child processes: one role each, driven by messages from the coordinator

interface InitArgs {
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
}

/**
 * Figure 1's sides: bare Knex, the hooks with the relay; with BENCH_DECOMPOSE=1 also the hooks'
 * statements replayed as raw SQL on plain Knex, and the hooks with the relay off.
 */
type Variant = 'bare' | 'publisher' | 'statements' | 'relay-off';

/** A statement as Knex reports it: SQL with `?` placeholders, and its bindings. */
interface Statement {
  readonly sql: string;
  readonly bindings: readonly unknown[];
}

/** The template write's id and new name: the values a replay replaces. */
const template = { id: '00000000-0000-4000-8000-000000000001', name: 'Template name' };

/**
 * The statements one hook write issues (BEGIN and COMMIT aside), captured in this process (so
 * that the side replaying them never loads a publisher) on the database that side writes.
 */
async function captureStatements(ref: DbRef): Promise<Record<'create' | 'update', Statement[]>> {
  const db = connect(ref);
  const captured: Statement[] = [];
  const listen = (q: { sql: string; bindings?: readonly unknown[]; __knexTxId?: string }): void => {
    if (!q.__knexTxId || /^(begin|commit|rollback|start)/i.test(q.sql.trim())) return;
    captured.push({ sql: q.sql.replace(/\$\d+/g, '?'), bindings: q.bindings ?? [] });
  };
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport: new NullTransport(),
    virtuals,
    relay: false,
  });
  try {
    db.on('query', listen);
    await publisher.transaction(async (tx) => void (await tx.User.create({ ...newUser(), id: template.id })));
    const create = captured.splice(0);
    await publisher.transaction(async (tx) => void (await tx.User.update(template.id, { name: template.name })));
    const update = captured.splice(0);
    return { create, update };
  } finally {
    db.removeListener('query', listen);
    await publisher.close();
    await db.destroy();
  }
}

/** Replays captured statements in one transaction, with another write's id and name. */
async function replay(
  db: Knex,
  statements: readonly Statement[],
  values: { id: string; name?: string },
): Promise<void> {
  const swap = (b: unknown): unknown => {
    if (b === template.id) return values.id;
    if (b === template.name && values.name !== undefined) return values.name;
    return b;
  };
  await db.transaction(async (trx) => {
    for (const s of statements) await trx.raw(s.sql, s.bindings.map(swap) as Knex.RawBinding[]);
  });
}

/** Errors the runtime reports through its `errorNotifier` (the relay's, say), counted. */
class ErrorLog {
  private count = 0;
  private first: string | undefined;
  readonly note = (error: Error): void => {
    this.count += 1;
    this.first ??= error.message;
  };

  take(): { runtimeErrors: number; firstRuntimeError?: string } {
    const out = { runtimeErrors: this.count, ...(this.first ? { firstRuntimeError: this.first } : {}) };
    this.count = 0;
    this.first = undefined;
    return out;
  }
}

/**
 * Figure 1, one side: bare writes (a plain Knex, no publisher anywhere in the process, as in an
 * app without promiscuous) or writes through the hooks (publisher and relay). The two sides run
 * in two processes that take turns on the same table, so that nothing of one (the publisher's
 * query listener, the promise hooks its AsyncLocalStorage turns on) slows the other.
 */
async function overheadRole(init: InitArgs): Promise<Role> {
  const db = connect(init.db);
  const stats = new QueryStats(statementShape);
  stats.attach(db);
  const errors = new ErrorLog();
  let publisher: Publisher<Hooks, Virtuals> | undefined;
  let transport: AmqpTransport | undefined;
  if (init.variant === 'publisher' || init.variant === 'relay-off') {
    transport = await AmqpTransport.connect({
      url: settings.amqpUrl,
      namespace: init.namespace,
      frameSize: settings.frameSize,
    });
    // The subscriber's queue exists, so that the broker persists what the relay publishes.
    await transport.declare(sniper.app, sniper.bindings);
    publisher = new Publisher<Hooks, Virtuals>({
      schema: crowdtap,
      knex: db,
      transport,
      virtuals,
      errorNotifier: errors.note,
      ...(init.variant === 'relay-off' ? { relay: false } : {}),
    });
  }
  const p = publisher;
  const ops = p
    ? {
        create: (user: User) => p.transaction(async (tx) => void (await tx.User.create(user))),
        update: (user: User, name: string) =>
          p.transaction(async (tx) => void (await tx.User.update(user.id, { name }))),
      }
    : init.variant === 'statements'
      ? {
          // The statements the hooks issued for a template write, replayed as raw SQL on plain
          // Knex with this write's id and name: what the statements alone cost.
          create: (user: User) => replay(db, init.statements?.create ?? [], { id: user.id }),
          update: (user: User, name: string) => replay(db, init.statements?.update ?? [], { id: user.id, name }),
        }
      : {
          create: (user: User) => db.transaction(async (trx) => void (await trx('users').insert(bareRow(user)))),
          update: (user: User, name: string) =>
            db.transaction(async (trx) => void (await trx('users').where('id', user.id).update({ name }))),
        };
  const pool: User[][] = [];
  let updates = 0;

  return {
    async call(cmd, args) {
      if (cmd === 'seed') {
        // Rows for the updates: each writer updates its own, round robin.
        const { writers, perWriter } = args as { writers: number; perWriter: number };
        for (let w = 0; w < writers; w++) {
          const users = Array.from({ length: perWriter }, newUser);
          if (p) {
            await p.transaction(async (tx) => {
              for (const user of users) await tx.User.create(user);
            });
          } else await db.batchInsert('users', users.map(bareRow), 50);
          pool.push(users);
        }
        await p?.relay?.flush();
        return null;
      }
      if (cmd === 'phase') {
        const { op, seconds, writers } = args as { op: 'create' | 'update'; seconds: number; writers: number };
        await p?.relay?.flush();
        errors.take();
        let writes = 0;
        stats.reset();
        const start = now();
        const end = start + seconds * 1000;
        let last = start;
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            const mine = pool[w % pool.length] ?? [];
            for (let i = 0; now() < end; i++) {
              await nextTurn();
              if (op === 'create') await ops.create(newUser());
              else {
                // A name never used before, so that every update changes a published attribute.
                updates += 1;
                const user = mine[i % mine.length] as User;
                await ops.update(user, `User ${user.last_name} update ${updates}`);
              }
              writes += 1;
              last = now();
            }
          }),
        );
        const queries = stats.snapshot();
        let backlog = 0;
        if (p) {
          const [{ n }] = (await db(outboxTable).count({ n: '*' })) as [{ n: number | string }];
          backlog = Number(n);
          await p.relay?.flush();
        }
        return { writes, ms: last - start, backlog, drainMs: now() - start, queries, ...errors.take() };
      }
      throw new Error(`unknown command ${cmd}`);
    },
    async close() {
      await publisher?.close();
      await transport?.close();
      await db.destroy();
    },
  };
}

/** When each key first passed a point (published, delivered); `take` hands them over. */
class Stamps {
  private entries = new Map<string, number>();
  /** Publisher confirms awaited: how many messages each wait covered, and how long it took. */
  confirms: [messages: number, ms: number][] = [];

  note(key: string, at: number): void {
    if (!this.entries.has(key)) this.entries.set(key, at);
  }

  take(): [string, number][] {
    const out = [...this.entries];
    this.entries = new Map();
    return out;
  }

  takeConfirms(): [number, number][] {
    const out = this.confirms;
    this.confirms = [];
    return out;
  }
}

/** The keys (object id and version) of the operations an envelope carries. */
function envelopeKeys(body: Buffer): string[] {
  const envelope = JSON.parse(body.toString('utf8')) as Envelope;
  return envelope.operations.map((op) => `${op.id}:${op.version}`);
}

/** A transport that notes when the relay hands each operation to the broker. */
function stamping(transport: Transport, published: Stamps): Transport {
  return {
    publish: async (messages) => {
      const at = now();
      for (const message of messages) for (const key of envelopeKeys(message.body)) published.note(key, at);
      await transport.publish(messages);
      published.confirms.push([messages.length, now() - at]);
    },
    consume: (app, options, handle) => transport.consume(app, options, handle),
    parked: (app) => transport.parked(app),
    retryParked: (app, ids) => transport.retryParked(app, ids),
    dropParked: (app, ids) => transport.dropParked(app, ids),
    healthy: () => transport.healthy(),
    close: () => transport.close(),
  };
}

/**
 * A transport that notes when each operation is delivered to the subscriber and when it is
 * applied: at its acknowledgement, which follows the commit.
 */
function recording(
  transport: Transport,
  delivered: (keys: readonly string[]) => void,
  applied: (keys: readonly string[]) => void,
  deferred: () => void,
): Transport {
  return {
    publish: (messages) => transport.publish(messages),
    consume: (app, options, handle) =>
      transport.consume(app, options, (d) => {
        let keys: string[] = [];
        try {
          keys = envelopeKeys(d.body);
        } catch {
          // Malformed: the subscriber parks it.
        }
        delivered(keys);
        return handle({
          body: d.body,
          messageId: d.messageId,
          attempt: d.attempt,
          waitingSince: d.waitingSince,
          redelivered: d.redelivered,
          ack: () => {
            applied(keys);
            return d.ack();
          },
          retry: (error, delayMs) => d.retry(error, delayMs),
          defer: (delayMs, since) => {
            deferred();
            return d.defer(delayMs, since);
          },
          park: (reason) => d.park(reason),
        } satisfies Delivery);
      }),
    parked: (app) => transport.parked(app),
    retryParked: (app, ids) => transport.retryParked(app, ids),
    dropParked: (app, ids) => transport.dropParked(app, ids),
    healthy: () => transport.healthy(),
    close: () => transport.close(),
  };
}

/** What a subscriber process reports: when each key was applied, and what it cost. */
export interface Applied {
  readonly applied: [string, number][];
  /** When each key was first handed to the subscriber by the broker. */
  readonly delivered: [string, number][];
  /** Distinct keys applied since the start. */
  readonly total: number;
  readonly deferred: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly messages: number;
  readonly queries: Record<string, ShapeStat>;
}

/**
 * Every key applied so far (a duplicate counts once), with waiters for a count; `take` hands
 * over what was applied since the previous `take`. Shared by both subscribers.
 */
class AppliedLog {
  private readonly seen = new Set<string>();
  private fresh: [string, number][] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  readonly delivered = new Stamps();
  messages = 0;
  deferred = 0;
  errors = 0;
  firstError: string | undefined;

  add(key: string, at: number): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.fresh.push([key, at]);
    this.waiters = this.waiters.filter((w) => {
      if (this.seen.size < w.count) return true;
      w.resolve();
      return false;
    });
  }

  async until(count: number, timeoutMs: number): Promise<boolean> {
    if (this.seen.size >= count) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      });
    });
  }

  take(stats: QueryStats): Applied {
    const out: Applied = {
      applied: this.fresh,
      delivered: this.delivered.take(),
      total: this.seen.size,
      deferred: this.deferred,
      errors: this.errors,
      ...(this.firstError ? { firstError: this.firstError } : {}),
      messages: this.messages,
      queries: stats.snapshot(),
    };
    this.fresh = [];
    this.messages = 0;
    this.deferred = 0;
    this.errors = 0;
    this.firstError = undefined;
    stats.reset();
    return out;
  }
}

function subscriberCommands(log: AppliedLog, stats: QueryStats): (cmd: string, args: unknown) => Promise<unknown> {
  return async (cmd, args) => {
    if (cmd === 'until') {
      const { count, timeoutMs } = args as { count: number; timeoutMs: number };
      return log.until(count, timeoutMs);
    }
    if (cmd === 'take') return log.take(stats);
    throw new Error(`unknown command ${cmd}`);
  };
}

async function promiscuousPublisherRole(init: InitArgs): Promise<Role> {
  const db = connect(init.db);
  const stats = new QueryStats(statementShape);
  stats.attach(db);
  const transport = await AmqpTransport.connect({
    url: settings.amqpUrl,
    namespace: init.namespace,
    frameSize: settings.frameSize,
  });
  const errors = new ErrorLog();
  const published = new Stamps();
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport: stamping(transport, published),
    virtuals,
    errorNotifier: errors.note,
  });
  const workload = new Workload(
    {
      create: async (user) => {
        await publisher.transaction(async (tx) => void (await tx.User.create(user)));
        return [`${user.id}:1`, now()];
      },
      update: async (user, name) => {
        const row = await publisher.transaction(async (tx) => tx.User.update(user.id, { name }));
        return [`${user.id}:${Number(row?._v)}`, now()];
      },
    },
    init.updateShare,
  );
  return {
    call: async (cmd, args) => {
      if (cmd === 'run') {
        errors.take();
        const result = await drive(workload, args as RunArgs, stats);
        // Rows committed at the end are still on their way to the broker: wait for the relay.
        await publisher.relay?.flush();
        const { runtimeErrors, firstRuntimeError } = errors.take();
        return {
          ...result,
          published: published.take(),
          confirms: published.takeConfirms(),
          errors: result.errors + runtimeErrors,
          ...((result.firstError ?? firstRuntimeError) ? { firstError: result.firstError ?? firstRuntimeError } : {}),
        };
      }
      throw new Error(`unknown command ${cmd}`);
    },
    async close() {
      await publisher.close();
      await transport.close();
      await db.destroy();
    },
  };
}

async function promiscuousSubscriberRole(init: InitArgs): Promise<Role> {
  const db = connect(init.db);
  const stats = new QueryStats(statementShape);
  stats.attach(db);
  const log = new AppliedLog();
  const transport = await AmqpTransport.connect({
    url: settings.amqpUrl,
    namespace: init.namespace,
    frameSize: settings.frameSize,
  });
  const subscriber = new Subscriber({
    schema: sniper,
    knex: db,
    transport: recording(
      transport,
      (keys) => {
        const at = now();
        for (const key of keys) log.delivered.note(key, at);
      },
      (keys) => {
        const at = now();
        log.messages += 1;
        for (const key of keys) log.add(key, at);
      },
      () => {
        log.deferred += 1;
      },
    ),
    ...(init.prefetch ? { prefetch: init.prefetch } : {}),
    errorNotifier: (error) => {
      log.errors += 1;
      log.firstError ??= error.message;
    },
  });
  await subscriber.start();
  return {
    call: subscriberCommands(log, stats),
    async close() {
      await subscriber.stop();
      await transport.close();
      await db.destroy();
    },
  };
}

interface NaiveNames {
  readonly exchange: string;
  readonly queue: string;
}

const naiveNames = (namespace: string): NaiveNames => ({
  exchange: `${namespace}.naive`,
  queue: `${namespace}.naive.members`,
});

/** The naive producer: write the row, then publish its JSON and wait for the broker's confirm. */
async function naivePublisherRole(init: InitArgs): Promise<Role> {
  const db = connect(init.db);
  const stats = new QueryStats(statementShape);
  stats.attach(db);
  const { exchange } = naiveNames(init.namespace);
  // The same socket setting as the runtime's transport: the baseline gets what it would gain.
  const connection: ChannelModel = await amqp.connect(settings.amqpUrl, { noDelay: true });
  const channel: ConfirmChannel = await connection.createConfirmChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const publish = (message: Record<string, unknown>): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      channel.publish(
        exchange,
        'crowdtap.user',
        Buffer.from(JSON.stringify(message)),
        { persistent: true, contentType: 'application/json' },
        (error: unknown) => (error ? reject(new Error('not confirmed')) : resolve()),
      );
    });
  const sequence = new Map<string, number>();
  const published = new Stamps();
  const workload = new Workload(
    {
      create: async (user) => {
        await db.transaction(async (trx) => void (await trx('users').insert(bareRow(user))));
        const at = now();
        sequence.set(user.id, 1);
        const sent = now();
        published.note(`${user.id}:1`, sent);
        await publish({ ...user, seq: 1 });
        published.confirms.push([1, now() - sent]);
        return [`${user.id}:1`, at];
      },
      update: async (user, name) => {
        await db.transaction(async (trx) => void (await trx('users').where('id', user.id).update({ name })));
        const at = now();
        const seq = (sequence.get(user.id) ?? 1) + 1;
        sequence.set(user.id, seq);
        const sent = now();
        published.note(`${user.id}:${seq}`, sent);
        await publish({ ...user, seq });
        published.confirms.push([1, now() - sent]);
        return [`${user.id}:${seq}`, at];
      },
    },
    init.updateShare,
  );
  return {
    call: async (cmd, args) => {
      if (cmd === 'run') {
        const result = await drive(workload, args as RunArgs, stats);
        return { ...result, published: published.take(), confirms: published.takeConfirms() };
      }
      throw new Error(`unknown command ${cmd}`);
    },
    async close() {
      await connection.close().catch(() => {});
      await db.destroy();
    },
  };
}

/** The naive consumer: upsert the row by its foreign key, acknowledge. */
async function naiveSubscriberRole(init: InitArgs): Promise<Role> {
  const db = connect(init.db);
  const stats = new QueryStats(statementShape);
  stats.attach(db);
  const log = new AppliedLog();
  const { exchange, queue } = naiveNames(init.namespace);
  // The same socket setting as the runtime's transport: the baseline gets what it would gain.
  const connection: ChannelModel = await amqp.connect(settings.amqpUrl, { noDelay: true });
  const channel: Channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  // A classic queue of version 2, as the runtime declares its own.
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-version': 2 } });
  await channel.bindQueue(queue, exchange, '#');
  await channel.prefetch(init.prefetch ?? defaultPrefetch);
  const upsert = async (body: Buffer): Promise<void> => {
    const user = JSON.parse(body.toString('utf8')) as User & { seq: number };
    await db('members')
      .insert({ crowdtap_id: user.id, type: 'User', name: user.name, contact_email: user.email })
      .onConflict('crowdtap_id')
      .merge(['type', 'name', 'contact_email']);
    log.messages += 1;
    log.add(`${user.id}:${user.seq}`, now());
  };
  await channel.consume(queue, (message) => {
    if (!message) return;
    const at = now();
    const { id, seq } = JSON.parse(message.content.toString('utf8')) as { id: string; seq: number };
    log.delivered.note(`${id}:${seq}`, at);
    upsert(message.content).then(
      () => channel.ack(message),
      (error: Error) => {
        log.errors += 1;
        log.firstError ??= error.message;
        channel.nack(message, false, true);
      },
    );
  });
  return {
    call: subscriberCommands(log, stats),
    async close() {
      await connection.close().catch(() => {});
      await db.destroy();
    },
  };
}

/** The child side: the role its `init` names. */
function child(): void {
  serveChild(async (init) => {
    const args = init as InitArgs;
    const make = {
      overhead: overheadRole,
      'promiscuous-publisher': promiscuousPublisherRole,
      'promiscuous-subscriber': promiscuousSubscriberRole,
      'naive-publisher': naivePublisherRole,
      'naive-subscriber': naiveSubscriberRole,
    }[args.role];
    return make(args);
  });
}

/** The coordinator's handle on a child process; one that hangs on closing is killed after 15 s. */
const worker = (label: string): Worker =>
  new Worker(self, label, settings.profile, { profileName: `${label}.${process.pid}.cpuprofile`, killAfterMs: 15_000 });

// ---------------------------------------------------------------------------------------------
// CPU accounting: on a small machine every process competes for the same cores

/** The services whose processes the CPU accounting names (MariaDB too). */
function serviceOf(comm: string): string | undefined {
  if (comm === 'postgres') return 'PostgreSQL';
  if (comm === 'beam.smp' || comm.startsWith('erl')) return 'RabbitMQ';
  if (comm === 'mariadbd') return 'MariaDB';
  return undefined;
}

/**
 * Waits (up to BENCH_QUIET_WAIT seconds) until the machine is nearly idle before a figure: on a
 * shared machine, other work would otherwise take the cores from one measurement and not the next.
 */
async function quiet(label: string): Promise<void> {
  const started = now();
  try {
    await untilQuiet(label, started + settings.quietWait * 1000);
  } finally {
    waited += now() - started;
  }
}

/** Milliseconds spent waiting for a quiet machine. */
let waited = 0;

async function untilQuiet(label: string, deadline: number): Promise<void> {
  while (settings.quietWait > 0) {
    const a = cpuSample();
    await sleep(1000);
    const b = cpuSample();
    if (!a || !b) return;
    const busy = ((b.busy - a.busy) * clockTick) / (b.at - a.at);
    if (busy < 0.25) return;
    if (now() > deadline) {
      console.log(`  ${label}: other processes still keep ${fmt(busy, 2)} cores busy; measuring anyway`);
      return;
    }
  }
}

function sumCpu(...all: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of all) addCpu(out, x);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Coordination: the figures

const namespaces: string[] = [];
const databases: TempDb[] = [];

async function tempDb(kind: Dialect, side: 'publisher' | 'subscriber'): Promise<TempDb> {
  const db = await createDb(kind, side);
  databases.push(db);
  return db;
}

async function dropDb(db: TempDb): Promise<void> {
  databases.splice(databases.indexOf(db), 1);
  await db.drop().catch((e: Error) => console.error(`could not drop a database: ${e.message}`));
}

function namespace(): string {
  const ns = randomName('prom_bench');
  namespaces.push(ns);
  return ns;
}

interface OverheadFigure {
  readonly dialect: Dialect;
  readonly op: 'create' | 'update';
  readonly bare: number;
  readonly published: number;
  readonly ratio: number;
  readonly roundRatios: number[];
  readonly bareQueries: Record<string, ShapeStat>;
  readonly publishedQueries: Record<string, ShapeStat>;
  readonly bareWrites: number;
  readonly publishedWrites: number;
  readonly backlog: number;
  /** CPU milliseconds by process during the measured phases. */
  readonly bareCpu: Record<string, number>;
  readonly publishedCpu: Record<string, number>;
  /** With BENCH_DECOMPOSE=1: the hooks' statements alone, and the hooks with the relay off. */
  readonly decomposition?: {
    readonly statements: number;
    readonly relayOff: number;
    readonly statementsCpu: number;
    readonly relayOffCpu: number;
  };
}

interface PhaseResult {
  readonly runtimeErrors: number;
  readonly firstRuntimeError?: string;
  readonly writes: number;
  readonly ms: number;
  readonly backlog: number;
  readonly drainMs: number;
  readonly queries: Record<string, ShapeStat>;
}

async function overhead(kind: Dialect): Promise<OverheadFigure[]> {
  const variants: Variant[] = settings.decompose
    ? ['bare', 'statements', 'relay-off', 'publisher']
    : ['bare', 'publisher'];
  // Bare and publisher share one database (and table); the decomposition's sides have their
  // own, since their outbox rows are never published.
  const shared = await tempDb(kind, 'publisher');
  const dbs: TempDb[] = [shared];
  const workers = {} as Record<Variant, Worker>;
  const writers = settings.writers;
  try {
    const ns = namespace();
    for (const variant of variants) {
      const db = variant === 'bare' || variant === 'publisher' ? shared : await tempDb(kind, 'publisher');
      if (db !== shared) dbs.push(db);
      const statements = variant === 'statements' ? await captureStatements(db.ref) : undefined;
      workers[variant] = worker(`overhead-${variant}-${kind}`);
      await workers[variant].call('init', {
        role: 'overhead',
        variant,
        db: db.ref,
        namespace: ns,
        updateShare: 0,
        ...(statements ? { statements } : {}),
      } satisfies InitArgs);
      await workers[variant].call('seed', { writers, perWriter: 200 });
    }
    const mine = new Map(variants.map((v) => [workers[v].pid, `app (${v})`]));
    const figures: OverheadFigure[] = [];
    for (const op of ['create', 'update'] as const) {
      const phase = (variant: Variant, seconds: number) =>
        workers[variant].call<PhaseResult>('phase', { op, seconds, writers });
      // Warm-up: every path compiled and every pool full before anything is measured.
      for (const variant of variants) await phase(variant, Math.min(0.5, settings.overheadSeconds));
      const totals = {} as Record<Variant, { writes: number; ms: number }>;
      const queries = {} as Record<Variant, Record<string, ShapeStat>>;
      const cpu = {} as Record<Variant, Record<string, number>>;
      for (const v of variants) {
        totals[v] = { writes: 0, ms: 0 };
        queries[v] = {};
        cpu[v] = {};
      }
      const roundRatios: number[] = [];
      let backlog = 0;
      for (let round = 0; round < settings.rounds; round++) {
        // ABBA: the order alternates, so that a drift (a growing table, a checkpoint) hits both.
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        const rates: Partial<Record<Variant, number>> = {};
        for (const variant of order) {
          const before = cpuSample();
          const r = await phase(variant, settings.overheadSeconds);
          addCpu(cpu[variant], cpuSpent(before, cpuSample(), mine, serviceOf));
          if (r.runtimeErrors > 0) {
            console.log(`  ${kind} ${op} ${variant}: ${r.runtimeErrors} runtime errors: ${r.firstRuntimeError}`);
          }
          totals[variant].writes += r.writes;
          totals[variant].ms += r.ms;
          addShapes(queries[variant], r.queries);
          rates[variant] = r.writes / (r.ms / 1000);
          if (variant === 'publisher') backlog = Math.max(backlog, r.backlog);
        }
        roundRatios.push((rates.publisher ?? 0) / (rates.bare ?? 1));
      }
      const rate = (v: Variant): number => totals[v].writes / (totals[v].ms / 1000);
      const bare = rate('bare');
      const published = rate('publisher');
      figures.push({
        dialect: kind,
        op,
        bare,
        published,
        ratio: published / bare,
        roundRatios,
        bareQueries: queries.bare,
        publishedQueries: queries.publisher,
        bareWrites: totals.bare.writes,
        publishedWrites: totals.publisher.writes,
        backlog,
        bareCpu: cpu.bare,
        publishedCpu: cpu.publisher,
        ...(settings.decompose
          ? {
              decomposition: {
                statements: rate('statements'),
                relayOff: rate('relay-off'),
                statementsCpu: perWriteOf(cpu.statements, totals.statements.writes, 'app (statements)'),
                relayOffCpu: perWriteOf(cpu['relay-off'], totals['relay-off'].writes, 'app (relay-off)'),
              },
            }
          : {}),
      });
      console.log(
        `  ${kind} ${op}: bare ${fmt(bare)}/s, publisher ${fmt(published)}/s, ratio ${fmt(published / bare, 2)}${settings.decompose ? ` (statements alone ${fmt(rate('statements'))}/s, relay off ${fmt(rate('relay-off'))}/s)` : ''}`,
      );
    }
    return figures;
  } finally {
    for (const w of Object.values(workers)) await w.close();
    for (const db of dbs) await dropDb(db);
  }
}

/** CPU milliseconds per write of one process. */
function perWriteOf(cpu: Record<string, number>, writes: number, who: string): number {
  return (cpu[who] ?? 0) / Math.max(1, writes);
}

interface Measured {
  readonly writes: number;
  readonly commitRate: number;
  readonly e2eRate: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly missing: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly deferred: number;
  readonly late: number;
  readonly rate?: number;
  readonly publisherQueries: Record<string, ShapeStat>;
  readonly subscriberQueries: Record<string, ShapeStat>;
  readonly messages: number;
  /** CPU milliseconds by process, from the first write until the last was applied. */
  readonly cpu: Record<string, number>;
  /** p50 and p99 of each leg: commit to publish, publish to delivery, delivery to applied. */
  readonly legs: Record<'publish' | 'deliver' | 'apply', { p50: number; p99: number }>;
  /** Waits for publisher confirms: how many, messages per wait, p50 and p99 of their length. */
  readonly confirms: { waits: number; perWait: number; p50: number; p99: number };
}

/** One measured phase of a pipeline: what the publisher wrote, what the subscriber applied. */
interface Part {
  readonly run: RunResult;
  readonly applied: Applied;
  readonly cpu: Record<string, number>;
}

/** The figures of a pipeline over one or more phases (rounds alternating with the other pipeline). */
function measure(parts: readonly Part[], rate?: number): Measured {
  const latencies: number[] = [];
  const legs = { publish: [] as number[], deliver: [] as number[], apply: [] as number[] };
  let writes = 0;
  let missing = 0;
  let commitMs = 0;
  let appliedMs = 0;
  const cpu: Record<string, number> = {};
  const publisherQueries: Record<string, ShapeStat> = {};
  const subscriberQueries: Record<string, ShapeStat> = {};
  let errors = 0;
  let firstError: string | undefined;
  let deferred = 0;
  let late = 0;
  let messages = 0;
  const confirmWaits: number[] = [];
  let confirmed = 0;
  for (const { run, applied, cpu: spent } of parts) {
    for (const [n, ms] of run.confirms) {
      confirmWaits.push(ms);
      confirmed += n;
    }
    const at = new Map(applied.applied);
    const published = new Map(run.published);
    const delivered = new Map(applied.delivered);
    let lastCommit = run.start;
    let lastApplied = run.start;
    for (const [key, committed] of run.commits) {
      lastCommit = Math.max(lastCommit, committed);
      const done = at.get(key);
      if (done === undefined) {
        missing += 1;
        continue;
      }
      lastApplied = Math.max(lastApplied, done);
      latencies.push(done - committed);
      const p = published.get(key);
      const d = delivered.get(key);
      if (p === undefined || d === undefined) continue;
      legs.publish.push(p - committed);
      legs.deliver.push(d - p);
      legs.apply.push(done - d);
    }
    writes += run.commits.length;
    commitMs += lastCommit - run.start;
    appliedMs += lastApplied - run.start;
    addCpu(cpu, spent);
    addShapes(publisherQueries, run.queries);
    addShapes(subscriberQueries, applied.queries);
    errors += run.errors + applied.errors;
    firstError ??= run.firstError ?? applied.firstError;
    deferred += applied.deferred;
    late += run.late;
    messages += applied.messages;
  }
  latencies.sort((a, b) => a - b);
  const summary = (values: number[]): { p50: number; p99: number } => {
    values.sort((x, y) => x - y);
    return { p50: percentile(values, 0.5), p99: percentile(values, 0.99) };
  };
  return {
    writes,
    commitRate: writes / (commitMs / 1000),
    e2eRate: (writes - missing) / (appliedMs / 1000),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.at(-1) ?? Number.NaN,
    missing,
    errors,
    ...(firstError ? { firstError } : {}),
    deferred,
    late,
    ...(rate === undefined ? {} : { rate }),
    publisherQueries,
    subscriberQueries,
    messages,
    cpu,
    legs: { publish: summary(legs.publish), deliver: summary(legs.deliver), apply: summary(legs.apply) },
    confirms: {
      waits: confirmWaits.length,
      perWait: confirmed / Math.max(1, confirmWaits.length),
      ...summary(confirmWaits),
    },
  };
}

interface Pipeline {
  readonly max: Measured;
  readonly latency: Measured;
}

type Kind = 'promiscuous' | 'naive';

/** A pipeline's two processes on their fresh databases. */
class Running {
  private expected = 0;

  private constructor(
    readonly kind: Kind,
    private readonly pub: Worker,
    private readonly sub: Worker,
    private readonly dbs: readonly TempDb[],
  ) {}

  static async start(kind: Kind, from: Dialect, to: Dialect): Promise<Running> {
    const pubDb = await tempDb(from, 'publisher');
    const subDb = await tempDb(to, 'subscriber');
    const sub = worker(`${kind}-subscriber-${to}`);
    const pub = worker(`${kind}-publisher-${from}`);
    const running = new Running(kind, pub, sub, [pubDb, subDb]);
    const common = { namespace: namespace(), updateShare: settings.updateShare, prefetch: settings.prefetch };
    try {
      // The subscriber first: its queue must exist before anything is published.
      await sub.call('init', { role: `${kind}-subscriber`, db: subDb.ref, ...common } satisfies InitArgs);
      await pub.call('init', { role: `${kind}-publisher`, db: pubDb.ref, ...common } satisfies InitArgs);
    } catch (error) {
      await running.close();
      throw error;
    }
    return running;
  }

  /** Writes, then waits until the subscriber applied every write. */
  async phase(args: RunArgs): Promise<Part> {
    const mine = new Map([
      [this.pub.pid, 'publisher'],
      [this.sub.pid, 'subscriber'],
    ]);
    const before = cpuSample();
    const run = await this.pub.call<RunResult>('run', args);
    this.expected += run.commits.length;
    const timeoutMs = Math.max(30_000, args.seconds * 6_000);
    const complete = await this.sub.call<boolean>('until', { count: this.expected, timeoutMs });
    const cpu = cpuSpent(before, cpuSample(), mine, serviceOf);
    const applied = await this.sub.call<Applied>('take');
    if (!complete) {
      console.log(`  ${this.kind}: the subscriber had not applied everything after ${timeoutMs / 1000} s`);
      this.expected = applied.total; // what arrives late is not counted
    }
    if (run.errors > 0) console.log(`  ${this.kind}: ${run.errors} writes failed: ${run.firstError}`);
    return { run, applied, cpu };
  }

  async close(): Promise<void> {
    await this.pub.close();
    await this.sub.close();
    for (const db of this.dbs) await dropDb(db);
  }
}

interface PairFigure {
  readonly from: Dialect;
  readonly to: Dialect;
  readonly promiscuous: Pipeline;
  readonly naive: Pipeline;
}

/**
 * Both pipelines of a pair, alive together and measured in alternation (ABBA), so that a
 * change of the machine's load during the run falls on both: full speed first, then the
 * fixed rate that full speed gives.
 */
async function pair(from: Dialect, to: Dialect): Promise<PairFigure> {
  const pipelines: Running[] = [];
  try {
    for (const kind of ['promiscuous', 'naive'] as const) pipelines.push(await Running.start(kind, from, to));
    const rounds = settings.e2eRounds;
    const alternate = async (args: (kind: Kind) => RunArgs): Promise<Record<Kind, Part[]>> => {
      const parts: Record<Kind, Part[]> = { promiscuous: [], naive: [] };
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? pipelines : [...pipelines].reverse();
        for (const p of order) parts[p.kind].push(await p.phase(args(p.kind)));
      }
      return parts;
    };
    for (const p of pipelines)
      await p.phase({ mode: 'max', seconds: settings.warmupSeconds, writers: settings.writers });
    const full = await alternate(() => ({
      mode: 'max',
      seconds: settings.e2eSeconds / rounds,
      writers: settings.writers,
    }));
    const max = { promiscuous: measure(full.promiscuous), naive: measure(full.naive) };
    for (const kind of ['promiscuous', 'naive'] as const) {
      const x = max[kind];
      console.log(
        `  ${kind} ${from}>${to} full speed: ${x.writes} writes, ${fmt(x.commitRate)} commits/s, ${fmt(x.e2eRate)} applied/s, p50 ${fmt(x.p50, 1)} ms, p99 ${fmt(x.p99, 1)} ms`,
      );
    }
    // Half the promiscuous pipeline's maximum; the naive one at the same rate unless that is
    // more than half its own maximum.
    const rates = {
      promiscuous: settings.latencyRate ?? max.promiscuous.e2eRate / 2,
      naive: Math.min(settings.latencyRate ?? max.promiscuous.e2eRate / 2, max.naive.e2eRate / 2),
    };
    const half = await alternate((kind) => ({
      mode: 'rate',
      seconds: settings.latencySeconds / rounds,
      writers: settings.writers,
      rate: rates[kind],
    }));
    const latency = {
      promiscuous: measure(half.promiscuous, rates.promiscuous),
      naive: measure(half.naive, rates.naive),
    };
    for (const kind of ['promiscuous', 'naive'] as const) {
      const x = latency[kind];
      console.log(
        `  ${kind} ${from}>${to} at ${fmt(rates[kind])}/s: p50 ${fmt(x.p50, 1)} ms, p99 ${fmt(x.p99, 1)} ms, max ${fmt(x.max, 1)} ms`,
      );
    }
    return {
      from,
      to,
      promiscuous: { max: max.promiscuous, latency: latency.promiscuous },
      naive: { max: max.naive, latency: latency.naive },
    };
  } finally {
    for (const p of pipelines) await p.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The machine

async function machine(): Promise<Machine> {
  const versions: Record<string, string> = {};
  const used = new Set<Dialect>([...settings.dialects, ...settings.pairs.flat()]);
  if (used.has('sqlite')) {
    const k = connect({ dialect: 'sqlite' });
    const [row] = (await k.raw('select sqlite_version() as v')) as [{ v: string }];
    versions.SQLite = `${row.v} (better-sqlite3 ${pkg('better-sqlite3')}, journal ${settings.sqliteJournal === 'wal' ? 'WAL, synchronous=NORMAL' : 'DELETE, synchronous=FULL'})`;
    await k.destroy();
  }
  if (used.has('postgres')) {
    versions.PostgreSQL = await postgresVersion();
  }
  if (used.has('mariadb')) {
    await admin('mariadb', async (k) => {
      const [rows] = (await k.raw('select version() as v')) as [{ v: string }[]];
      versions.MariaDB = `${rows[0]?.v} (mysql2 ${pkg('mysql2')})`;
    });
  }
  versions.RabbitMQ = await rabbitVersion();
  versions.knex = pkg('knex');
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    if (dirty) commit += ' (src/ modified)';
  } catch {}
  return describeMachine(versions, commit);
}

// ---------------------------------------------------------------------------------------------
// Reporting

interface Results {
  readonly machine: Machine;
  readonly overhead: OverheadFigure[];
  readonly pairs: PairFigure[];
  readonly seconds: number;
  readonly waitedSeconds: number;
  readonly date: string;
  /** Cores kept busy, on average, by processes other than this benchmark's and its services'. */
  readonly otherCores: number | undefined;
}

function goalsOf(r: Results): FigureGoal[] {
  const out: FigureGoal[] = [];
  for (const f of r.overhead) {
    out.push({
      figure: '1',
      what: `publisher overhead, ${f.dialect}, ${f.op}`,
      value: fmt(f.ratio, 2),
      goal: `>= ${goals.overhead}`,
      ok: f.ratio >= goals.overhead,
    });
  }
  for (const p of r.pairs) {
    const name = `${p.from} > ${p.to}`;
    const vsNaive = p.promiscuous.max.e2eRate / p.naive.max.e2eRate;
    const vsCommits = p.promiscuous.max.e2eRate / p.promiscuous.max.commitRate;
    out.push({
      figure: '2a',
      what: `end-to-end / naive pipeline, ${name}`,
      value: fmt(vsNaive, 2),
      goal: `>= ${goals.versusNaive}`,
      ok: vsNaive >= goals.versusNaive,
    });
    out.push({
      figure: '2b',
      what: `end-to-end / publishers' commits, ${name}`,
      value: fmt(vsCommits, 2),
      goal: `>= ${goals.versusCommits}`,
      ok: vsCommits >= goals.versusCommits,
    });
    const l = p.promiscuous.latency;
    out.push({
      figure: '3',
      what: `latency p50 at ${fmt(l.rate ?? 0)}/s, ${name}`,
      value: `${fmt(l.p50, 1)} ms`,
      goal: `< ${goals.p50} ms`,
      ok: l.p50 < goals.p50 && l.missing === 0,
    });
    out.push({
      figure: '3',
      what: `latency p99 at ${fmt(l.rate ?? 0)}/s, ${name}`,
      value: `${fmt(l.p99, 1)} ms`,
      goal: `< ${goals.p99} ms`,
      ok: l.p99 < goals.p99 && l.missing === 0,
    });
  }
  return out;
}

/** Statements per write (or per message), by shape, and the time they took. */
function perWrite(s: Record<string, ShapeStat>, writes: number): string {
  return Object.entries(s)
    .sort((a, b) => b[1].n - a[1].n)
    .map(([k, v]) => `${k} ${fmt(v.n / writes, 2)}${v.ms > 0 ? ` (${fmt(v.ms / v.n, 2)} ms)` : ''}`)
    .join(', ');
}

function render(r: Results, markdown: boolean): string {
  const out: string[] = [];
  const h = (text: string): void => void out.push(markdown ? `\n### ${text}\n` : `\n${text}\n`);
  const m = r.machine;
  if (markdown) {
    out.push(
      `Measured ${r.date} at commit ${m.commit}, in ${fmt(r.seconds)} s${r.waitedSeconds > 0.5 ? ` (and ${fmt(r.waitedSeconds)} s waiting for a quiet machine)` : ''}. Regenerate with \`node --conditions=source --import tsx bench/replication.ts\`.`,
      '',
      `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memory} memory; ${m.os}; Node ${m.node}`,
      ...Object.entries(m.versions).map(([k, v]) => `- ${k} ${v}`),
      `- Everything on this one machine: the databases, RabbitMQ, the publisher and the subscriber processes.`,
      ...(r.otherCores === undefined
        ? []
        : [
            `- Other processes on the machine kept ${fmt(r.otherCores, 2)} of its ${m.cores} cores busy on average while the figures were measured${r.otherCores > 0.2 ? ' (**the figures are disturbed by that load**)' : ''}; the column "other load" gives it for each figure.`,
          ]),
      `- Publisher and subscriber processes run with NODE_ENV=${settings.nodeEnv}.`,
      `- ${settings.writers} concurrent writers; subscriber prefetch ${settings.prefetch ?? `${defaultPrefetch} (default)`}; ${fmt(settings.updateShare * 100)}% updates in figures 2-3.`,
      '',
    );
  }

  h(
    `Figure 1: publisher overhead (one-row transactions, ${settings.writers} writers, ${settings.rounds} rounds of ${settings.overheadSeconds} s per phase)`,
  );
  out.push(
    table(
      [
        [
          'database',
          'write',
          'bare knex tx/s',
          'publisher tx/s',
          'ratio',
          'per round',
          'Knex statements per write: bare',
          'publisher (incl. relay; statements it runs on its connection itself not counted)',
          'outbox backlog',
          'other load',
        ],
        ...r.overhead.map((f) => [
          f.dialect,
          f.op,
          fmt(f.bare),
          fmt(f.published),
          fmt(f.ratio, 2),
          f.roundRatios.map((x) => fmt(x, 2)).join(' / '),
          fmt(totalStatements(f.bareQueries) / f.bareWrites, 1),
          fmt(totalStatements(f.publishedQueries) / f.publishedWrites, 1),
          String(f.backlog),
          fmt(otherLoad(sumCpu(f.bareCpu, f.publishedCpu)), 2),
        ]),
      ],
      markdown,
    ),
  );

  const decomposed = r.overhead.filter((f) => f.decomposition);
  if (decomposed.length > 0) {
    h(
      'Figure 1, decomposed: where the publisher loses against bare writes (tx/s, ratio to bare, app CPU ms per write)',
    );
    const cpuOf = (f: OverheadFigure, c: Record<string, number>, writes: number, who: string): string =>
      fmt(perWriteOf(c, writes, who), 2);
    out.push(
      table(
        [
          ['database', 'write', 'bare', "the hooks' statements as raw SQL", 'hooks, relay off', 'hooks + relay'],
          ...decomposed.map((f) => {
            const d = f.decomposition as NonNullable<OverheadFigure['decomposition']>;
            return [
              f.dialect,
              f.op,
              `${fmt(f.bare)} (1.00; ${cpuOf(f, f.bareCpu, f.bareWrites, 'app (bare)')} ms)`,
              `${fmt(d.statements)} (${fmt(d.statements / f.bare, 2)}; ${fmt(d.statementsCpu, 2)} ms)`,
              `${fmt(d.relayOff)} (${fmt(d.relayOff / f.bare, 2)}; ${fmt(d.relayOffCpu, 2)} ms)`,
              `${fmt(f.published)} (${fmt(f.ratio, 2)}; ${cpuOf(f, f.publishedCpu, f.publishedWrites, 'app (publisher)')} ms)`,
            ];
          }),
        ],
        markdown,
      ),
    );
  }

  h(
    `Figure 2: end-to-end throughput, commit to applied (${settings.writers} writers at full speed for ${settings.e2eSeconds} s)`,
  );
  const rows: string[][] = [
    [
      'publisher > subscriber',
      'pipeline',
      'writes',
      'commits/s',
      'applied/s',
      'applied / commits',
      'p50 ms',
      'p99 ms',
      'deferred',
      'confirm waits: msgs each, p50/p99 ms',
      'statements: per write',
      'per message',
      'other load',
    ],
  ];
  for (const p of r.pairs) {
    for (const kind of ['promiscuous', 'naive'] as const) {
      const x = p[kind].max;
      rows.push([
        `${p.from} > ${p.to}`,
        kind,
        String(x.writes),
        fmt(x.commitRate),
        fmt(x.e2eRate),
        fmt(x.e2eRate / x.commitRate, 2),
        fmt(x.p50, 1),
        fmt(x.p99, 1),
        String(x.deferred),
        `${fmt(x.confirms.perWait, 1)}, ${fmt(x.confirms.p50, 1)} / ${fmt(x.confirms.p99, 1)}`,
        fmt(totalStatements(x.publisherQueries) / x.writes, 1),
        fmt(totalStatements(x.subscriberQueries) / Math.max(1, x.messages), 1),
        fmt(otherLoad(x.cpu), 2),
      ]);
    }
  }
  out.push(table(rows, markdown));

  h(`Figure 3: latency commit to applied at half the maximum load (open loop, ${settings.latencySeconds} s)`);
  const lrows: string[][] = [
    [
      'publisher > subscriber',
      'pipeline',
      'rate /s',
      'writes',
      'p50 ms',
      'p99 ms',
      'max ms',
      'commit > publish p50/p99',
      'publish > delivery',
      'delivery > applied',
      'deferred',
      'lost',
      'other load',
    ],
  ];
  for (const p of r.pairs) {
    for (const kind of ['promiscuous', 'naive'] as const) {
      const x = p[kind].latency;
      lrows.push([
        `${p.from} > ${p.to}`,
        kind,
        fmt(x.rate ?? 0),
        String(x.writes),
        fmt(x.p50, 1),
        fmt(x.p99, 1),
        fmt(x.max, 1),
        `${fmt(x.legs.publish.p50, 1)} / ${fmt(x.legs.publish.p99, 1)}`,
        `${fmt(x.legs.deliver.p50, 1)} / ${fmt(x.legs.deliver.p99, 1)}`,
        `${fmt(x.legs.apply.p50, 1)} / ${fmt(x.legs.apply.p99, 1)}`,
        String(x.deferred),
        String(x.missing),
        fmt(otherLoad(x.cpu), 2),
      ]);
    }
  }
  out.push(table(lrows, markdown));

  h('Goals');
  out.push(
    table(
      [
        ['figure', 'measure', 'value', 'goal', 'result'],
        ...goalsOf(r).map((g) => [g.figure, g.what, g.value, g.goal, verdict(g.ok)]),
      ],
      markdown,
    ),
  );
  const failures = r.pairs.flatMap((p) =>
    (['promiscuous', 'naive'] as const).flatMap((kind) =>
      (['max', 'latency'] as const)
        .filter((phase) => p[kind][phase].errors > 0 || p[kind][phase].missing > 0)
        .map(
          (phase) =>
            `${p.from} > ${p.to} ${kind} ${phase}: ${p[kind][phase].errors} errors, ${p[kind][phase].missing} writes never applied${p[kind][phase].firstError ? ` (${p[kind][phase].firstError?.split('\n')[0]})` : ''}`,
        ),
    ),
  );
  if (failures.length > 0) out.push('', ...failures.map((f) => `${markdown ? '- ' : ''}warning: ${f}`));

  if (settings.breakdown || markdown) {
    h('Where the time goes: CPU per write by process, statements per write (or applied message) with their mean time');
    const b: string[][] = [['where', 'per write (or applied message)']];
    for (const f of r.overhead) {
      b.push([`fig. 1 ${f.dialect} ${f.op}, bare: CPU ms per write`, cpuPer(f.bareCpu, f.bareWrites)]);
      b.push([`fig. 1 ${f.dialect} ${f.op}, publisher: CPU ms per write`, cpuPer(f.publishedCpu, f.publishedWrites)]);
      b.push([`fig. 1 ${f.dialect} ${f.op}, bare`, perWrite(f.bareQueries, f.bareWrites)]);
      b.push([`fig. 1 ${f.dialect} ${f.op}, publisher`, perWrite(f.publishedQueries, f.publishedWrites)]);
    }
    for (const p of r.pairs) {
      for (const kind of ['promiscuous', 'naive'] as const) {
        const x = p[kind].max;
        b.push([`fig. 2 ${p.from} > ${p.to} ${kind}: CPU ms per write`, cpuPer(x.cpu, x.writes)]);
        b.push([`fig. 2 ${p.from} > ${p.to} ${kind}, publisher`, perWrite(x.publisherQueries, x.writes)]);
        b.push([
          `fig. 2 ${p.from} > ${p.to} ${kind}, subscriber`,
          perWrite(x.subscriberQueries, Math.max(1, x.messages)),
        ]);
      }
    }
    out.push(table(b, markdown));
    out.push(
      '',
      "Statements are those Knex reports. On PostgreSQL the publisher's BEGIN and outbox row are not among them (it runs them on its connection itself), and the subscriber's BEGIN and COMMIT, which Knex reports, travel with the statements next to them: no round trip of their own.",
    );
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function cleanup(): Promise<void> {
  for (const db of [...databases]) await dropDb(db);
  if (namespaces.length === 0) return;
  try {
    const connection = await amqp.connect(settings.amqpUrl);
    for (const ns of namespaces) {
      const n = names(ns);
      const queues = [
        n.queue(sniper.app),
        n.parked(sniper.app),
        ...Array.from({ length: 6 }, (_, level) => n.retry(sniper.app, level)),
        naiveNames(ns).queue,
      ];
      // A channel per deletion: deleting what does not exist closes the channel.
      for (const queue of queues) {
        const channel = await connection.createChannel();
        channel.on('error', () => {});
        await channel.deleteQueue(queue).catch(() => {});
        await channel.close().catch(() => {});
      }
      for (const exchange of [n.exchange, naiveNames(ns).exchange]) {
        const channel = await connection.createChannel();
        channel.on('error', () => {});
        await channel.deleteExchange(exchange).catch(() => {});
        await channel.close().catch(() => {});
      }
    }
    await connection.close();
  } catch (error) {
    console.error(`could not remove the AMQP queues: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  const started = now();
  const cpuAtStart = cpuSample();
  if (settings.profile) mkdirSync(settings.profile, { recursive: true });
  // A benchmark reports: the exit status is 0 even when it fails.
  await runBenchmark(
    async () => {
      const m = await machine();
      console.log(`replication benchmark: ${machineBanner(m)}`);
      console.log('figure 1: publisher overhead');
      const overheadFigures: OverheadFigure[] = [];
      for (const kind of settings.dialects) {
        await quiet(`figure 1 on ${kind}`);
        overheadFigures.push(...(await overhead(kind)));
      }
      console.log('figures 2 and 3: end to end');
      const pairs: PairFigure[] = [];
      for (const [from, to] of settings.pairs) {
        await quiet(`figures 2 and 3 on ${from} > ${to}`);
        pairs.push(await pair(from, to));
      }
      const results: Results = {
        otherCores: cpuAtStart ? loadTotals.other / Math.max(1, loadTotals.wall) : undefined,
        machine: m,
        overhead: overheadFigures,
        pairs,
        seconds: (now() - started - waited) / 1000,
        waitedSeconds: waited / 1000,
        date: isoNow(),
      };
      console.log(render(results, false));
      writeSection('replication', `## Replication runtime\n\n${render(results, true)}`);
      const goalsList = goalsOf(results);
      console.log(
        `\n${goalsList.filter((g) => g.ok).length} of ${goalsList.length} goals met; ${fmt(results.seconds)} s${results.waitedSeconds > 0.5 ? ` (and ${fmt(results.waitedSeconds)} s waiting for a quiet machine)` : ''}; written to ${settings.out}`,
      );
    },
    { cleanup },
  );
}

if (process.argv[2] === '--child') child();
else await main();
