/**
 * The initial-sync benchmark's measurement of one pair of databases: bulk load, the sync while
 * live writes go on, then the subscriber's rows compared with the publisher's.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { schema as crowdtap } from '../../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';
import { resyncQueueApp } from '../../src/runtime/index.js';
import {
  type Dialect,
  dropDb,
  fmt,
  namespace,
  now,
  type Processes,
  profileFiles,
  sleep,
  summariseProfile,
  type TempDb,
  tempDb,
  thousands,
  type Worker,
} from '../lib/index.js';
import { bulkLoad } from './bulk-load.js';
import { type Checksum, checksum, QueueWatch } from './checks.js';
import type { LiveResult } from './live-role.js';
import { type AutovacuumSettings, autoAnalyze, autovacuumSettings } from './postgres-statistics.js';
import { type LiveInit, processes, rowsFor, settings, type SubscriberInit, type SyncInit } from './settings.js';
import type { SubscriberStats } from './subscriber-role.js';
import type { SyncResult } from './sync-role.js';

export interface PairResult {
  readonly from: Dialect;
  readonly to: Dialect;
  /** Users loaded. */
  readonly rows: number;
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

/** The pair's databases, namespace and processes. */
interface Setup {
  readonly label: string;
  readonly from: Dialect;
  readonly to: Dialect;
  readonly rows: number;
  readonly pubDb: TempDb;
  readonly subDb: TempDb;
  readonly ns: string;
  readonly watch: QueueWatch;
  readonly profileDir: string | undefined;
  readonly group: Processes;
}

export async function pair(from: Dialect, to: Dialect): Promise<PairResult> {
  const label = `${from}>${to}`;
  const rows = rowsFor(to);
  const pubDb: TempDb = await tempDb(from, 'publisher');
  const subDb: TempDb = await tempDb(to, 'subscriber');
  const ns = namespace([sniper.app, resyncQueueApp(crowdtap.app)]);
  const profileDir = settings.profile
    ? resolve(settings.profile, `${label.replace('>', '-')}-${Date.now()}`)
    : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const watch = await QueueWatch.open(ns);
  const group = processes(profileDir);
  let stopAnalyze: (() => Promise<number>)[] = [];
  try {
    const setup: Setup = { label, from, to, rows, pubDb, subDb, ns, watch, profileDir, group };
    const loadSeconds = await load(setup);
    const [sub, live, syncer] = await startProcesses(setup);
    const av = await autovacuumSettings();
    stopAnalyze = [autoAnalyze(subDb.ref, av), autoAnalyze(pubDb.ref, av)];
    await live.call('start', { rate: settings.liveRate });
    await sleep(1000);
    const synced = await sync(setup, sub, syncer);
    // The live writers stop; the subscriber catches up; then the two sides are compared.
    const liveResult = await live.call<LiveResult>('stop');
    const depth = await synced.stopWatching();
    let analyzes = 0;
    for (const stop of stopAnalyze) analyzes += await stop();
    const compared = await compare(setup);
    const finalStats = await sub.call<SubscriberStats>('stats');
    await group.close();
    return {
      from,
      to,
      rows,
      loadSeconds,
      sync: synced.sync,
      appliedSeconds: synced.appliedSeconds,
      publishedSeconds: synced.publishedSeconds,
      heldWhenPublished: synced.heldWhenPublished,
      ...depth,
      live: liveResult,
      subscriber: {
        ...synced.subscriberStats,
        deferred: finalStats.deferred,
        resyncRequests: finalStats.resyncRequests,
        deadlocks: finalStats.deadlocks,
      },
      cpu: synced.cpu,
      ...compared,
      profiles: profiles(setup),
      autovacuum: av,
      analyzes,
    };
  } finally {
    for (const stop of stopAnalyze) await stop();
    await group.close();
    await watch.close();
    await dropDb(pubDb);
    await dropDb(subDb);
  }
}

