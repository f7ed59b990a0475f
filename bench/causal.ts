/**
 * Causal-order benchmark: what waiting for dependencies costs a subscriber. The same workload,
 * on the same databases, queue and processes, is applied by a `Subscriber` in `causal` mode (an
 * operation waits for its object's previous version and for every dependency this app tracks)
 * and in `bareback` mode (eventual: no waiting at all), in alternating rounds (ABBA) so that a
 * drift of the machine hits both.
 *
 *   npm run bench:causal
 *   node --conditions=source --import tsx bench/causal.ts [--pairs postgres>postgres] [--seconds 4]
 *
 * The workload is the users example with dependencies: each writer runs requests at full speed,
 * each inside `publisher.context(...)`, so that every message depends on the context's previous
 * one: (1) read an organization (`find`) and create a user in it (`org_id belongs_to
 * Organization`: a dependency on the organization's current version), (2) read a user another
 * writer created lately (`find`: a dependency on it) and rename the writer's own user (its
 * previous version), (3) every eighth request, rename one of the writer's own organizations.
 *
 * 1. End to end: the publisher writes at full speed for a few seconds (relay running), the
 *    subscriber applies; operations applied per second from the first write until the last is
 *    applied, in each mode, and their ratio per round.
 * 2. The subscriber alone: the publisher fills the queue with a backlog while the subscriber is
 *    stopped, then the subscriber drains it in one mode; operations applied per second from its
 *    start. This is the subscriber's own maximum, where waits cost most (prefetch brings
 *    dependent messages in together).
 *
 * Dependency misses are counted in the subscriber process, by its own metric
 * (`promiscuous_dependency_misses_total`): each time a transaction found a message's dependency
 * missing (the message is then held for the next transaction, waits in memory, or is deferred
 * through the broker).
 *
 * Writes its section of BENCHMARKS.md between `<!-- causal:start -->` and `<!-- causal:end -->`.
 *
 * Options (flag or environment):
 *   --pairs   BENCH_PAIRS=sqlite>sqlite,postgres>postgres    publisher>subscriber databases
 *   --writers BENCH_WRITERS=4                                concurrent writers (requests)
 *   --rounds  BENCH_ROUNDS=6  --seconds BENCH_SECONDS=3      figure 1: rounds, seconds per mode and round
 *   --drain-rounds BENCH_DRAIN_ROUNDS=4  --drain-requests BENCH_DRAIN_REQUESTS=1000  figure 2
 *   --quiet-wait BENCH_QUIET_WAIT=15                         seconds to wait, before each round, for other
 *                                                            processes to leave the machine (nearly) idle
 *   --prefetch BENCH_PREFETCH                                subscriber prefetch (default: the Subscriber's)
 *   BENCH_PROFILE=<dir>                                      CPU profiles of the child processes
 *   BENCH_OUT=<file>                                         where to write (default BENCHMARKS.md)
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { schema as crowdtap, type Hooks, type Virtuals } from '../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../examples/users/generated/sniper/subscriber.js';
import {
  AmqpTransport,
  type Delivery,
  Metrics,
  Publisher,
  resyncQueueApp,
  Subscriber,
  type SubscriberMode,
} from '../src/runtime/index.js';
import {
  addCpu,
  addShapes,
  connect,
  cpuPer,
  cpuSample,
  cpuSpent,
  type DbRef,
  deliveredOperations,
  type Dialect,
  dropDb,
  type FigureGoal,
  fmt,
  isoNow,
  loadTotals,
  type Machine,
  machine,
  machineBanner,
  machineLines,
  namespace,
  nextTurn,
  now,
  numberOption,
  option,
  otherLoad,
  pairs,
  percentile,
  perUnit,
  QueryStats,
  quiet,
  report,
  type Role,
  runBenchmark,
  serveChild,
  services,
  type ShapeStat,
  srcContent,
  table,
  type TempDb,
  tempDb,
  totalStatements,
  verdict,
  Worker,
  wrapConsume,
} from './lib.js';

const self = fileURLToPath(import.meta.url);

const settings = {
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

const goal = 0.9;
/** Seconds spent waiting for a quiet machine. */
let waited = 0;
const orgsPerWriter = 10;
const usersPerWriter = 20;
/** Every this many requests, the writer renames one of its organizations. */
const orgRenameEvery = 8;

