/** The initial-sync benchmark's report: its table, the goals, where the time goes. */
import {
  coresBusy,
  cpuPer,
  fmt,
  type Goal,
  type Machine,
  machineLines,
  otherLoad,
  otherLoadLine,
  perUnit,
  type RunInfo,
  srcChangedLines,
  Text,
  thousands,
  totalStatements,
} from '../lib/index.js';
import type { PairResult } from './pair.js';
import { defaultMariadbRows, defaultPairs, goal, settings } from './settings.js';

export interface Results {
  readonly machine: Machine;
  readonly pairs: PairResult[];
  readonly run: RunInfo;
}

const loaded = (p: PairResult): number => p.rows + settings.orgs;
const publishedRows = (p: PairResult): number => Object.values(p.sync.published).reduce((a, b) => a + b, 0);
const publishedRate = (p: PairResult): number => publishedRows(p) / p.publishedSeconds;
const appliedRate = (p: PairResult): number =>
  p.appliedSeconds === undefined ? Number.NaN : loaded(p) / p.appliedSeconds;
const deadlocks = (p: PairResult): number => Object.values(p.subscriber.deadlocks).reduce((a, b) => a + b, 0);
/** A MariaDB subscriber's pair runs on fewer rows, for its locks: its rates have no goal. */
const rated = (p: PairResult): boolean => p.to !== 'mariadb';
const consistent = (p: PairResult): boolean => p.consistentAfter !== undefined;

/** The flags of this run that differ from the defaults, for the regenerate command. */
function regenerateFlags(): string {
  const flags: string[] = [];
  const pairsText = settings.pairs.map(([a, b]) => `${a}>${b}`).join(',');
  if (settings.rows !== 1_000_000) flags.push(`--rows ${settings.rows}`);
  if (settings.orgs !== 1_000) flags.push(`--orgs ${settings.orgs}`);
  if (pairsText !== defaultPairs) flags.push(`--pairs '${pairsText}'`);
  if (settings.mariadbRows !== Math.min(settings.rows, defaultMariadbRows))
    flags.push(`--mariadb-rows ${settings.mariadbRows}`);
  if (settings.liveRate !== 50) flags.push(`--live-rate ${settings.liveRate}`);
  if (settings.pageSize !== 1_000) flags.push(`--page-size ${settings.pageSize}`);
  if (settings.autoAnalyze === 'off') flags.push('--autoanalyze off');
  return flags.length > 0 ? ` -- ${flags.join(' ')}` : '';
}

export function render(r: Results, markdown: boolean): string {
  const out = new Text(markdown);
  if (markdown) out.push(...preamble(r), '');
  out.heading('Initial sync while live writes go on');
  out.table([
    [
      'publisher > subscriber',
      'users',
      'bulk load s',
      'rows published',
      'published rows/s',
      'applied rows/s',
      'sync s: published / applied',
      'held when publishing ended',
      'queue max',
      'live writes',
      'deferred / re-sync requests',
      'deadlocks',
      'result: users, orgs, checksum',
      'other load',
    ],
    ...r.pairs.map((p) => [
      `${p.from} > ${p.to}`,
      thousands(p.rows),
      fmt(p.loadSeconds, 1),
      thousands(publishedRows(p)),
      thousands(publishedRate(p)),
      p.appliedSeconds === undefined ? `timeout (${thousands(p.subscriber.held)} held)` : thousands(appliedRate(p)),
      `${fmt(p.publishedSeconds, 1)} / ${p.appliedSeconds === undefined ? '-' : fmt(p.appliedSeconds, 1)}`,
      `${thousands(p.heldWhenPublished)} (${fmt((100 * p.heldWhenPublished) / loaded(p), 0)}%)`,
      `${thousands(p.maxDepth)} messages`,
      `${p.live.writes} (${p.live.updates} renames, ${p.live.creates} new)`,
      `${p.subscriber.deferred} / ${p.subscriber.resyncRequests}`,
      deadlocksText(p),
      consistent(p)
        ? `exact: ${thousands(p.publisherChecksum.users)}, ${p.publisherChecksum.organizations}, ${p.publisherChecksum.sum} (after ${fmt(p.consistentAfter ?? 0, 1)} s)`
        : `**differs**: ${thousands(p.subscriberChecksum.users)} users, ${p.subscriberChecksum.organizations} orgs, ${p.subscriberChecksum.sum} against ${thousands(p.publisherChecksum.users)}, ${p.publisherChecksum.organizations}, ${p.publisherChecksum.sum}`,
      fmt(otherLoad(p.cpu), 2),
    ]),
  ]);
  out.goals(goalsOf(r), false);
  out.warnings(warnings(r));
  out.heading('Where the time goes');
  out.table([['where', 'measure'], ...r.pairs.flatMap(whereTheTimeGoes)]);
  return out.toString();
}

/** How many statements the database rolled back to break a deadlock, by table. */
function deadlocksText(p: PairResult): string {
  const byTable = Object.entries(p.subscriber.deadlocks).map(([table, n]) => `${table} ${n}`);
  return byTable.length === 0 ? '0' : `**${deadlocks(p)}** (${byTable.join(', ')})`;
}