/** The bulk load; returns its seconds. */
async function load({ label, rows, pubDb }: Setup): Promise<number> {
  const loadStart = now();
  let shown = 0;
  await bulkLoad(pubDb.ref, rows, settings.orgs, (done) => {
    if (done - shown >= rows / 5 || done === rows) {
      shown = done;
      console.log(`  ${label}: loaded ${thousands(done)} of ${thousands(rows)} users`);
    }
  });
  const loadSeconds = (now() - loadStart) / 1000;
  console.log(`  ${label}: bulk load in ${fmt(loadSeconds, 1)} s`);
  return loadSeconds;
}

/** The subscriber, the live writers and the syncer, each in a process of its own. */
async function startProcesses({ from, to, rows, pubDb, subDb, ns, group }: Setup): Promise<[Worker, Worker, Worker]> {
  const loaded = { namespace: ns, rows, orgs: settings.orgs };
  const sub = await group.start(`sync-subscriber-${to}`, 'subscriber', {
    role: 'subscriber',
    db: subDb.ref,
    ...loaded,
  } satisfies SubscriberInit);
  const live = await group.start(`sync-live-${from}`, 'live writers', {
    role: 'live',
    db: pubDb.ref,
    ...loaded,
  } satisfies LiveInit);
  const syncer = await group.start(`sync-publish-${from}`, 'sync (publish)', {
    role: 'sync',
    db: pubDb.ref,
    namespace: ns,
  } satisfies SyncInit);
  return [sub, live, syncer];
}

/** The sync, the subscriber's progress and the queue depth, together. */
async function sync({ label, rows, watch, group }: Setup, sub: Worker, syncer: Worker) {
  const spent = group.cpu();
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
  const heldPromise = sub.call<number | null>('until', { timeoutMs: settings.timeoutSeconds * 1000 });
  let published: SyncResult | undefined;
  let heldWhenPublished = 0;
  const progress = setInterval(() => {
    void sub
      .call<SubscriberStats>('stats')
      .then((s) =>
        console.log(
          `  ${label}: subscriber holds ${thousands(s.held)} of ${thousands(rows + settings.orgs)} rows; queue ${maxDepth} max so far${published ? '; publishing done' : ''}`,
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
  const [heldAt, result] = await Promise.all([heldPromise, syncPromise]);
  clearInterval(progress);
  const cpu = spent();
  const subscriberStats = await sub.call<SubscriberStats>('stats');
  const appliedSeconds = heldAt === null ? undefined : (heldAt - result.start) / 1000;
  console.log(
    appliedSeconds === undefined
      ? `  ${label}: the subscriber did not hold every row after ${settings.timeoutSeconds} s (${thousands(subscriberStats.held)})`
      : `  ${label}: the subscriber held every loaded row ${fmt(appliedSeconds, 1)} s after the sync started`,
  );
  const stopWatching = async (): Promise<{ maxDepth: number; maxRetrying: number }> => {
    watching = false;
    await watcher;
    return { maxDepth, maxRetrying };
  };
  return {
    sync: result,
    appliedSeconds,
    publishedSeconds: (result.end - result.start) / 1000,
    heldWhenPublished,
    cpu,
    subscriberStats,
    stopWatching,
  };
}

/** Once the subscriber's queues are empty, its rows against the publisher's, for up to three minutes. */
async function compare({ label, pubDb, subDb, watch }: Setup): Promise<{
  publisherChecksum: Checksum;
  subscriberChecksum: Checksum;
  consistentAfter: number | undefined;
}> {
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
  return { publisherChecksum, subscriberChecksum, consistentAfter };
}

/** The CPU profiles of the subscriber and the syncer, summarised (written once their processes ended). */
function profiles({ from, to, profileDir }: Setup): Record<string, ReturnType<typeof summariseProfile>> {
  const out: Record<string, ReturnType<typeof summariseProfile>> = {};
  if (!profileDir) return out;
  for (const [who, name] of [
    ['subscriber', `sync-subscriber-${to}`],
    ['sync (publish)', `sync-publish-${from}`],
  ] as const) {
    const file = profileFiles(profileDir, name)[0];
    if (file) out[who] = summariseProfile(file);
  }
  return out;
}
