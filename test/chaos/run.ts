/**
 * The fault-injection suite: replicates Chinook from PostgreSQL (publisher `store`) to SQLite
 * with foreign keys enforced (subscriber `replica`, several worker processes coordinated
 * through Redis) under a random workload, while it kills processes at chosen points, restarts
 * RabbitMQ, flushes Redis, and duplicates and reorders messages; then, once everything is
 * quiet, checks what arrived. See README.md beside this file.
 *
 *   npm run test:chaos                     # short form (CI): two to four minutes
 *   npm run test:chaos -- --long           # 1,000 fault points and more
 *   npm run test:chaos -- --seed 7 --seconds 120 --faults 300 --no-rabbitmq --no-fk --keep
 *
 * The last line is the summary `N passed, N failed` (one per check), which .ci/run adds up.
 */
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { AmqpTransport } from '../../src/runtime/index.js';
import { deleteTopology, queueDepths, restartRabbitMq, Tap } from './broker.js';
import { SinkApi } from '../helpers/sink-api.js';
import { type CheckResult, checkEffects, checkRollbacks, compareRows, histories } from './checker.js';
import { checkDerived, checkSink } from './derived-checks.js';
import type { FaultPoint } from './fault-points.js';
import { type FaultKind, faultWeights, options, weights } from './options.js';
import { derivedSeed, Random } from './random.js';
import { type ChildEvent, Supervisor } from './supervisor.js';
import { createWorld, dropWorld, publisherKnex, replicaApp, replicaKnex } from './world.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(0);
const say = (line: string) => {
  console.log(`[chaos ${seconds()} s] ${line}`);
  note(line);
};
/** The run's timeline, with the faults as they are injected: `<dir>/orchestrator.log`. */
const note = (line: string) => {
  if (timeline.file) appendFileSync(timeline.file, `${new Date().toISOString().slice(11, 23)} ${line}\n`);
};
const timeline: { file?: string } = {};

const figures = {
  faults: new Map<string, number>(),
  armedNotReached: 0,
  reorderedCopies: 0,
  rabbitMqAwayMs: [] as number[],
  workload: { committed: 0, rolledBack: 0, skipped: 0, conflicts: 0 },
  deliveries: { deliveries: 0, ack: 0, defer: 0, retry: 0, park: 0 },
  deliveredRolledBack: 0,
  errors: new Map<string, number>(),
  foreignKeyErrors: [] as string[],
  crashes: [] as string[],
  maxBacklog: 0,
  pausedMs: 0,
  acks: { acked: 0, timeout: 0, violation: 0, gone: 0, details: [] as string[] },
};
const count = (kind: FaultKind, detail = '') => {
  figures.faults.set(kind, (figures.faults.get(kind) ?? 0) + 1);
  note(`fault: ${kind}${detail}`);
};
const faultPoints = () => [...figures.faults.values()].reduce((a, b) => a + b, 0);

const foreignKeyError = /FOREIGN KEY constraint failed/i;

function onEvent(e: ChildEvent, child: Supervisor): void {
  const role = child.name.startsWith('worker') ? 'worker' : 'publisher';
  switch (e.event) {
    case 'fault':
      count(`${role}-${String(e.point)}` as FaultKind, ` (${child.name})`);
      child.armed = undefined;
      break;
    case 'error': {
      const name = String(e.name);
      figures.errors.set(name, (figures.errors.get(name) ?? 0) + 1);
      if (foreignKeyError.test(String(e.message))) {
        const operations = Array.isArray(e.operations) ? ` [${(e.operations as string[]).slice(0, 6).join(', ')}]` : '';
        figures.foreignKeyErrors.push(`${child.name}: ${String(e.message)}${operations}`);
      }
      break;
    }
    case 'stderr':
      if (foreignKeyError.test(String(e.line)))
        figures.foreignKeyErrors.push(`${child.name} (stderr): ${String(e.line)}`);
      break;
    case 'rolled-back-arrived':
      figures.deliveredRolledBack += 1;
      break;
    case 'deliveries':
      for (const key of Object.keys(figures.deliveries) as (keyof typeof figures.deliveries)[]) {
        figures.deliveries[key] += Number(e[key] ?? 0);
      }
      break;
    case 'workload':
      for (const key of Object.keys(figures.workload) as (keyof typeof figures.workload)[]) {
        figures.workload[key] += Number(e[key] ?? 0);
      }
      break;
    case 'seeded':
      seededAt ??= Date.now();
      break;
    case 'ack': {
      const outcome = String(e.outcome) as 'acked' | 'timeout' | 'violation' | 'gone';
      figures.acks[outcome] += 1;
      if (outcome === 'violation') figures.acks.details.push(String(e.detail));
      break;
    }
    default:
      break;
  }
}

