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
 * 1s, 2s. Signing on: figures 1 and 2 again with the publisher signing every message
 *    (`signatures: { key }`) and, in figure 2, the subscriber trusting its key and requiring
 *    signatures, each divided by the same figure with signing off. The signed side (figure 1)
 *    and the signed pipeline (figure 2) take their turns with the others, in the same ABBA
 *    order.
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
 * Environment (defaults keep a run near three minutes on two cores):
 *   BENCH_DIALECTS=sqlite,postgres          databases of figure 1 (mariadb works too; none: skip)
 *   BENCH_PAIRS=sqlite>sqlite,postgres>postgres   publisher>subscriber databases of figures 2-3
 *   BENCH_WRITERS=4                         concurrent writers on the publisher
 *   BENCH_ROUNDS=5  BENCH_OVERHEAD_SECONDS=1.5     figure 1: rounds, seconds per side and round
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
 *   BENCH_SIGNATURES=1                      0: skip figures 1s and 2s (signing on)
 *   BENCH_PROFILE=<dir>                     write a CPU profile of every child process into <dir>
 *   BENCH_OUT=<file>                        where to write (default BENCHMARKS.md at the repo root)
 *   PROMISCUOUS_AMQP_URL, PGHOST, PGUSER, PGPASSWORD, PGDATABASE   the services
 */ import { mkdirSync } from 'node:fs';
import { machine, machineBanner, quiet, report, runBenchmark, serveRoles, watchRun } from './lib/index.js';
import { naivePublisherRole, naiveSubscriberRole } from './replication/naive-roles.js';
import { overhead, type OverheadFigure } from './replication/overhead.js';
import { overheadRole } from './replication/overhead-role.js';
import { pair, type PairFigure } from './replication/pipelines.js';
import { promiscuousPublisherRole, promiscuousSubscriberRole } from './replication/promiscuous-roles.js';
import { goalsOf, type Results, render } from './replication/render.js';
import { type InitArgs, settings } from './replication/settings.js';

/** Seconds spent waiting for a quiet machine. */
let waited = 0;

/**
 * Waits (up to BENCH_QUIET_WAIT seconds) until the machine is nearly idle before a figure: on a
 * shared machine, other work would otherwise take the cores from one measurement and not the next.
 */
async function quietBefore(label: string): Promise<void> {
  waited += await quiet(settings.quietWait, { cores: 0.25, label });
}

async function figures(): Promise<{ overhead: OverheadFigure[]; pairs: PairFigure[] }> {
  console.log('figure 1: publisher overhead');
  const overheadFigures: OverheadFigure[] = [];
  for (const kind of settings.dialects) {
    await quietBefore(`figure 1 on ${kind}`);
    overheadFigures.push(...(await overhead(kind)));
  }
  console.log('figures 2 and 3: end to end');
  const pairs: PairFigure[] = [];
  for (const [from, to] of settings.pairs) {
    await quietBefore(`figures 2 and 3 on ${from} > ${to}`);
    pairs.push(await pair(from, to));
  }
  return { overhead: overheadFigures, pairs };
}

async function main(): Promise<void> {
  const run = watchRun();
  if (settings.profile) mkdirSync(settings.profile, { recursive: true });
  // A benchmark reports: the exit status is 0 whether goals are met or not.
  await runBenchmark(async () => {
    const used = new Set([...settings.dialects, ...settings.pairs.flat()]);
    const m = await machine(used, { sqliteJournal: settings.sqliteJournal });
    console.log(`replication benchmark: ${machineBanner(m)}`);
    const measured = await figures();
    const info = run();
    const r: Results = { machine: m, ...measured, run: info, seconds: info.seconds - waited, waitedSeconds: waited };
    report('replication', 'Replication runtime', (markdown) => render(r, markdown), goalsOf(r), r.seconds, waited);
  });
}

if (process.argv[2] === '--child') {
  serveRoles<InitArgs>({
    overhead: overheadRole,
    'promiscuous-publisher': promiscuousPublisherRole,
    'promiscuous-subscriber': promiscuousSubscriberRole,
    'naive-publisher': naivePublisherRole,
    'naive-subscriber': naiveSubscriberRole,
  });
} else await main();
