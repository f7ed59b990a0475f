/**
 * Initial-sync benchmark: how fast `initialSync` (what `promiscuous publish` runs) brings a new
 * subscriber up to date with a large table while live writes go on, and whether it ends with
 * exactly the publisher's rows.
 *
 *   npm run bench:sync                                    1,000,000 rows, PostgreSQL
 *   npm run bench:sync -- --rows 100000                   a quick run
 *   node --conditions=source --import tsx bench/initial-sync.ts --pairs postgres>postgres,sqlite>sqlite
 *
 * 1. The publisher's tables (users example) are bulk-loaded: organizations, then users with
 *    `_v` = 1, a tenth of them Members, each referencing an organization (PostgreSQL:
 *    `INSERT ... SELECT` over `generate_series`; SQLite: over a recursive CTE). Nothing of it
 *    is published: the subscriber did not exist.
 * 2. The subscriber starts (one process, the `Subscriber`'s defaults: causal mode, prefetch 5)
 *    on a fresh database, and live writers start in another process (a `Publisher` with its
 *    relay, which also answers re-sync requests): an open loop of one-row transactions, half
 *    renames of random existing users, half new users.
 * 3. A third process runs `initialSync` as `promiscuous publish Organization User` does (a
 *    `Publisher` without relay, pages of 1,000 rows, messages of 100 rows). Published rate:
 *    rows over the time from its start until the broker confirmed the last page. Applied rate:
 *    the loaded rows over the time from the sync's start until the subscriber held every one
 *    of them (had acknowledged a sync, or a later operation, of each).
 * 4. The live writers stop; once the subscriber's queues are empty, the subscriber's rows are
 *    compared with the publisher's: count and an order-independent checksum of the published
 *    attributes (users: id, type, name, email, points; organizations: id, name).
 *
 * Writes its section of BENCHMARKS.md between `<!-- initial-sync:start -->` and
 * `<!-- initial-sync:end -->`.
 *
 * Options (flag or environment):
 *   --rows BENCH_SYNC_ROWS=1000000            users loaded before the subscriber starts
 *   --orgs BENCH_SYNC_ORGS=1000               organizations
 *   --pairs BENCH_SYNC_PAIRS=postgres>postgres   publisher>subscriber databases (sqlite works too)
 *   --live-rate BENCH_SYNC_LIVE_RATE=50       live writes per second during the sync (0: none)
 *   --page-size BENCH_SYNC_PAGE_SIZE=1000     rows per page, as `promiscuous publish --page-size`
 *   --timeout BENCH_SYNC_TIMEOUT              seconds to wait for the subscriber (default 300 + rows / 1000)
 *   --profile <dir> (BENCH_PROFILE)           CPU profiles of the child processes, summarised in the report
 *   BENCH_OUT=<file>                          where to write (default BENCHMARKS.md)
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import type { Knex } from 'knex';
import { schema as crowdtap, type Hooks, type Virtuals } from '../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../examples/users/generated/sniper/subscriber.js';
import {
  AmqpTransport,
  type Delivery,
  initialSync,
  Publisher,
  resyncQueueApp,
  Subscriber,
} from '../src/runtime/index.js';
import { names } from '../src/transport/amqp/topology.js';
import {
  admin,
  connect,
  coresBusy,
  cpuPer,
  cpuSample,
  cpuSpent,
  type DbRef,
  type DeliveredOperation,
  deliveredOperations,
  type Dialect,
  dropDb,
  fmt,
  type Goal,
  hash64,
  isoNow,
  loadTotals,
  type Machine,
  machine,
  machineBanner,
  machineLines,
  namespace,
  now,
  numberOption,
  option,
  otherLoad,
  pairs,
  percentile,
  perUnit,
  profileFiles,
  QueryStats,
  report,
  type Role,
  runBenchmark,
  serveChild,
  services,
  type ShapeStat,
  sleep,
  srcContent,
  summariseProfile,
  table,
  type TempDb,
  tempDb,
  thousands,
  timePublish,
  totalStatements,
  verdict,
  Worker,
  wrapConsume,
} from './lib.js';

const self = fileURLToPath(import.meta.url);

const settings = {
  rows: Math.max(1, Math.round(numberOption('rows', 'BENCH_SYNC_ROWS', 1_000_000))),
  orgs: Math.max(1, Math.round(numberOption('orgs', 'BENCH_SYNC_ORGS', 1_000))),
  pairs: pairs(option('pairs', 'BENCH_SYNC_PAIRS', 'postgres>postgres')),
  liveRate: numberOption('live-rate', 'BENCH_SYNC_LIVE_RATE', 50),
  pageSize: Math.max(1, Math.round(numberOption('page-size', 'BENCH_SYNC_PAGE_SIZE', 1_000))),
  timeoutSeconds: 0,
  /** `auto`: when the server's autovacuum is off, apply its analyze rule ourselves (see `autoAnalyze`); `off`: never. */
  autoAnalyze: option('autoanalyze', 'BENCH_SYNC_AUTOANALYZE', 'auto') === 'off' ? ('off' as const) : ('auto' as const),
  profile: option('profile', 'BENCH_PROFILE', '') ? resolve(option('profile', 'BENCH_PROFILE', '')) : undefined,
};
settings.timeoutSeconds = numberOption('timeout', 'BENCH_SYNC_TIMEOUT', 300 + settings.rows / 1000);

const goal = 10_000;
/** Loaded users have ids `b0000000-0000-4000-8000-<12 hex digits of their number>`: recognisable, and in key order. */
const bulkPrefix = 'b0000000-0000-4000-8000-';
const bulkId = (i: number): string => `${bulkPrefix}${i.toString(16).padStart(12, '0')}`;

