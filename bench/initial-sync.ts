/**
 * Initial-sync benchmark: how fast `initialSync` (what `promiscuous publish` runs) brings a new
 * subscriber up to date with a large table while live writes go on, and whether it ends with
 * exactly the publisher's rows.
 *
 *   npm run bench:sync                                    1,000,000 rows to PostgreSQL, 50,000 to MariaDB
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
 *    attributes (users: id, type, name, email, points; organizations: id, name). The statements
 *    of the subscriber that its database rolled back to break a deadlock are counted (goal: 0).
 *
 * Writes its section of BENCHMARKS.md between `<!-- initial-sync:start -->` and
 * `<!-- initial-sync:end -->`.
 *
 * Options (flag or environment):
 *   --rows BENCH_SYNC_ROWS=1000000            users loaded before the subscriber starts
 *   --orgs BENCH_SYNC_ORGS=1000               organizations
 *   --pairs BENCH_SYNC_PAIRS=postgres>postgres,postgres>mariadb
 *                                             publisher>subscriber databases (sqlite works too; mariadb
 *                                             subscribes only)
 *   --mariadb-rows BENCH_SYNC_MARIADB_ROWS=50000  users loaded for a MariaDB subscriber (at most --rows);
 *                                             its rates have no goal
 *   --live-rate BENCH_SYNC_LIVE_RATE=50       live writes per second during the sync (0: none)
 *   --page-size BENCH_SYNC_PAGE_SIZE=1000     rows per page, as `promiscuous publish --page-size`
 *   --timeout BENCH_SYNC_TIMEOUT              seconds to wait for the subscriber (default 300 + rows / 1000)
 *   --profile <dir> (BENCH_PROFILE)           CPU profiles of the child processes, summarised in the report
 *   BENCH_OUT=<file>                          where to write (default BENCHMARKS.md)
 */
import { liveRole } from './initial-sync/live-role.js';
import { pair, type PairResult } from './initial-sync/pair.js';
import { goalsOf, type Results, render } from './initial-sync/render.js';
import { type LiveInit, settings, type SubscriberInit, type SyncInit } from './initial-sync/settings.js';
import { subscriberRole } from './initial-sync/subscriber-role.js';
import { syncRole } from './initial-sync/sync-role.js';
import { machine, machineBanner, report, runBenchmark, serveRoles, thousands, watchRun } from './lib/index.js';

async function main(): Promise<void> {
  const run = watchRun();
  await runBenchmark(async () => {
    const m = await machine(new Set(settings.pairs.flat()));
    console.log(`initial-sync benchmark: ${thousands(settings.rows)} rows; ${machineBanner(m)}`);
    const pairs: PairResult[] = [];
    for (const [from, to] of settings.pairs) pairs.push(await pair(from, to));
    const r: Results = { machine: m, pairs, run: run() };
    report('initial-sync', 'Initial sync', (markdown) => render(r, markdown), goalsOf(r), r.run.seconds);
  });
}

if (process.argv[2] === '--child') {
  serveRoles<SyncInit | LiveInit | SubscriberInit>({ sync: syncRole, live: liveRole, subscriber: subscriberRole });
} else await main();