let seededAt: number | undefined;
/** What the orchestrator is doing, in the progress lines: a run that stops moving says where. */
let stage = 'starting the workers';

say(
  `seed ${options.seed}; ${options.seconds ?? 'unlimited'} s of workload or ${options.faults ?? 'unlimited'} fault points; ` +
    `${options.workers} workers, ${options.clients} clients, ${options.rabbitMqRestarts} RabbitMQ restarts` +
    `${options.foreignKeys ? '' : '; FOREIGN KEYS OFF'}${options.beginImmediate ? '; SQLite BEGIN IMMEDIATE' : ''}` +
    `${options.maxRows > 0 ? `; at most ${options.maxRows} rows a transaction` : ''}`,
);
const world = await createWorld(options);
timeline.file = join(world.dir, 'orchestrator.log');
say(`world: PostgreSQL schema ${world.pgSchema}, ${world.dir}, AMQP namespace ${world.namespace}, ${world.redisUrl}`);

const restarts = new Random(derivedSeed(options.seed, 'restarts', 0));
const supervise = (name: string, file: string, env: Record<string, string> = {}) =>
  new Supervisor({
    name,
    file: new URL(file, import.meta.url),
    dir: world.dir,
    env: { CHAOS_WORLD: JSON.stringify(world), ...env },
    seed: options.seed,
    restartDelayMs: () => restarts.int(100, 500),
    onEvent,
    onCrash: (child, description) => {
      figures.crashes.push(`${child.name} incarnation ${child.incarnation}: ${description}`);
      say(`${child.name} crashed: ${description} (see ${child.name}.log)`);
    },
  });
// The outside API the workers' sink posts invoices to.
const api = await SinkApi.start();
const workers = Array.from({ length: options.workers }, (_, i) =>
  supervise(`worker-${i + 1}`, './worker-process.ts', { CHAOS_SINK_URL: api.url }),
);
const publisher = supervise('publisher', './publisher-process.ts', {
  CHAOS_CLIENTS: String(options.clients),
  CHAOS_MAX_ROWS: String(options.maxRows),
});
const children = [publisher, ...workers];
const tap = new Tap(world.amqpUrl, world.namespace, join(world.dir, 'exchange.log'));
const redis = new Redis(world.redisUrl);
const store = publisherKnex(world, 2);
const sqlite = replicaKnex(world);

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Whether the workload has run long enough, or the faults are enough. */
function done(): boolean {
  if (seededAt === undefined) return false;
  if (options.seconds !== undefined && Date.now() - seededAt >= options.seconds * 1000) return true;
  return options.faults !== undefined && faultPoints() >= options.faults;
}

/** How far the run is, from 0 to 1, to spread the RabbitMQ restarts. */
function progress(): number {
  if (seededAt === undefined) return 0;
  const byTime = options.seconds === undefined ? 0 : (Date.now() - seededAt) / (options.seconds * 1000);
  const byFaults = options.faults === undefined ? 0 : faultPoints() / options.faults;
  return Math.max(byTime, byFaults);
}