const virtuals: Virtuals = { User: { full_name: (row) => `${row.first_name} ${row.last_name}` } };

// ---------------------------------------------------------------------------------------------
// Bulk load

async function bulkLoad(ref: DbRef, rows: number, orgs: number, progress: (done: number) => void): Promise<void> {
  const db = connect(ref);
  try {
    const batch = 100_000;
    if (ref.dialect === 'postgres') {
      await db.raw(`INSERT INTO organizations (id, name, _v) SELECT i, 'Org ' || i, 1 FROM generate_series(1, ?) i`, [
        orgs,
      ]);
      for (let from = 1; from <= rows; from += batch) {
        const to = Math.min(rows, from + batch - 1);
        await db.raw(
          `INSERT INTO users (id, type, name, email, first_name, last_name, addresses, org_id, tags, points, login_count, _v)
           SELECT (? || lpad(to_hex(i), 12, '0'))::uuid,
                  CASE WHEN i % 10 = 0 THEN 'Member' ELSE 'User' END,
                  'User ' || i, 'user' || i || '@example.com', 'User', i::text,
                  '[{"id":"a0000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0') || '","street_name":"Main Street","zipcode":"12345"}]',
                  1 + i % ?, '["bench"]', CASE WHEN i % 10 = 0 THEN i % 1000 END, 0, 1
           FROM generate_series(?::int, ?::int) i`,
          [bulkPrefix, orgs, from, to],
        );
        progress(to);
      }
      await db.raw('ANALYZE users');
      await db.raw('ANALYZE organizations');
    } else {
      await db.raw(
        `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
         INSERT INTO organizations (id, name, _v) SELECT i, 'Org ' || i, 1 FROM s`,
        [orgs],
      );
      for (let from = 1; from <= rows; from += batch) {
        const to = Math.min(rows, from + batch - 1);
        await db.raw(
          `WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?)
           INSERT INTO users (id, type, name, email, first_name, last_name, addresses, org_id, tags, points, login_count, _v)
           SELECT ? || printf('%012x', i),
                  CASE WHEN i % 10 = 0 THEN 'Member' ELSE 'User' END,
                  'User ' || i, 'user' || i || '@example.com', 'User', CAST(i AS TEXT),
                  '[{"id":"a0000000-0000-4000-8000-' || printf('%012x', i) || '","street_name":"Main Street","zipcode":"12345"}]',
                  1 + i % ?, '["bench"]', CASE WHEN i % 10 = 0 THEN i % 1000 END, 0, 1
           FROM s`,
          [from, to, bulkPrefix, orgs],
        );
        progress(to);
      }
      await db.raw('ANALYZE');
    }
  } finally {
    await db.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// The sync process: `initialSync` as `promiscuous publish` runs it

interface SyncInit {
  readonly role: 'sync';
  readonly db: DbRef;
  readonly namespace: string;
}

interface SyncResult {
  readonly start: number;
  readonly end: number;
  /** Rows published, by type. */
  readonly published: Record<string, number>;
  /** Rows to publish when each job started, by type. */
  readonly totals: Record<string, number>;
  readonly pages: number;
  /** Calls of `transport.publish` (one per page): how long each waited for the broker's confirms. */
  readonly publishCalls: number;
  readonly publishMs: number;
  readonly publishP50: number;
  readonly messages: number;
  readonly queries: Record<string, ShapeStat>;
}

async function syncRole(init: SyncInit): Promise<Role> {
  const db = connect(init.db);
  const stats = new QueryStats();
  stats.attach(db);
  const amqpTransport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  const publishes: number[] = [];
  let messages = 0;
  const transport = timePublish(amqpTransport, (n, ms) => {
    messages += n;
    publishes.push(ms);
  });
  // What `promiscuous publish` builds: no relay, no answers to re-sync requests.
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport,
    virtuals,
    relay: false,
    answerResync: false,
  });
  return {
    async call(cmd, args) {
      if (cmd !== 'sync') throw new Error(`unknown command ${cmd}`);
      const { types, pageSize } = args as { types: string[]; pageSize: number };
      stats.reset();
      const published: Record<string, number> = {};
      const totals: Record<string, number> = {};
      let pages = 0;
      const start = now();
      for (const type of types) {
        let first = true;
        const result = await initialSync(publisher as Publisher<unknown, unknown>, db, {
          type,
          pageSize,
          restart: true,
          onProgress: (_done, total) => {
            if (first) totals[type] = total;
            else pages += 1;
            first = false;
          },
        });
        published[type] = result.published;
      }
      const end = now();
      const sorted = [...publishes].sort((a, b) => a - b);
      return {
        start,
        end,
        published,
        totals,
        pages,
        publishCalls: publishes.length,
        publishMs: publishes.reduce((a, b) => a + b, 0),
        publishP50: percentile(sorted, 0.5),
        messages,
        queries: stats.snapshot(),
      } satisfies SyncResult;
    },
    async close() {
      await publisher.close();
      await amqpTransport.close();
      await db.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The live writers: a publisher app going on with its work

interface LiveInit {
  readonly role: 'live';
  readonly db: DbRef;
  readonly namespace: string;
  readonly rows: number;
  readonly orgs: number;
}

interface LiveResult {
  readonly writes: number;
  readonly updates: number;
  readonly creates: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly late: number;
}

async function liveRole(init: LiveInit): Promise<Role> {
  const db = connect(init.db);
  const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  let errors = 0;
  let firstError: string | undefined;
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport,
    virtuals,
    errorNotifier: (e) => {
      errors += 1;
      firstError ??= e.message;
    },
  });
  let running: Promise<LiveResult> | undefined;
  let stop = false;
  let serial = 0;

  const write = async (): Promise<'update' | 'create'> => {
    serial += 1;
    const n = serial;
    if (Math.random() < 0.5) {
      const id = bulkId(1 + Math.floor(Math.random() * init.rows));
      await publisher.transaction(async (tx) => void (await tx.User.update(id, { name: `Live rename ${n}` })));
      return 'update';
    }
    await publisher.transaction(
      async (tx) =>
        void (await tx.User.create({
          id: randomUUID(),
          name: `Live user ${n}`,
          email: `live${n}@example.com`,
          first_name: 'Live',
          last_name: String(n),
          addresses: [],
          tags: ['live'],
          org_id: 1 + Math.floor(Math.random() * init.orgs),
        })),
    );
    return 'create';
  };

  /** An open loop: writes start on a fixed schedule, whatever the previous ones are doing. */
  const loop = async (rate: number): Promise<LiveResult> => {
    const counts = { update: 0, create: 0 };
    let late = 0;
    const inFlight = new Set<Promise<void>>();
    const start = now();
    let launched = 0;
    while (!stop) {
      const due = Math.floor(((now() - start) / 1000) * rate) + 1;
      while (launched < due && !stop) {
        if (inFlight.size >= 16) {
          late += 1;
          await Promise.race(inFlight);
          continue;
        }
        const p: Promise<void> = write()
          .then((kind) => void (counts[kind] += 1))
          .catch((error: Error) => {
            errors += 1;
            firstError ??= error.stack ?? String(error);
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        launched += 1;
      }
      await sleep(Math.max(1, start + (launched / rate) * 1000 - now()));
    }
    await Promise.all(inFlight);
    const seconds = (now() - start) / 1000;
    await publisher.relay?.flush();
    return {
      writes: counts.update + counts.create,
      updates: counts.update,
      creates: counts.create,
      errors,
      ...(firstError ? { firstError } : {}),
      seconds,
      late,
    };
  };

  return {
    async call(cmd, args) {
      if (cmd === 'start') {
        const { rate } = args as { rate: number };
        stop = false;
        if (rate > 0) running = loop(rate);
        return null;
      }
      if (cmd === 'stop') {
        stop = true;
        const result = await running;
        running = undefined;
        return result ?? { writes: 0, updates: 0, creates: 0, errors, seconds: 0, late: 0 };
      }
      throw new Error(`unknown command ${cmd}`);
    },
    async close() {
      stop = true;
      await running;
      await publisher.close();
      await transport.close();
      await db.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The subscriber

interface SubscriberInit {
  readonly role: 'subscriber';
  readonly db: DbRef;
  readonly namespace: string;
  readonly rows: number;
  readonly orgs: number;
}

/** Deliveries of one kind (sync or live messages), and how long they held a prefetch slot. */
interface SlotUse {
  deliveries: number;
  /** Database transactions run for them: more than one for a delivery that waited for a dependency. */
  transactions: number;
  ms: number;
  /** Deliveries that found a dependency missing (more than one transaction, or deferred), and their time. */
  waited: number;
  waitedMs: number;
}

interface SubscriberStats {
  readonly slots: Record<'sync' | 'live', SlotUse>;
  /** Loaded rows (users and organizations) the subscriber holds. */
  readonly held: number;
  /** [held, at] every second since the subscriber started (at `startedAt` on the monotonic clock). */
  readonly timeline: [number, number][];
  readonly startedAt: number;
  readonly syncMessages: number;
  readonly liveMessages: number;
  /** Delivery to acknowledgement of sync messages, ms. */
  readonly syncP50: number;
  readonly syncP99: number;
  readonly deferred: number;
  readonly resyncRequests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly queries: Record<string, ShapeStat>;
}

async function subscriberRole(init: SubscriberInit): Promise<Role> {
  const db: Knex = connect(init.db);
  const stats = new QueryStats();
  const handling = new AsyncLocalStorage<{ begins: number }>();
  stats.attach(db, (shape) => {
    const h = shape === 'BEGIN' ? handling.getStore() : undefined;
    if (h) h.begins += 1;
  });
  /** Deliveries handled, the transactions they ran, and the time they held one of the prefetch slots. */
  const slots: Record<'sync' | 'live', SlotUse> = {
    sync: { deliveries: 0, transactions: 0, ms: 0, waited: 0, waitedMs: 0 },
    live: { deliveries: 0, transactions: 0, ms: 0, waited: 0, waitedMs: 0 },
  };
  const users = new Uint8Array(init.rows + 1);
  const orgs = new Uint8Array(init.orgs + 1);
  let held = 0;
  let heldAt: number | undefined;
  const target = init.rows + init.orgs;
  const waiters: ((at: number) => void)[] = [];
  let syncMessages = 0;
  let liveMessages = 0;
  let syncMs: number[] = [];
  let deferred = 0;
  let resyncRequests = 0;
  let errors = 0;
  let firstError: string | undefined;
  const timeline: [number, number][] = [];

  const hold = (operations: readonly DeliveredOperation[]): void => {
    for (const op of operations) {
      if (op.endpoint === 'crowdtap/organization') {
        const i = Number(op.id);
        if (i >= 1 && i <= init.orgs && orgs[i] === 0) {
          orgs[i] = 1;
          held += 1;
        }
      } else if (op.id.startsWith(bulkPrefix)) {
        const i = Number.parseInt(op.id.slice(bulkPrefix.length), 16);
        if (i >= 1 && i <= init.rows && users[i] === 0) {
          users[i] = 1;
          held += 1;
        }
      }
    }
    if (held >= target && heldAt === undefined) {
      heldAt = now();
      for (const wake of waiters.splice(0)) wake(heldAt);
    }
  };

  const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  const recording = wrapConsume(transport, (d, handle) => {
    const operations = deliveredOperations(d.body);
    const at = now();
    const sync = operations.some((op) => op.operation === 'sync');
    const h = { begins: 0, deferred: false };
    const delivery: Delivery = {
      ...d,
      ack: () => {
        hold(operations);
        if (sync) {
          syncMessages += 1;
          syncMs.push(now() - at);
        } else liveMessages += 1;
        return d.ack();
      },
      defer: (delayMs, since) => {
        deferred += 1;
        h.deferred = true;
        return d.defer(delayMs, since);
      },
    };
    return handling
      .run(h, () => handle(delivery))
      .finally(() => {
        const ms = now() - at;
        const kind = sync ? slots.sync : slots.live;
        kind.deliveries += 1;
        kind.transactions += h.begins;
        kind.ms += ms;
        if (h.begins > 1 || h.deferred) {
          kind.waited += 1;
          kind.waitedMs += ms;
        }
      });
  });
  const subscriber = new Subscriber({
    schema: sniper,
    knex: db,
    transport: recording,
    errorNotifier: (error) => {
      errors += 1;
      firstError ??= error.message;
    },
    logger: {
      warn: (message) => {
        if (message.startsWith('asking')) resyncRequests += 1;
      },
    },
  });
  await subscriber.start();
  const started = now();
  const ticker = setInterval(() => timeline.push([held, now() - started]), 1000);
  ticker.unref();

  return {
    async call(cmd, args) {
      if (cmd === 'until') {
        const { timeoutMs } = args as { timeoutMs: number };
        if (heldAt !== undefined) return heldAt;
        return new Promise<number | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), timeoutMs);
          waiters.push((at) => {
            clearTimeout(timer);
            resolve(at);
          });
        });
      }
      if (cmd === 'stats') {
        const sorted = [...syncMs].sort((a, b) => a - b);
        const out: SubscriberStats = {
          slots: structuredClone(slots),
          held,
          timeline: [...timeline],
          startedAt: started,
          syncMessages,
          liveMessages,
          syncP50: percentile(sorted, 0.5),
          syncP99: percentile(sorted, 0.99),
          deferred,
          resyncRequests,
          errors,
          ...(firstError ? { firstError } : {}),
          queries: stats.snapshot(),
        };
        if ((args as { reset?: boolean } | undefined)?.reset) {
          syncMs = [];
          stats.reset();
        }
        return out;
      }
      throw new Error(`unknown command ${cmd}`);
    },
    async close() {
      clearInterval(ticker);
      await subscriber.stop();
      await transport.close();
      await db.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL's statistics

interface AutovacuumSettings {
  readonly on: boolean;
  readonly naptimeMs: number;
  readonly threshold: number;
  readonly scaleFactor: number;
}

async function autovacuumSettings(): Promise<AutovacuumSettings> {
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
function autoAnalyze(ref: DbRef, av: AutovacuumSettings): () => Promise<number> {
  if (ref.dialect !== 'postgres' || av.on || settings.autoAnalyze === 'off') return async () => 0;
  let stopped = false;
  let analyzed = 0;
  const db = connect(ref, 1);
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

// ---------------------------------------------------------------------------------------------
// Checking the result

interface Checksum {
  readonly users: number;
  readonly organizations: number;
  readonly sum: string;
}

/** Count and order-independent checksum of the published attributes of users and organizations. */
async function checksum(ref: DbRef, side: 'publisher' | 'subscriber'): Promise<Checksum> {
  const db = connect(ref, 2);
  try {
    let sum = 0n;
    const mask = (1n << 64n) - 1n;
    let users = 0;
    const table = side === 'publisher' ? 'users' : 'members';
    const key = side === 'publisher' ? 'id' : 'crowdtap_id';
    const email = side === 'publisher' ? 'email' : 'contact_email';
    let after: string | undefined;
    for (;;) {
      const q = db(table)
        .select({ id: key, type: 'type', name: 'name', email, points: 'points' })
        .orderBy(key)
        .limit(50_000);
      if (after !== undefined) q.where(key, '>', after);
      const rows = (await q) as {
        id: string;
        type: string | null;
        name: string | null;
        email: string | null;
        points: number | null;
      }[];
      if (rows.length === 0) break;
      for (const r of rows) {
        // Points are published for Members only; a User's column holds nothing on either side.
        const points = r.type === 'Member' && r.points !== null ? String(r.points) : '';
        sum = (sum + hash64(`u|${String(r.id)}|${r.type ?? ''}|${r.name ?? ''}|${r.email ?? ''}|${points}`)) & mask;
      }
      users += rows.length;
      after = String(rows.at(-1)?.id);
    }
    const orgRows = (await db('organizations').select('id', 'name')) as { id: number | string; name: string | null }[];
    for (const r of orgRows) sum = (sum + hash64(`o|${Number(r.id)}|${r.name ?? ''}`)) & mask;
    return { users, organizations: orgRows.length, sum: sum.toString(16).padStart(16, '0') };
  } finally {
    await db.destroy();
  }
}

/** Messages in the subscriber's queue and its retry queues, as the broker counts them. */
class QueueWatch {
  private constructor(
    private readonly connection: ChannelModel,
    private channel: Channel,
    private readonly ns: string,
  ) {}

  static async open(ns: string): Promise<QueueWatch> {
    const connection = await amqp.connect(services.amqpUrl);
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    return new QueueWatch(connection, channel, ns);
  }

  async depth(): Promise<{ ready: number; retrying: number }> {
    const n = names(this.ns);
    const count = async (queue: string): Promise<number> => {
      try {
        return (await this.channel.checkQueue(queue)).messageCount;
      } catch {
        this.channel = await this.connection.createChannel();
        this.channel.on('error', () => {});
        return 0;
      }
    };
    const ready = await count(n.queue(sniper.app));
    let retrying = 0;
    for (let level = 0; level < 6; level++) retrying += await count(n.retry(sniper.app, level));
    return { ready, retrying };
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Coordination

interface PairResult {
  readonly from: Dialect;
  readonly to: Dialect;
  readonly loadSeconds: number;
  readonly sync: SyncResult;
  /** Seconds from the sync's start until the subscriber held every loaded row; undefined on timeout. */
  readonly appliedSeconds: number | undefined;
  readonly publishedSeconds: number;
  readonly heldWhenPublished: number;
  readonly maxDepth: number;
  readonly maxRetrying: number;
  readonly live: LiveResult;
  readonly subscriber: SubscriberStats;
  readonly cpu: Record<string, number>;
  readonly publisherChecksum: Checksum;
  readonly subscriberChecksum: Checksum;
  readonly consistentAfter: number | undefined;
  readonly profiles: Record<string, ReturnType<typeof summariseProfile>>;
  readonly autovacuum: AutovacuumSettings;
  /** ANALYZE the benchmark ran in autovacuum's stead (PostgreSQL with autovacuum off). */
  readonly analyzes: number;
}

async function pair(from: Dialect, to: Dialect): Promise<PairResult> {
  const label = `${from}>${to}`;
  const pubDb: TempDb = await tempDb(from, 'publisher');
  const subDb: TempDb = await tempDb(to, 'subscriber');
  const ns = namespace([sniper.app, resyncQueueApp(crowdtap.app)]);
  const workers: Worker[] = [];
  const profileDir = settings.profile
    ? resolve(settings.profile, `${label.replace('>', '-')}-${Date.now()}`)
    : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const watch = await QueueWatch.open(ns);
  let stopAnalyze: (() => Promise<number>)[] = [];
  try {
    const loadStart = now();
    let shown = 0;
    await bulkLoad(pubDb.ref, settings.rows, settings.orgs, (done) => {
      if (done - shown >= settings.rows / 5 || done === settings.rows) {
        shown = done;
        console.log(`  ${label}: loaded ${thousands(done)} of ${thousands(settings.rows)} users`);
      }
    });
    const loadSeconds = (now() - loadStart) / 1000;
    console.log(`  ${label}: bulk load in ${fmt(loadSeconds, 1)} s`);

    const sub = new Worker(self, `sync-subscriber-${to}`, profileDir);
    workers.push(sub);
    await sub.call('init', {
      role: 'subscriber',
      db: subDb.ref,
      namespace: ns,
      rows: settings.rows,
      orgs: settings.orgs,
    } satisfies SubscriberInit);
    const live = new Worker(self, `sync-live-${from}`, profileDir);
    workers.push(live);
    await live.call('init', {
      role: 'live',
      db: pubDb.ref,
      namespace: ns,
      rows: settings.rows,
      orgs: settings.orgs,
    } satisfies LiveInit);
    const syncer = new Worker(self, `sync-publish-${from}`, profileDir);
    workers.push(syncer);
    await syncer.call('init', { role: 'sync', db: pubDb.ref, namespace: ns } satisfies SyncInit);
    const mine = new Map([
      [sub.pid, 'subscriber'],
      [live.pid, 'live writers'],
      [syncer.pid, 'sync (publish)'],
    ]);

    const av = await autovacuumSettings();
    stopAnalyze = [autoAnalyze(subDb.ref, av), autoAnalyze(pubDb.ref, av)];
    await live.call('start', { rate: settings.liveRate });
    await sleep(1000);

    // The sync, the subscriber's progress and the queue depth, together.
    const before = cpuSample();
    let maxDepth = 0;
    let maxRetrying = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const d = await watch.depth();
        maxDepth = Math.max(maxDepth, d.ready);
        maxRetrying = Math.max(maxRetrying, d.retrying);
        await sleep(2000);
      }
    })();
    const timeoutMs = settings.timeoutSeconds * 1000;
    const heldPromise = sub.call<number | null>('until', { timeoutMs });
    let published: SyncResult | undefined;
    let heldWhenPublished = 0;
    const progress = setInterval(() => {
      void sub
        .call<SubscriberStats>('stats')
        .then((s) =>
          console.log(
            `  ${label}: subscriber holds ${thousands(s.held)} of ${thousands(settings.rows + settings.orgs)} rows; queue ${maxDepth} max so far${published ? '; publishing done' : ''}`,
          ),
        );
    }, 15_000);
    const syncPromise = syncer
      .call<SyncResult>('sync', { types: ['Organization', 'User'], pageSize: settings.pageSize })
      .then(async (r) => {
        published = r;
        heldWhenPublished = (await sub.call<SubscriberStats>('stats')).held;
        console.log(
          `  ${label}: published ${thousands(r.published.User ?? 0)} users and ${thousands(r.published.Organization ?? 0)} organizations in ${fmt((r.end - r.start) / 1000, 1)} s`,
        );
        return r;
      });
    const [heldAt, sync] = await Promise.all([heldPromise, syncPromise]);
    clearInterval(progress);
    const cpu = cpuSpent(before, cpuSample(), mine);
    const subscriberStats = await sub.call<SubscriberStats>('stats');
    const appliedSeconds = heldAt === null ? undefined : (heldAt - sync.start) / 1000;
    const publishedSeconds = (sync.end - sync.start) / 1000;
    console.log(
      appliedSeconds === undefined
        ? `  ${label}: the subscriber did not hold every row after ${settings.timeoutSeconds} s (${thousands(subscriberStats.held)})`
        : `  ${label}: the subscriber held every loaded row ${fmt(appliedSeconds, 1)} s after the sync started`,
    );

    // The live writers stop; the subscriber catches up; then the two sides are compared.
    const liveResult = await live.call<LiveResult>('stop');
    watching = false;
    await watcher;
    let analyzes = 0;
    for (const stop of stopAnalyze) analyzes += await stop();
    const publisherChecksum = await checksum(pubDb.ref, 'publisher');
    const settled = now();
    let subscriberChecksum: Checksum = { users: 0, organizations: 0, sum: '' };
    let consistentAfter: number | undefined;
    const deadline = settled + 180_000;
    for (let quiet = 0; now() < deadline;) {
      const d = await watch.depth();
      quiet = d.ready === 0 && d.retrying === 0 ? quiet + 1 : 0;
      if (quiet >= 2) {
        subscriberChecksum = await checksum(subDb.ref, 'subscriber');
        if (
          subscriberChecksum.sum === publisherChecksum.sum &&
          subscriberChecksum.users === publisherChecksum.users &&
          subscriberChecksum.organizations === publisherChecksum.organizations
        ) {
          consistentAfter = (now() - settled) / 1000;
          break;
        }
      }
      await sleep(1000);
    }
    console.log(
      consistentAfter === undefined
        ? `  ${label}: the subscriber does NOT hold the publisher's rows: ${JSON.stringify(subscriberChecksum)} against ${JSON.stringify(publisherChecksum)}`
        : `  ${label}: the subscriber holds exactly the publisher's rows (${thousands(publisherChecksum.users)} users, ${publisherChecksum.organizations} organizations, checksum ${publisherChecksum.sum}), ${fmt(consistentAfter, 1)} s after the live writes stopped`,
    );
    const finalStats = await sub.call<SubscriberStats>('stats');
    for (const w of workers.splice(0)) await w.close();
    const profiles: Record<string, ReturnType<typeof summariseProfile>> = {};
    if (profileDir) {
      for (const [who, name] of [
        ['subscriber', `sync-subscriber-${to}`],
        ['sync (publish)', `sync-publish-${from}`],
      ] as const) {
        const file = profileFiles(profileDir, name)[0];
        if (file) profiles[who] = summariseProfile(file);
      }
    }
    return {
      from,
      to,
      loadSeconds,
      sync,
      appliedSeconds,
      publishedSeconds,
      heldWhenPublished,
      maxDepth,
      maxRetrying,
      live: liveResult,
      subscriber: { ...subscriberStats, deferred: finalStats.deferred, resyncRequests: finalStats.resyncRequests },
      cpu,
      publisherChecksum,
      subscriberChecksum,
      consistentAfter,
      profiles,
      autovacuum: av,
      analyzes,
    };
  } finally {
    for (const stop of stopAnalyze) await stop();
    for (const w of workers) await w.close();
    await watch.close();
    await dropDb(pubDb);
    await dropDb(subDb);
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting

interface Results {
  readonly machine: Machine;
  readonly pairs: PairResult[];
  readonly seconds: number;
  readonly date: string;
  readonly otherCores: number;
  /** Whether src/ changed while the benchmark ran (others edit the working tree). */
  readonly srcChanged: boolean;
}

const loaded = (): number => settings.rows + settings.orgs;
const publishedRows = (p: PairResult): number => Object.values(p.sync.published).reduce((a, b) => a + b, 0);
const publishedRate = (p: PairResult): number => publishedRows(p) / p.publishedSeconds;
const appliedRate = (p: PairResult): number =>
  p.appliedSeconds === undefined ? Number.NaN : loaded() / p.appliedSeconds;
const consistent = (p: PairResult): boolean => p.consistentAfter !== undefined;

/** The flags of this run that differ from the defaults, for the regenerate command. */
function regenerateFlags(): string {
  const flags: string[] = [];
  const pairsText = settings.pairs.map(([a, b]) => `${a}>${b}`).join(',');
  if (settings.rows !== 1_000_000) flags.push(`--rows ${settings.rows}`);
  if (settings.orgs !== 1_000) flags.push(`--orgs ${settings.orgs}`);
  if (pairsText !== 'postgres>postgres') flags.push(`--pairs '${pairsText}'`);
  if (settings.liveRate !== 50) flags.push(`--live-rate ${settings.liveRate}`);
  if (settings.pageSize !== 1_000) flags.push(`--page-size ${settings.pageSize}`);
  if (settings.autoAnalyze === 'off') flags.push('--autoanalyze off');
  return flags.length > 0 ? ` -- ${flags.join(' ')}` : '';
}

function render(r: Results, markdown: boolean): string {
  const out: string[] = [];
  const h = (text: string): void => void out.push(markdown ? `\n### ${text}\n` : `\n${text}\n`);
  if (markdown) {
    out.push(
      `Measured ${r.date} at commit ${r.machine.commit}, in ${fmt(r.seconds)} s. Regenerate with \`npm run bench:sync${regenerateFlags()}\` (bench/initial-sync.ts; \`-- --rows 100000\` for a quick run).`,
      '',
      ...machineLines(r.machine),
      ...(r.srcChanged
        ? ['- **src/ changed while the benchmark ran**: the figures mix two versions of the code.']
        : []),
      `- Other processes on the machine kept ${fmt(r.otherCores, 2)} of its ${r.machine.cores} cores busy on average during the syncs${r.otherCores > 0.2 ? ' (**the figures are disturbed by that load**)' : ''}.`,
      `- ${thousands(settings.rows)} users (a tenth of them Members, each with an organization) and ${thousands(settings.orgs)} organizations bulk-loaded with \`_v\` = 1 before the subscriber existed. The subscriber (causal mode, prefetch 5: the defaults) then starts on an empty database; live writers (${settings.liveRate} one-row transactions per second, half renames of random loaded users, half new users, through a \`Publisher\` with its relay) run through the whole sync; \`initialSync\` runs for Organization then User in a process of its own, as \`promiscuous publish Organization User\` does (no relay, pages of ${thousands(settings.pageSize)} rows, messages of 100 rows).`,
      ...r.pairs
        .filter((p) => p.from === 'postgres' || p.to === 'postgres')
        .slice(0, 1)
        .map((p) =>
          p.autovacuum.on
            ? `- PostgreSQL's autovacuum is on: it keeps the planner's statistics of the growing tables up to date.`
            : settings.autoAnalyze === 'off'
              ? `- PostgreSQL's autovacuum is **off** on this server and nothing stood in for it (\`--autoanalyze off\`): the planner never learns that the subscriber's tables grew from empty.`
              : `- PostgreSQL's autovacuum is **off** on this server: the benchmark applied autovacuum's analyze rule itself (every autovacuum_naptime, ${p.autovacuum.naptimeMs / 1000} s, ANALYZE of each table changed by more than ${p.autovacuum.threshold} + ${p.autovacuum.scaleFactor} x its rows; ${r.pairs.reduce((a, x) => a + x.analyzes, 0)} ANALYZE in all), as a server with the default configuration would. Without statistics PostgreSQL serves the subscriber's version lookup (a message's 100 object ids, \`for update\`) by reading every versions row of the endpoint: 0.37 s a message at 1,000,000 rows with \`object_id in (...)\`, 2.4 s with one \`or\` per object (EXPLAIN ANALYZE on this server), a sync that slows down quadratically.`,
        ),
      `- Published rate: rows published over the time from the sync's start until the broker confirmed its last page. Applied rate: the ${thousands(loaded())} loaded rows over the time from the sync's start until the subscriber held each of them (had acknowledged a sync, or a later operation, of it). Then the live writers stop, and once the subscriber's queues are empty its rows are compared with the publisher's: count and an order-independent checksum of the published attributes.`,
      '',
    );
  }
  h(`Initial sync of ${thousands(settings.rows)} users while live writes go on`);
  out.push(
    table(
      [
        [
          'publisher > subscriber',
          'bulk load s',
          'rows published',
          'published rows/s',
          'applied rows/s',
          'sync s: published / applied',
          'held when publishing ended',
          'queue max',
          'live writes',
          'deferred / re-sync requests',
          'result: users, orgs, checksum',
          'other load',
        ],
        ...r.pairs.map((p) => [
          `${p.from} > ${p.to}`,
          fmt(p.loadSeconds, 1),
          thousands(publishedRows(p)),
          thousands(publishedRate(p)),
          p.appliedSeconds === undefined ? `timeout (${thousands(p.subscriber.held)} held)` : thousands(appliedRate(p)),
          `${fmt(p.publishedSeconds, 1)} / ${p.appliedSeconds === undefined ? '-' : fmt(p.appliedSeconds, 1)}`,
          `${thousands(p.heldWhenPublished)} (${fmt((100 * p.heldWhenPublished) / loaded(), 0)}%)`,
          `${thousands(p.maxDepth)} messages`,
          `${p.live.writes} (${p.live.updates} renames, ${p.live.creates} new)`,
          `${p.subscriber.deferred} / ${p.subscriber.resyncRequests}`,
          consistent(p)
            ? `exact: ${thousands(p.publisherChecksum.users)}, ${p.publisherChecksum.organizations}, ${p.publisherChecksum.sum} (after ${fmt(p.consistentAfter ?? 0, 1)} s)`
            : `**differs**: ${thousands(p.subscriberChecksum.users)} users, ${p.subscriberChecksum.organizations} orgs, ${p.subscriberChecksum.sum} against ${thousands(p.publisherChecksum.users)}, ${p.publisherChecksum.organizations}, ${p.publisherChecksum.sum}`,
          fmt(otherLoad(p.cpu), 2),
        ]),
      ],
      markdown,
    ),
  );

  h('Goals');
  out.push(
    table(
      [['measure', 'value', 'goal', 'result'], ...goalsOf(r).map((g) => [g.what, g.value, g.goal, verdict(g.ok)])],
      markdown,
    ),
  );
  const warnings = r.pairs.flatMap((p) => [
    ...(p.live.errors > 0
      ? [`${p.from} > ${p.to}: ${p.live.errors} live write errors (${p.live.firstError?.split('\n')[0]})`]
      : []),
    ...(p.subscriber.errors > 0
      ? [`${p.from} > ${p.to}: ${p.subscriber.errors} subscriber errors (${p.subscriber.firstError?.split('\n')[0]})`]
      : []),
  ]);
  if (warnings.length > 0) out.push('', ...warnings.map((w) => `${markdown ? '- ' : ''}warning: ${w}`));

  h('Where the time goes');
  const b: string[][] = [['where', 'measure']];
  for (const p of r.pairs) {
    const name = `${p.from} > ${p.to}`;
    const perPage = (shapeName: string): number => {
      const s = p.sync.queries[shapeName];
      return s ? s.ms / Math.max(1, p.sync.pages) : 0;
    };
    const pageMs = (p.publishedSeconds * 1000) / Math.max(1, p.sync.pages);
    const readMs = perPage('select users');
    const depsMs = perPage('select organizations');
    const progressMs = perPage('insert promiscuous_sync_progress on conflict');
    const confirmMs = p.sync.publishMs / Math.max(1, p.sync.pages);
    const maxApply = (5 * 100 * 1000) / p.subscriber.syncP50;
    b.push(
      [`${name}: cores busy during the sync, by process`, coresBusy(p.cpu)],
      [`${name}: CPU ms per 1,000 rows applied, by process`, cpuPer(p.cpu, loaded(), 1000)],
      [
        `${name}: sync, per page of ${thousands(settings.pageSize)} rows (${p.sync.pages} pages)`,
        `${fmt(pageMs, 1)} ms in all: read the page ${fmt(readMs, 1)} ms, read the referenced organizations ${fmt(depsMs, 1)} ms, publish and wait for the broker's confirms ${fmt(confirmMs, 1)} ms (${fmt(p.sync.messages / Math.max(1, p.sync.publishCalls), 0)} messages a call, p50 ${fmt(p.sync.publishP50, 1)} ms), save the cursor ${fmt(progressMs, 1)} ms, the rest (building messages: attributes, JSON) ${fmt(pageMs - readMs - depsMs - confirmMs - progressMs, 1)} ms`,
      ],
      [
        `${name}: subscriber, per message of 100 rows (${thousands(p.subscriber.syncMessages)} sync messages)`,
        `delivery to acknowledgement p50 ${fmt(p.subscriber.syncP50, 1)} ms, p99 ${fmt(p.subscriber.syncP99, 1)} ms${p.to === 'postgres' ? `: with prefetch 5 at most ${thousands(maxApply)} rows/s` : ' (one SQLite connection: messages are applied one at a time)'}; ${fmt(totalStatements(p.subscriber.queries) / Math.max(1, p.subscriber.syncMessages + p.subscriber.liveMessages), 1)} statements a message: ${perUnit(p.subscriber.queries, p.subscriber.syncMessages + p.subscriber.liveMessages, 8)}`,
      ],
    );
    const quarters = [0.25, 0.5, 0.75, 1].map((q) => {
      if (q === 1) return p.appliedSeconds ?? Number.NaN;
      const crossed = p.subscriber.timeline.find(([held]) => held >= q * loaded());
      return crossed ? (p.subscriber.startedAt + crossed[1] - p.sync.start) / 1000 : Number.NaN;
    });
    b.push([
      `${name}: applied rows/s by quarter of the loaded rows`,
      quarters
        .map(
          (t, i) =>
            `${25 * (i + 1)}% at ${fmt(t, 0)} s: ${thousands((0.25 * loaded()) / (t - (i === 0 ? 0 : (quarters[i - 1] ?? 0))))}/s`,
        )
        .join(', '),
    ]);
    const { sync, live } = p.subscriber.slots;
    const capacity = 5 * (p.sync.start + (p.appliedSeconds ?? p.publishedSeconds) * 1000 - p.subscriber.startedAt);
    b.push([
      `${name}: the subscriber's 5 prefetch slots until it held every row`,
      `sync messages ${fmt((100 * sync.ms) / capacity, 0)}% of the slots' time (${thousands(sync.deliveries)} deliveries, ${fmt(sync.transactions / Math.max(1, sync.deliveries), 2)} transactions each, ${sync.waited} waited); live messages ${fmt((100 * live.ms) / capacity, 0)}% (${thousands(live.deliveries)} deliveries, ${fmt(live.transactions / Math.max(1, live.deliveries), 2)} transactions each), of which ${fmt((100 * live.waitedMs) / capacity, 0)}% by the ${thousands(live.waited)} that waited for a row not synced yet (in memory up to 500 ms, then deferred)`,
    ]);
    for (const [who, prof] of Object.entries(p.profiles)) {
      b.push([
        `${name}: ${who} CPU profile, self time by code`,
        prof.groups.map(([k, v]) => `${k} ${fmt(v * 100, 0)}%`).join(', '),
      ]);
      b.push([
        `${name}: ${who} CPU profile, top functions`,
        prof.functions
          .slice(0, 8)
          .map(([k, v]) => `${k} ${fmt(v * 100, 1)}%`)
          .join(', '),
      ]);
    }
  }
  out.push(table(b, markdown));
  return out.join('\n');
}

function goalsOf(r: Results): Goal[] {
  return r.pairs.flatMap((p) => [
    {
      what: `initial sync applied rows/s, ${p.from} > ${p.to}, ${thousands(settings.rows)} rows, live writes on`,
      value: p.appliedSeconds === undefined ? 'timeout' : thousands(appliedRate(p)),
      goal: `>= ${thousands(goal)}`,
      ok: appliedRate(p) >= goal && consistent(p),
    },
    {
      what: `initial sync published rows/s, ${p.from} > ${p.to}`,
      value: thousands(publishedRate(p)),
      goal: `>= ${thousands(goal)}`,
      ok: publishedRate(p) >= goal,
    },
    {
      what: `the subscriber holds exactly the publisher's rows, ${p.from} > ${p.to}`,
      value: consistent(p) ? 'yes' : 'no',
      goal: 'yes',
      ok: consistent(p),
    },
  ]);
}

async function main(): Promise<void> {
  const started = now();
  const cpuAtStart = cpuSample();
  const srcAtStart = srcContent();
  await runBenchmark(async () => {
    const m = await machine(new Set(settings.pairs.flat()));
    console.log(`initial-sync benchmark: ${thousands(settings.rows)} rows; ${machineBanner(m)}`);
    const results: PairResult[] = [];
    for (const [from, to] of settings.pairs) results.push(await pair(from, to));
    const r: Results = {
      machine: m,
      pairs: results,
      seconds: (now() - started) / 1000,
      date: isoNow(),
      otherCores: cpuAtStart ? loadTotals.other / Math.max(1, loadTotals.wall) : Number.NaN,
      srcChanged: srcContent() !== srcAtStart,
    };
    report('initial-sync', 'Initial sync', (markdown) => render(r, markdown), goalsOf(r), r.seconds);
  });
}

if (process.argv[2] === '--child') {
  serveChild(async (init) => {
    const i = init as SyncInit | LiveInit | SubscriberInit;
    if (i.role === 'sync') return syncRole(i);
    if (i.role === 'live') return liveRole(i);
    return subscriberRole(i);
  });
} else await main();