const virtuals: Virtuals = { User: { full_name: (row) => `${row.first_name} ${row.last_name}` } };

type Mode = Extract<SubscriberMode, 'causal' | 'bareback'>;
const modes: readonly Mode[] = ['causal', 'bareback'];
const modeName = (m: Mode): string => (m === 'causal' ? 'causal' : 'eventual (bareback)');

// ---------------------------------------------------------------------------------------------
// The publisher process

/** A write: its key (object id and version) and when it committed. */
type Commit = readonly [key: string, at: number];

interface PublisherInit {
  readonly db: DbRef;
  readonly namespace: string;
  readonly writers: number;
}

interface RunResult {
  readonly start: number;
  readonly commits: Commit[];
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly queries: Record<string, ShapeStat>;
}

let serial = 0;

function newUser(orgId: number): {
  id: string;
  name: string;
  email: string;
  first_name: string;
  last_name: string;
  addresses: { id: string; street_name: string; zipcode: string }[];
  tags: string[];
  org_id: number;
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
    org_id: orgId,
  };
}

async function publisherRole(init: PublisherInit): Promise<Role> {
  const db = connect(init.db);
  const stats = new QueryStats();
  stats.attach(db);
  const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  let runtimeErrors = 0;
  let firstRuntimeError: string | undefined;
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport,
    virtuals,
    errorNotifier: (e) => {
      runtimeErrors += 1;
      firstRuntimeError ??= e.message;
    },
  });
  const writers = init.writers;
  /** Each writer's own organizations (it alone renames them) and users (it alone renames them). */
  const ownOrgs: number[][] = [];
  const ownUsers: string[][] = [];
  const allOrgs: number[] = [];
  /** Users created lately by any writer: what requests read. */
  const recent: string[] = [];
  let requests = 0;

  const request = async (w: number): Promise<Commit[]> => {
    requests += 1;
    const n = requests;
    const mine = ownUsers[w] as string[];
    const me = mine[n % mine.length] as string;
    const out: Commit[] = [];
    await publisher.context({ name: 'POST /members', userId: me }, async () => {
      // 1. A user joins an organization the request read.
      const orgId = allOrgs[Math.floor(Math.random() * allOrgs.length)] as number;
      const user = newUser(orgId);
      await publisher.transaction(async (tx) => {
        await tx.Organization.find(orgId);
        await tx.User.create(user);
      });
      out.push([`${user.id}:1`, now()]);
      // 2. The request reads a user another writer created lately, and renames its own user.
      const other = recent[Math.floor(Math.random() * recent.length)] as string;
      const row = await publisher.transaction(async (tx) => {
        await tx.User.find(other);
        return tx.User.update(me, { name: `Member ${me.slice(0, 8)} request ${n}` });
      });
      out.push([`${me}:${Number(row?._v)}`, now()]);
      recent[n % 100] = user.id;
      // 3. Now and then the request renames one of the writer's organizations.
      if (n % orgRenameEvery === 0) {
        const own = ownOrgs[w] as number[];
        const org = own[Math.floor(n / orgRenameEvery) % own.length] as number;
        const renamed = await publisher.transaction(async (tx) =>
          tx.Organization.update(org, { name: `Org ${org} rename ${n}` }),
        );
        out.push([`${org}:${Number(renamed?._v)}`, now()]);
      }
    });
    return out;
  };

  /** Requests at full speed by `writers` loops, for `seconds` or until `count` requests. */
  const drive = async (args: { seconds?: number; count?: number }): Promise<RunResult> => {
    runtimeErrors = 0;
    firstRuntimeError = undefined;
    const commits: Commit[] = [];
    let errors = 0;
    let firstError: string | undefined;
    let started = 0;
    stats.reset();
    const start = now();
    const end = args.seconds === undefined ? Number.POSITIVE_INFINITY : start + args.seconds * 1000;
    const count = args.count ?? Number.POSITIVE_INFINITY;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        while (now() < end && started < count) {
          started += 1;
          await nextTurn();
          try {
            commits.push(...(await request(w)));
          } catch (error) {
            errors += 1;
            firstError ??= (error as Error).stack ?? String(error);
          }
        }
      }),
    );
    const queries = stats.snapshot();
    // Rows committed at the end are still on their way to the broker: wait for the relay.
    await publisher.relay?.flush();
    errors += runtimeErrors;
    firstError ??= firstRuntimeError;
    return { start, commits, requests: started, errors, ...(firstError ? { firstError } : {}), queries };
  };

  return {
    async call(cmd, args) {
      if (cmd === 'seed') {
        // Organizations and users of every writer, published like everything else.
        const keys: string[] = [];
        let org = 0;
        for (let w = 0; w < writers; w++) {
          const orgs = Array.from({ length: orgsPerWriter }, () => ++org);
          const users = Array.from({ length: usersPerWriter }, () => newUser(orgs[0] as number));
          await publisher.transaction(async (tx) => {
            for (const id of orgs) await tx.Organization.create({ id, name: `Org ${id}` });
            for (const user of users) await tx.User.create(user);
          });
          ownOrgs.push(orgs);
          allOrgs.push(...orgs);
          ownUsers.push(users.map((u) => u.id));
          recent.push(...users.map((u) => u.id));
          keys.push(...orgs.map((id) => `${id}:1`), ...users.map((u) => `${u.id}:1`));
        }
        await publisher.relay?.flush();
        return keys.length;
      }
      if (cmd === 'run') return drive(args as { seconds: number });
      if (cmd === 'write') return drive(args as { count: number });
      throw new Error(`unknown command ${cmd}`);
    },
    async close() {
      await publisher.close();
      await transport.close();
      await db.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The subscriber process

interface SubscriberInit {
  readonly db: DbRef;
  readonly namespace: string;
  readonly prefetch?: number;
}

interface Applied {
  readonly applied: [string, number][];
  readonly total: number;
  readonly messages: number;
  /** Times a transaction found a message's dependency missing (the subscriber's own metric). */
  readonly misses: number;
  /** Delivery to acknowledgement, ms, of each message applied. */
  readonly handledMs: number[];
  readonly deferred: number;
  /** Database transactions the subscriber ran to apply messages. */
  readonly attempts: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly queries: Record<string, ShapeStat>;
}

async function subscriberRole(init: SubscriberInit): Promise<Role> {
  const db: Knex = connect(init.db);
  const stats = new QueryStats();
  let attempts = 0;
  stats.attach(db, (shape) => {
    if (shape === 'BEGIN') attempts += 1;
  });
  // The subscriber's own metrics, for its count of dependency misses.
  const metrics = new Metrics();
  const missesSoFar = async (): Promise<number> =>
    (await metrics.dependencyMisses.get()).values.reduce((n, v) => n + v.value, 0);
  let missesTaken = 0;
  const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  const seen = new Set<string>();
  let fresh: [string, number][] = [];
  let waiters: { count: number; resolve: () => void }[] = [];
  let messages = 0;
  let deferred = 0;
  let errors = 0;
  let firstError: string | undefined;
  /** How long each message took from delivery to acknowledgement. */
  let handledMs: number[] = [];

  const applied = (keys: readonly string[]): void => {
    const at = now();
    messages += 1;
    for (const key of keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      fresh.push([key, at]);
    }
    waiters = waiters.filter((w) => {
      if (seen.size < w.count) return true;
      w.resolve();
      return false;
    });
  };

  /** The transport, with every delivery counted at its end. */
  const recording = wrapConsume(transport, (d, handle) => {
    const keys = deliveredOperations(d.body).map((op) => `${op.id}:${op.version}`);
    const at = now();
    const delivery: Delivery = {
      ...d,
      ack: () => {
        handledMs.push(now() - at);
        applied(keys);
        return d.ack();
      },
      defer: (delayMs, since) => {
        deferred += 1;
        return d.defer(delayMs, since);
      },
    };
    return handle(delivery);
  });

  let subscriber: Subscriber | undefined;
  const setMode = async (mode: Mode | null): Promise<number> => {
    await subscriber?.stop();
    subscriber = undefined;
    if (mode === null) return now();
    subscriber = new Subscriber({
      schema: sniper,
      knex: db,
      transport: recording,
      mode,
      metrics,
      ...(init.prefetch ? { prefetch: init.prefetch } : {}),
      errorNotifier: (error) => {
        errors += 1;
        firstError ??= error.message;
      },
    });
    const at = now();
    await subscriber.start();
    return at;
  };

  return {
    async call(cmd, args) {
      if (cmd === 'mode') return setMode((args as { mode: Mode | null }).mode);
      if (cmd === 'until') {
        const { count, timeoutMs } = args as { count: number; timeoutMs: number };
        if (seen.size >= count) return true;
        return new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), timeoutMs);
          waiters.push({
            count,
            resolve: () => {
              clearTimeout(timer);
              resolve(true);
            },
          });
        });
      }
      if (cmd === 'take') {
        const misses = await missesSoFar();
        const out: Applied = {
          applied: fresh,
          total: seen.size,
          messages,
          misses: misses - missesTaken,
          handledMs,
          deferred,
          attempts,
          errors,
          ...(firstError ? { firstError } : {}),
          queries: stats.snapshot(),
        };
        fresh = [];
        messages = 0;
        missesTaken = misses;
        handledMs = [];
        deferred = 0;
        attempts = 0;
        errors = 0;
        firstError = undefined;
        stats.reset();
        return out;
      }
      throw new Error(`unknown command ${cmd}`);
    },
    async close() {
      await subscriber?.stop();
      await transport.close();
      await db.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Coordination

/** One measured phase of one mode. */
interface Phase {
  readonly mode: Mode;
  readonly ops: number;
  readonly requests: number;
  /** Operations per second committed by the publisher (figure 1). */
  readonly commitRate: number;
  /** Operations per second applied, from the first write (figure 1) or the subscriber's start (figure 2). */
  readonly rate: number;
  readonly latencies: number[];
  readonly missing: number;
  readonly applied: Applied;
  readonly publisherQueries: Record<string, ShapeStat>;
  readonly cpu: Record<string, number>;
  readonly errors: number;
  readonly firstError?: string;
}

interface Summary {
  readonly mode: Mode;
  readonly ops: number;
  readonly commitRate: number;
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly messages: number;
  readonly misses: number;
  /** Delivery to acknowledgement, p50 ms. */
  readonly handledP50: number;
  readonly deferred: number;
  readonly attempts: number;
  readonly missing: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly cpu: Record<string, number>;
  readonly subscriberQueries: Record<string, ShapeStat>;
  readonly publisherQueries: Record<string, ShapeStat>;
}

function summarise(mode: Mode, phases: readonly Phase[]): Summary {
  const mine = phases.filter((p) => p.mode === mode);
  const latencies = mine.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const ops = mine.reduce((a, p) => a + p.ops, 0);
  // Rates over the phases together: operations over the summed durations.
  const time = (rate: (p: Phase) => number): number => mine.reduce((a, p) => a + p.ops / rate(p), 0);
  const cpu: Record<string, number> = {};
  const subscriberQueries: Record<string, ShapeStat> = {};
  const publisherQueries: Record<string, ShapeStat> = {};
  for (const p of mine) {
    addCpu(cpu, p.cpu);
    addShapes(subscriberQueries, p.applied.queries);
    addShapes(publisherQueries, p.publisherQueries);
  }
  const sum = (f: (p: Phase) => number): number => mine.reduce((a, p) => a + f(p), 0);
  const firstError = mine.find((p) => p.firstError)?.firstError;
  return {
    mode,
    ops,
    commitRate: ops / time((p) => p.commitRate),
    rate: ops / time((p) => p.rate),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    messages: sum((p) => p.applied.messages),
    misses: sum((p) => p.applied.misses),
    handledP50: percentile(
      mine.flatMap((p) => p.applied.handledMs).sort((a, b) => a - b),
      0.5,
    ),
    deferred: sum((p) => p.applied.deferred),
    attempts: sum((p) => p.applied.attempts),
    missing: sum((p) => p.missing),
    errors: sum((p) => p.errors),
    ...(firstError ? { firstError } : {}),
    cpu,
    subscriberQueries,
    publisherQueries,
  };
}

interface Figure {
  readonly causal: Summary;
  readonly eventual: Summary;
  readonly ratio: number;
  readonly roundRatios: number[];
}

function figure(phases: readonly Phase[], rounds: number): Figure {
  const causal = summarise('causal', phases);
  const eventual = summarise('bareback', phases);
  const roundRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c = phases.filter((p) => p.mode === 'causal')[r];
    const e = phases.filter((p) => p.mode === 'bareback')[r];
    if (c && e) roundRatios.push(c.rate / e.rate);
  }
  return { causal, eventual, ratio: causal.rate / eventual.rate, roundRatios };
}