async function inject(kind: FaultKind, rng: Random): Promise<boolean> {
  const role = kind.split('-')[0];
  const point = kind.slice(`${role}-`.length);
  if (role === 'publisher' || role === 'worker') {
    const candidates = (role === 'publisher' ? [publisher] : workers).filter((c) => c.ready && !c.armed);
    if (candidates.length === 0) return false;
    const child = rng.pick(candidates);
    if (point === 'anywhere') {
      child.kill();
      count(kind, ` (${child.name})`);
    } else {
      // Counted when the process says it reached the point, just before it dies.
      child.arm(point as FaultPoint, rng.int(0, 3));
      note(`armed ${kind} in ${child.name}`);
    }
    return true;
  }
  if (kind === 'redis-flush') {
    await redis.flushdb();
    count(kind);
    return true;
  }
  if (kind === 'duplicate') {
    if (!(await tap.duplicate(rng))) return false;
    count(kind);
    return true;
  }
  if (kind === 'reorder') {
    const copies = await tap.reorder(rng);
    if (copies === 0) return false;
    figures.reorderedCopies += copies;
    count(kind, ` (${copies} copies)`);
    return true;
  }
  return false;
}

async function injectFaults(): Promise<void> {
  const rng = new Random(options.seed);
  let restarts = 0;
  let next = Date.now() + rng.exponential(options.meanGapMs);
  while (!done()) {
    await sleep(Math.max(0, Math.min(100, next - Date.now())));
    if (Date.now() < next) continue;
    next = Date.now() + rng.exponential(options.meanGapMs);
    for (const child of children) {
      if (child.armed && Date.now() - child.armed.since > 10_000) {
        child.disarm();
        figures.armedNotReached += 1;
      }
    }
    if (restarts < options.rabbitMqRestarts && progress() >= (restarts + 1) / (options.rabbitMqRestarts + 1)) {
      restarts += 1;
      say('restarting RabbitMQ');
      const away = await restartRabbitMq();
      figures.rabbitMqAwayMs.push(away);
      count('rabbitmq-restart');
      say(`RabbitMQ back after ${(away / 1000).toFixed(1)} s`);
      continue;
    }
    await inject(rng.weighted(weights as Record<keyof typeof faultWeights, number>), rng);
  }
}

/**
 * Back-pressure: the workload pauses while the subscriber is more than `maxBacklog` messages
 * behind, so that a long run measures faults rather than a growing backlog.
 */
async function regulate(running: () => boolean): Promise<void> {
  let pausedAt: number | undefined;
  publisher.onReady = () => pausedAt !== undefined && publisher.send({ type: 'pause' });
  while (running()) {
    const depths = await queueDepths(world.amqpUrl, world.namespace, [replicaApp]).catch(() => undefined);
    if (!depths) {
      // RabbitMQ is away: no news.
      await sleep(1_000);
      continue;
    }
    const backlog = [...depths].filter(([q]) => !q.endsWith('.parked')).reduce((n, [, d]) => n + d, 0);
    figures.maxBacklog = Math.max(figures.maxBacklog, backlog);
    if (options.maxBacklog > 0 && pausedAt === undefined && backlog > options.maxBacklog) {
      pausedAt = Date.now();
      publisher.send({ type: 'pause' });
      note(`workload paused: ${backlog} messages wait for the subscriber`);
    } else if (pausedAt !== undefined && backlog < options.maxBacklog / 2) {
      figures.pausedMs += Date.now() - pausedAt;
      pausedAt = undefined;
      publisher.send({ type: 'resume' });
      note(`workload resumed: ${backlog} messages wait`);
    }
    await sleep(1_000);
  }
  if (pausedAt !== undefined) figures.pausedMs += Date.now() - pausedAt;
  publisher.onReady = undefined;
}

function progressLine(): void {
  const w = figures.workload;
  say(
    `${faultPoints()} fault points, ${w.committed} transactions committed, ${w.rolledBack} rolled back on purpose, ` +
      `${tap.seen} messages on the exchange, ${figures.deliveries.deliveries} deliveries (${stage})`,
  );
}