function preamble(r: Results): string[] {
  return [
    `Measured ${r.run.date} at commit ${r.machine.commit}, in ${fmt(r.run.seconds)} s. Regenerate with \`npm run bench:sync${regenerateFlags()}\` (bench/initial-sync.ts; \`-- --rows 100000\` for a quick run).`,
    '',
    ...machineLines(r.machine),
    ...srcChangedLines(r.run.srcChanged),
    `${otherLoadLine(r.run.otherCores ?? Number.NaN, r.machine.cores, 'during the syncs')}.`,
    `- ${thousands(settings.rows)} users (${r.pairs.some((p) => p.to === 'mariadb') ? `${thousands(settings.mariadbRows)} for a MariaDB subscriber, whose rates have no goal; ` : ''}a tenth of them Members, each with an organization) and ${thousands(settings.orgs)} organizations bulk-loaded with \`_v\` = 1 before the subscriber existed. The subscriber (causal mode, prefetch 5: the defaults) then starts on an empty database; live writers (${settings.liveRate} one-row transactions per second, half renames of random loaded users, half new users, through a \`Publisher\` with its relay) run through the whole sync; \`initialSync\` runs for Organization then User in a process of its own, as \`promiscuous publish Organization User\` does (no relay, pages of ${thousands(settings.pageSize)} rows, messages of 100 rows).`,
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
    `- Published rate: rows published over the time from the sync's start until the broker confirmed its last page. Applied rate: the loaded rows (and organizations) over the time from the sync's start until the subscriber held each of them (had acknowledged a sync, or a later operation, of it). Then the live writers stop, and once the subscriber's queues are empty its rows are compared with the publisher's: count and an order-independent checksum of the published attributes. Deadlocks: statements of the subscriber that its database rolled back to break a deadlock (each one's transaction is applied again), as the driver reported them.`,
  ];
}

function warnings(r: Results): string[] {
  return r.pairs.flatMap((p) => [
    ...(p.live.errors > 0
      ? [`${p.from} > ${p.to}: ${p.live.errors} live write errors (${p.live.firstError?.split('\n')[0]})`]
      : []),
    ...(p.subscriber.errors > 0
      ? [`${p.from} > ${p.to}: ${p.subscriber.errors} subscriber errors (${p.subscriber.firstError?.split('\n')[0]})`]
      : []),
  ]);
}

function whereTheTimeGoes(p: PairResult): string[][] {
  const b: string[][] = [];
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
    [`${name}: CPU ms per 1,000 rows applied, by process`, cpuPer(p.cpu, loaded(p), 1000)],
    [
      `${name}: sync, per page of ${thousands(settings.pageSize)} rows (${p.sync.pages} pages)`,
      `${fmt(pageMs, 1)} ms in all: read the page ${fmt(readMs, 1)} ms, read the referenced organizations ${fmt(depsMs, 1)} ms, publish and wait for the broker's confirms ${fmt(confirmMs, 1)} ms (${fmt(p.sync.messages / Math.max(1, p.sync.publishCalls), 0)} messages a call, p50 ${fmt(p.sync.publishP50, 1)} ms), save the cursor ${fmt(progressMs, 1)} ms, the rest (building messages: attributes, JSON) ${fmt(pageMs - readMs - depsMs - confirmMs - progressMs, 1)} ms`,
    ],
    [
      `${name}: subscriber, per message of 100 rows (${thousands(p.subscriber.syncMessages)} sync messages)`,
      `delivery to acknowledgement p50 ${fmt(p.subscriber.syncP50, 1)} ms, p99 ${fmt(p.subscriber.syncP99, 1)} ms${p.to === 'sqlite' ? ' (one SQLite connection: messages are applied one at a time)' : `: with prefetch 5 at most ${thousands(maxApply)} rows/s`}; ${fmt(totalStatements(p.subscriber.queries) / Math.max(1, p.subscriber.syncMessages + p.subscriber.liveMessages), 1)} statements a message: ${perUnit(p.subscriber.queries, p.subscriber.syncMessages + p.subscriber.liveMessages, 8)}`,
    ],
  );
  const quarters = [0.25, 0.5, 0.75, 1].map((q) => {
    if (q === 1) return p.appliedSeconds ?? Number.NaN;
    const crossed = p.subscriber.timeline.find(([held]) => held >= q * loaded(p));
    return crossed ? (p.subscriber.startedAt + crossed[1] - p.sync.start) / 1000 : Number.NaN;
  });
  b.push([
    `${name}: applied rows/s by quarter of the loaded rows`,
    quarters
      .map(
        (t, i) =>
          `${25 * (i + 1)}% at ${fmt(t, 0)} s: ${thousands((0.25 * loaded(p)) / (t - (i === 0 ? 0 : (quarters[i - 1] ?? 0))))}/s`,
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
  return b;
}

export function goalsOf(r: Results): Goal[] {
  return r.pairs.flatMap((p) => [
    ...(rated(p) ? rateGoals(p) : []),
    {
      what: `the subscriber holds exactly the publisher's rows, ${p.from} > ${p.to}`,
      value: consistent(p) ? 'yes' : 'no',
      goal: 'yes',
      ok: consistent(p),
    },
    {
      what: `deadlocks in the subscriber's database, ${p.from} > ${p.to}`,
      value: String(deadlocks(p)),
      goal: '0',
      ok: deadlocks(p) === 0,
    },
  ]);
}

function rateGoals(p: PairResult): Goal[] {
  return [
    {
      what: `initial sync applied rows/s, ${p.from} > ${p.to}, ${thousands(p.rows)} rows, live writes on`,
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
  ];
}