interface PairResult {
  readonly from: Dialect;
  readonly to: Dialect;
  readonly endToEnd: Figure;
  readonly drain: Figure;
}

async function pair(from: Dialect, to: Dialect): Promise<PairResult> {
  const dbs: TempDb[] = [await tempDb(from, 'publisher'), await tempDb(to, 'subscriber')];
  const [pubDb, subDb] = dbs as [TempDb, TempDb];
  const ns = namespace([sniper.app, resyncQueueApp(crowdtap.app)]);
  const sub = new Worker(self, `causal-subscriber-${to}`, settings.profile);
  const pub = new Worker(self, `causal-publisher-${from}`, settings.profile);
  const mine = new Map([
    [pub.pid, 'publisher'],
    [sub.pid, 'subscriber'],
  ]);
  let expected = 0;
  const label = `${from}>${to}`;
  const until = async (timeoutMs: number): Promise<void> => {
    const complete = await sub.call<boolean>('until', { count: expected, timeoutMs });
    if (!complete) {
      const { total } = await sub.call<Applied>('take');
      console.log(`  ${label}: the subscriber had not applied everything after ${timeoutMs / 1000} s`);
      expected = total; // what arrives late is not counted
    }
  };
  try {
    await sub.call('init', { db: subDb.ref, namespace: ns, prefetch: settings.prefetch } satisfies SubscriberInit);
    // The subscriber's queue must exist before anything is published.
    await sub.call('mode', { mode: 'causal' });
    await pub.call('init', { db: pubDb.ref, namespace: ns, writers: settings.writers } satisfies PublisherInit);
    expected += await pub.call<number>('seed');
    await until(30_000);
    await sub.call('take');

    const phase = async (mode: Mode, args: { seconds?: number; count?: number }, drain: boolean): Promise<Phase> => {
      let started: number | undefined;
      if (drain) await sub.call('mode', { mode: null });
      else await sub.call('mode', { mode });
      const before = cpuSample();
      const run = await pub.call<RunResult>(drain ? 'write' : 'run', args);
      expected += run.commits.length;
      const drainBefore = drain ? cpuSample() : undefined;
      if (drain) started = await sub.call<number>('mode', { mode });
      await until(Math.max(60_000, (args.seconds ?? 10) * 10_000));
      const cpu = cpuSpent(drainBefore ?? before, cpuSample(), mine);
      const applied = await sub.call<Applied>('take');
      const at = new Map(applied.applied);
      const latencies: number[] = [];
      let missing = 0;
      let lastCommit = run.start;
      let lastApplied = started ?? run.start;
      for (const [key, committed] of run.commits) {
        lastCommit = Math.max(lastCommit, committed);
        const done = at.get(key);
        if (done === undefined) {
          missing += 1;
          continue;
        }
        lastApplied = Math.max(lastApplied, done);
        if (!drain) latencies.push(done - committed);
      }
      const ops = run.commits.length - missing;
      const errors = run.errors + applied.errors;
      const firstError = run.firstError ?? applied.firstError;
      if (errors > 0) console.log(`  ${label} ${mode}: ${errors} errors: ${firstError?.split('\n')[0]}`);
      return {
        mode,
        ops,
        requests: run.requests,
        commitRate: run.commits.length / ((lastCommit - run.start) / 1000),
        rate: ops / ((lastApplied - (started ?? run.start)) / 1000),
        latencies,
        missing,
        applied,
        publisherQueries: run.queries,
        cpu,
        errors,
        ...(firstError ? { firstError } : {}),
      };
    };

    // Warm-up: every path of both modes compiled, every pool full.
    for (const mode of modes) await phase(mode, { seconds: settings.warmupSeconds }, false);

    const alternate = async (rounds: number, args: { seconds?: number; count?: number }, drain: boolean) => {
      const phases: Phase[] = [];
      for (let r = 0; r < rounds; r++) {
        waited += await quiet(settings.quietWait);
        const order = r % 2 === 0 ? modes : [...modes].reverse();
        for (const mode of order) {
          const p = await phase(mode, args, drain);
          phases.push(p);
          console.log(
            `  ${label} ${drain ? 'drain' : 'end to end'} round ${r + 1} ${mode}: ${p.ops} ops, ${fmt(p.rate)} applied/s${drain ? '' : ` (${fmt(p.commitRate)} commits/s)`}, ${p.applied.misses} dependency misses in ${p.applied.messages} messages, ${p.applied.deferred} deferred, other load ${fmt(otherLoad(p.cpu), 2)}`,
          );
        }
      }
      return phases;
    };
    const endToEnd = figure(await alternate(settings.rounds, { seconds: settings.seconds }, false), settings.rounds);
    // Warm-up of the drain: a backlog takes paths the end-to-end phases did not (several
    // transactions at once on their own connections, batches of the whole prefetch window).
    // Without it, the first drain measured (causal's) ran cold: it was slower than the
    // bareback drain after it in 7 of 8 runs.
    for (const mode of modes) await phase(mode, { count: Math.ceil(settings.drainRequests / 4) }, true);
    const drain = figure(
      await alternate(settings.drainRounds, { count: settings.drainRequests }, true),
      settings.drainRounds,
    );
    return { from, to, endToEnd, drain };
  } finally {
    await pub.close();
    await sub.close();
    for (const db of dbs) await dropDb(db);
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting

interface Results {
  readonly machine: Machine;
  readonly pairs: PairResult[];
  readonly seconds: number;
  readonly waitedSeconds: number;
  readonly date: string;
  readonly otherCores: number;
  /** Whether src/ changed while the benchmark ran (others edit the working tree). */
  readonly srcChanged: boolean;
}

function render(r: Results, markdown: boolean): string {
  const out: string[] = [];
  const h = (text: string): void => void out.push(markdown ? `\n### ${text}\n` : `\n${text}\n`);
  if (markdown) {
    out.push(
      `Measured ${r.date} at commit ${r.machine.commit}, in ${fmt(r.seconds)} s. Regenerate with \`npm run bench:causal\` (bench/causal.ts).`,
      '',
      ...machineLines(r.machine),
      ...(r.srcChanged
        ? ['- **src/ changed while the benchmark ran**: the figures mix two versions of the code.']
        : []),
      `- Other processes on the machine kept ${fmt(r.otherCores, 2)} of its ${r.machine.cores} cores busy on average while the figures were measured${r.otherCores > 0.2 ? ' (**the figures are disturbed by that load**)' : ''}; the column "other load" gives it for each figure.`,
      `- Workload (the users example): ${settings.writers} writers run requests at full speed, each inside \`publisher.context(...)\`, so that every message depends on the context's previous one: (1) \`Organization.find\` and \`User.create\` in that organization (\`org_id belongs_to Organization\`), (2) \`User.find\` of a user another writer created lately and \`User.update\` of the writer's own user, (3) every ${orgRenameEvery}th request, \`Organization.update\` of one of the writer's organizations. Every message carries one to three dependencies.`,
      `- One subscriber process, prefetch ${settings.prefetch ?? '5 (default)'}, on the same database and queue in both modes: the mode changes between phases (the \`Subscriber\` is stopped and a new one started). Modes alternate ABBA from round to round; a warm-up phase of each mode runs before each figure's rounds.`,
      `- "Waited": messages whose apply found a dependency missing at least once (more than one database transaction for the message, or deferred through the broker), counted in the subscriber process. Eventual mode never waits.`,
      '',
    );
  }
  const rows = (f: (p: PairResult) => Figure, drain: boolean): string[][] => [
    [
      'publisher > subscriber',
      'mode',
      'operations',
      ...(drain ? [] : ['commits/s']),
      'applied/s',
      'causal / eventual',
      'per round (median)',
      ...(drain ? [] : ['p50 ms', 'p99 ms']),
      'dependency misses (per message)',
      'delivery > ack p50 ms',
      'deferred',
      'transactions per message',
      'subscriber CPU ms per op',
      'statements per message',
      'other load',
    ],
    ...r.pairs.flatMap((p) =>
      (['causal', 'eventual'] as const).map((kind) => {
        const fig = f(p);
        const s = fig[kind];
        return [
          `${p.from} > ${p.to}`,
          modeName(s.mode),
          String(s.ops),
          ...(drain ? [] : [fmt(s.commitRate)]),
          fmt(s.rate),
          kind === 'causal' ? fmt(fig.ratio, 2) : '',
          kind === 'causal'
            ? `${fig.roundRatios.map((x) => fmt(x, 2)).join(' / ')} (${fmt(
                percentile(
                  [...fig.roundRatios].sort((a, b) => a - b),
                  0.5,
                ),
                2,
              )})`
            : '',
          ...(drain ? [] : [fmt(s.p50, 1), fmt(s.p99, 1)]),
          `${s.misses} (${fmt(s.misses / Math.max(1, s.messages), 3)})`,
          fmt(s.handledP50, 1),
          String(s.deferred),
          fmt(s.attempts / Math.max(1, s.messages), 2),
          fmt((s.cpu.subscriber ?? 0) / Math.max(1, s.ops), 2),
          fmt(totalStatements(s.subscriberQueries) / Math.max(1, s.messages), 1),
          fmt(otherLoad(s.cpu), 2),
        ];
      }),
    ),
  ];
  h(
    `Figure 1: end to end, publisher at full speed (${settings.writers} writers, ${settings.rounds} rounds of ${settings.seconds} s per mode)`,
  );
  out.push(
    table(
      rows((p) => p.endToEnd, false),
      markdown,
    ),
  );
  h(
    `Figure 2: the subscriber alone, draining a backlog of ${settings.drainRequests} requests (${settings.drainRounds} rounds per mode)`,
  );
  out.push(
    table(
      rows((p) => p.drain, true),
      markdown,
    ),
  );

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
    [p.endToEnd, p.drain].flatMap((f) =>
      [f.causal, f.eventual]
        .filter((s) => s.errors > 0 || s.missing > 0)
        .map(
          (s) =>
            `${p.from} > ${p.to} ${s.mode}: ${s.errors} errors, ${s.missing} operations never applied${s.firstError ? ` (${s.firstError.split('\n')[0]})` : ''}`,
        ),
    ),
  );
  if (failures.length > 0) out.push('', ...failures.map((f) => `${markdown ? '- ' : ''}warning: ${f}`));

  h('Where the time goes: CPU per operation by process (ms), subscriber statements per message with their mean time');
  const b: string[][] = [['where', 'per operation (or message)']];
  for (const p of r.pairs) {
    for (const [name, f] of [
      ['fig. 1', p.endToEnd],
      ['fig. 2', p.drain],
    ] as const) {
      for (const s of [f.causal, f.eventual]) {
        const what = `${name} ${p.from} > ${p.to} ${s.mode}`;
        b.push([`${what}: CPU`, cpuPer(s.cpu, s.ops)]);
        b.push([`${what}: subscriber statements`, perUnit(s.subscriberQueries, s.messages)]);
      }
    }
  }
  out.push(table(b, markdown));
  return out.join('\n');
}

function goalsOf(r: Results): FigureGoal[] {
  return r.pairs.flatMap((p) => [
    {
      figure: '1',
      what: `causal / eventual applied/s end to end, ${p.from} > ${p.to}`,
      value: fmt(p.endToEnd.ratio, 2),
      goal: `>= ${goal}`,
      ok: p.endToEnd.ratio >= goal,
    },
    {
      figure: '2',
      what: `causal / eventual applied/s, subscriber draining a backlog, ${p.from} > ${p.to}`,
      value: fmt(p.drain.ratio, 2),
      goal: `>= ${goal}`,
      ok: p.drain.ratio >= goal,
    },
  ]);
}

async function main(): Promise<void> {
  const started = now();
  const cpuAtStart = cpuSample();
  const srcAtStart = srcContent();
  if (settings.profile) mkdirSync(settings.profile, { recursive: true });
  await runBenchmark(async () => {
    const m = await machine(new Set(settings.pairs.flat()));
    console.log(`causal benchmark: ${machineBanner(m)}`);
    const results: PairResult[] = [];
    for (const [from, to] of settings.pairs) results.push(await pair(from, to));
    const r: Results = {
      machine: m,
      pairs: results,
      seconds: (now() - started) / 1000 - waited,
      waitedSeconds: waited,
      date: isoNow(),
      otherCores: cpuAtStart ? loadTotals.other / Math.max(1, loadTotals.wall) : Number.NaN,
      srcChanged: srcContent() !== srcAtStart,
    };
    report('causal', 'Causal order', (markdown) => render(r, markdown), goalsOf(r), r.seconds);
  });
}

if (process.argv[2] === '--child') {
  serveChild(async (init) => {
    const label = process.argv[3] ?? '';
    return label.startsWith('causal-subscriber')
      ? subscriberRole(init as SubscriberInit)
      : publisherRole(init as PublisherInit);
  });
} else await main();