/** Stops the workload, lets the publisher's outbox drain, and waits until nothing moves. */
async function drain(): Promise<string | undefined> {
  for (const child of children) child.disarm();
  const deadline = Date.now() + options.drainSeconds * 1000;
  const stopPublisher = async (): Promise<boolean> => {
    if (!publisher.ready) return false;
    const stopped = publisher.next('stopped', 60_000);
    publisher.send({ type: 'stop' });
    return (await stopped) !== undefined;
  };
  // A publisher started again later must hear it too.
  publisher.onReady = () => void stopPublisher();
  await until(stopPublisher, options.drainSeconds * 1000, 'the publisher to stop its workload');
  let calm = 0;
  let last = '';
  while (Date.now() < deadline) {
    const [row] = (await store('promiscuous_outbox').count({ n: '*' })) as { n: string }[];
    const outbox = Number(row?.n);
    // Coalesced derived attributes wait in the refresh table for their window: not quiet yet.
    const [due] = (await store('promiscuous_refresh').count({ n: '*' })) as { n: string }[];
    const marks = Number(due?.n);
    const depths = await queueDepths(world.amqpUrl, world.namespace, [replicaApp, 'store.resync']).catch(
      () => undefined,
    );
    const statuses = await Promise.all(workers.map((w) => w.status()));
    const waiting = depths ? [...depths].filter(([q, n]) => n > 0 && !q.endsWith('.parked')) : [['broker', -1]];
    const inFlight = statuses.map((s, i) => `${workers[i]?.name}: ${s ? s.inFlight : 'not running'}`);
    const busy = outbox > 0 || marks > 0 || waiting.length > 0 || statuses.some((s) => !s || s.inFlight > 0);
    last = `outbox ${outbox} rows; ${marks} subjects to refresh; queues ${waiting.map(([q, n]) => `${q} ${n}`).join(', ') || 'empty'}; in flight ${inFlight.join(', ')}`;
    calm = busy ? 0 : calm + 1;
    if (calm >= 3) return undefined;
    await sleep(500);
  }
  return `not quiet after ${options.drainSeconds} s: ${last}`;
}

function deliveries(): string {
  const d = figures.deliveries;
  return `${d.deliveries} deliveries (${d.ack} acknowledged, ${d.defer} deferred, ${d.retry} retried, ${d.park} parked)`;
}

function invocations(): number {
  return readdirSync(world.dir)
    .filter((f) => f.startsWith('invocations-'))
    .reduce((sum, f) => sum + readFileSync(join(world.dir, f), 'utf8').split('\n').filter(Boolean).length, 0);
}

async function parkedReasons(): Promise<string[]> {
  const transport = await AmqpTransport.connect({ url: world.amqpUrl, namespace: world.namespace });
  try {
    return (await transport.parked(replicaApp)).map((m) => `${m.messageId}: ${m.reason}`);
  } finally {
    await transport.close();
  }
}

