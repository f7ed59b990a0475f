/**
 * Causal-order benchmark: what waiting for dependencies costs a subscriber. The same workload,
 * on the same databases, queue and processes, is applied by a `Subscriber` in `causal` mode (an
 * operation waits for its object's previous version and for every dependency this app tracks)
 * and in `bareback` mode (no waiting at all), in alternating rounds (ABBA) so that a
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
import { mkdirSync } from 'node:fs';
import { pair, type PairResult, waited } from './causal/pair.js';
import { publisherRole } from './causal/publisher-role.js';
import { goalsOf, type Results, render } from './causal/render.js';
import { type PublisherInit, settings, type SubscriberInit } from './causal/settings.js';
import { subscriberRole } from './causal/subscriber-role.js';
import { machine, machineBanner, report, runBenchmark, serveRoles, watchRun } from './lib/index.js';

async function main(): Promise<void> {
  const run = watchRun();
  if (settings.profile) mkdirSync(settings.profile, { recursive: true });
  await runBenchmark(async () => {
    const m = await machine(new Set(settings.pairs.flat()));
    console.log(`causal benchmark: ${machineBanner(m)}`);
    const pairs: PairResult[] = [];
    for (const [from, to] of settings.pairs) pairs.push(await pair(from, to));
    const info = run();
    const r: Results = { machine: m, pairs, run: info, seconds: info.seconds - waited };
    report('causal', 'Causal order', (markdown) => render(r, markdown), goalsOf(r), r.seconds);
  });
}

if (process.argv[2] === '--child') {
  serveRoles<PublisherInit | SubscriberInit>({ publisher: publisherRole, subscriber: subscriberRole });
} else await main();