const results: CheckResult[] = [];
let parked: string[] = [];
try {
  await tap.start();
  // The workers first: their queue and its bindings exist before anything is published.
  for (const worker of workers) worker.start();
  await until(() => workers.every((w) => w.ready), 60_000, 'the workers to start');
  publisher.start();
  stage = 'seeding, then the workload and the faults';
  const ticker = setInterval(progressLine, 10_000);
  let injecting = true;
  const regulating = regulate(() => injecting);
  await injectFaults();
  injecting = false;
  stage = 'waiting for the back-pressure loop to end';
  await regulating;
  stage = 'draining';
  say(`workload done after ${faultPoints()} fault points; draining`);
  const notQuiet = await drain();
  stage = 'checking';
  clearInterval(ticker);
  progressLine();
  results.push({
    passed: notQuiet === undefined,
    summary: 'the outbox, the queues and the workers drained',
    details: notQuiet ? [notQuiet, 'the checks below ran on a subscriber that had not caught up'] : [],
  });
  parked = await parkedReasons();
  const rows = await compareRows(store, sqlite);
  results.push({ ...rows, details: [...rows.details, ...(await histories(world.dir, sqlite, rows.differing))] });
  results.push(
    await checkRollbacks(store, sqlite, { published: tap.rolledBack, delivered: figures.deliveredRolledBack }),
  );
  results.push(await checkEffects(store, sqlite, invocations()));
  results.push(await checkDerived(store));
  results.push(await checkSink(store, api.received));
  results.push({
    passed: options.foreignKeys && figures.foreignKeyErrors.length === 0,
    summary: options.foreignKeys
      ? `no foreign-key error on the subscriber, even one a retry healed (${figures.foreignKeyErrors.length} seen)`
      : 'no foreign-key error on the subscriber: NOT CHECKED, foreign keys were off (--no-fk)',
    details: figures.foreignKeyErrors.slice(0, 10),
  });
  const { acked, timeout, violation } = figures.acks;
  results.push({
    passed: violation === 0 && acked > 0,
    summary:
      `acknowledgements never came before the apply committed (${acked} transactions acknowledged, ` +
      `${timeout} timed out, ${violation} acknowledged before replica held them)`,
    details: figures.acks.details.slice(0, 10),
  });
  results.push({
    passed: figures.crashes.length === 0,
    summary: 'no process died but by the SIGKILLs of the suite',
    details: figures.crashes,
  });
} catch (error) {
  results.push({
    passed: false,
    summary: `the suite ran to the end`,
    details: [(error as Error).stack ?? String(error)],
  });
} finally {
  await Promise.all(children.map((c) => c.terminate()));
  const [seq] = await store
    .raw('SELECT last_value FROM promiscuous_outbox_id_seq')
    .then((r: { rows: { last_value: string }[] }) => r.rows)
    .catch(() => [{ last_value: '?' }]);
  const kinds = [...figures.faults].sort(([a], [b]) => a.localeCompare(b));
  const errors = [...figures.errors].map(([name, n]) => `${n} ${name}`).join(', ') || 'none';
  console.log(
    `chaos figures: seed ${options.seed}; ${faultPoints()} fault points (${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}); ` +
      `${figures.reorderedCopies} reordered copies; ${figures.armedNotReached} armed points not reached; ` +
      `RabbitMQ away ${figures.rabbitMqAwayMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || 'never'}; ` +
      `${seq?.last_value} messages committed (${figures.workload.committed} transactions counted, ` +
      `${figures.workload.rolledBack} rolled back on purpose, ${figures.workload.conflicts} conflicts rolled back); ` +
      `largest backlog ${figures.maxBacklog} messages, workload paused ${(figures.pausedMs / 1000).toFixed(0)} s; ` +
      `${tap.seen} messages seen on the exchange (${[...tap.kinds].map(([k, n]) => `${k} ${n}`).join(', ')}), ${deliveries()}; ` +
      `errors reported: ${errors}; ${figures.foreignKeyErrors.length} foreign-key errors; ${parked.length} parked; ` +
      `${figures.crashes.length} crashes; ${seconds()} s`,
  );
  for (const reason of parked.slice(0, 5)) console.log(`  parked: ${reason}`);
  for (const result of results) {
    console.log(`${result.passed ? 'PASS' : 'FAIL'} ${result.summary}`);
    for (const line of result.details) console.log(`     ${line}`);
  }
  const failed = results.filter((r) => !r.passed).length;
  await tap.close();
  await api.close();
  await redis.flushdb().catch(() => {});
  redis.disconnect();
  await store.destroy();
  await sqlite.destroy();
  await deleteTopology(world.amqpUrl, world.namespace, [replicaApp, 'store.resync']).catch(() => {});
  if (!options.keep) await dropWorld(world, failed > 0);
  if (failed > 0 || options.keep) say(`logs and the SQLite file are in ${world.dir}`);
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}
