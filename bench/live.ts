/**
 * Live changes benchmark: what 1,000 browsers following `liveChanges` cost a subscriber that
 * applies at full speed, and whether every one of them gets every change.
 *
 *   node --conditions=source --import tsx bench/live.ts
 *
 * A backlog of one-operation messages (crowdtap users, built by the generated factories) is
 * published to sniper's queue while no worker consumes it; then a `Subscriber` (in this
 * process) applies it into PostgreSQL, timed from its start to the last version written. Twice
 * per round, in alternating order: with the live feed off, and with it on while a `liveChanges`
 * handler in another process streams every change to the connections (in that process too,
 * parsed as an `EventSource` would, reconnecting with their last event id when closed). The
 * figure is the ratio of the two applied rates; each connection must count every change of
 * the round, with ids that only grow (no duplicate, nothing out of order). The delay is from
 * the subscriber's commit to the event's arrival on one connection.
 *
 * Writes its section of BENCHMARKS.md between `<!-- live:start -->` and `<!-- live:end -->`.
 *
 * Environment:
 *   BENCH_LIVE_CONNECTIONS=1000   connections following the stream
 *   BENCH_LIVE_MESSAGES=10000     messages of each backlog
 *   BENCH_LIVE_ROUNDS=3           rounds (each measures both modes)
 *   BENCH_LIVE_NICE=0             the niceness of the connections' process (19: it yields the CPU to the subscriber)
 *   BENCH_OUT=<file>              where to write (default BENCHMARKS.md)
 *   PROMISCUOUS_AMQP_URL, PROMISCUOUS_REDIS_URL, PGHOST, PGUSER, PGPASSWORD, PGDATABASE
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { factories } from '../examples/users/generated/crowdtap/factories.js';
import { schema as sniper } from '../examples/users/generated/sniper/subscriber.js';
import { AmqpTransport, RedisCoordinator, Subscriber, toOutgoing, versionsTable } from '../src/runtime/index.js';
import {
  alternating,
  connect,
  fmt,
  machine,
  machineBanner,
  namespace,
  num,
  percentile,
  report,
  root,
  runBenchmark,
  services,
  sleep,
  tempDb,
  Text,
  watchRun,
} from './lib/index.js';

const settings = {
  connections: num('BENCH_LIVE_CONNECTIONS', 1_000),
  messages: num('BENCH_LIVE_MESSAGES', 10_000),
  rounds: num('BENCH_LIVE_ROUNDS', 3),
  nice: num('BENCH_LIVE_NICE', 0),
  redisUrl: process.env.PROMISCUOUS_REDIS_URL ?? 'redis://127.0.0.1:6379',
};

type Mode = 'off' | 'on';

interface Streamed {
  min: number;
  max: number;
  disorder: number;
  reconnects: number;
  resets: number;
  delays: number[];
}

interface World {
  readonly knex: Knex;
  readonly transport: AmqpTransport;
  readonly coordinator: RedisCoordinator;
  readonly clients: ChildProcess;
}

/** Applies a fresh backlog; returns operations applied per second. */
async function applyBacklog(world: World, mode: Mode): Promise<number> {
  const envelopes = Array.from({ length: settings.messages }, () =>
    factories.User.create({ id: randomUUID(), name: 'Live', email: 'live@example.com' }),
  );
  for (let i = 0; i < envelopes.length; i += 500) {
    await world.transport.publish(envelopes.slice(i, i + 500).map(toOutgoing));
  }
  const before = await count(world.knex);
  const subscriber = new Subscriber({
    schema: sniper,
    knex: world.knex,
    transport: world.transport,
    coordinator: world.coordinator,
    live: mode === 'on',
  });
  const started = performance.now();
  await subscriber.start();
  while ((await count(world.knex)) < before + settings.messages) await sleep(10);
  const seconds = (performance.now() - started) / 1_000;
  await subscriber.stop();
  return settings.messages / seconds;
}

async function count(knex: Knex): Promise<number> {
  const [row] = (await knex(versionsTable).count({ n: '*' })) as { n: number | string }[];
  return Number(row?.n ?? 0);
}

/** Asks the clients' process for its counts once every connection got the round's changes (or 60 s passed), then clears them. */
async function streamed(clients: ChildProcess, expected: number): Promise<Streamed> {
  const ask = () =>
    new Promise<Streamed>((resolve) => {
      clients.once('message', (message) => resolve(message as Streamed));
      clients.send({ report: true });
    });
  const deadline = Date.now() + 60_000;
  const delays: number[] = [];
  // Connections behind the tail are still catching up: wait until the slowest is done.
  for (;;) {
    await sleep(500);
    const counts = await ask();
    delays.push(...counts.delays);
    if (counts.min >= expected || Date.now() > deadline) {
      clients.send({ clear: true });
      return { ...counts, delays };
    }
  }
}

async function main(): Promise<void> {
  const run = watchRun();
  await runBenchmark(async () => {
    const m = await machine(new Set(['postgres']));
    console.log(`live benchmark: ${machineBanner(m)}`);
    const db = await tempDb('postgres', 'subscriber');
    const ns = namespace(['sniper']);
    const knex = connect(db.ref);
    const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: ns });
    const coordinator = await RedisCoordinator.connect(settings.redisUrl, `${ns}:sniper`);
    const clients = fork(join(root, 'bench', 'live', 'clients.ts'), { execArgv: process.execArgv });
    if (settings.nice !== 0 && clients.pid !== undefined) setPriority(clients.pid, settings.nice);
    const world: World = { knex, transport, coordinator, clients };
    try {
      // The queue and its bindings exist before the first backlog is published.
      const first = new Subscriber({ schema: sniper, knex, transport, coordinator });
      await first.start();
      await first.stop();
      const ready = new Promise((resolve) => clients.once('message', resolve));
      clients.send({ redisUrl: settings.redisUrl, namespace: ns, connections: settings.connections });
      await ready;
      const rates: Record<Mode, number[]> = { off: [], on: [] };
      const streams: Streamed[] = [];
      for (let round = 0; round < settings.rounds; round++) {
        for (const mode of alternating<Mode>(['off', 'on'], round)) {
          const rate = await applyBacklog(world, mode);
          rates[mode].push(rate);
          const following = mode === 'on' && settings.connections > 0;
          const got = following ? await streamed(clients, settings.messages) : undefined;
          if (got) streams.push(got);
          console.log(
            `round ${round + 1}, live ${mode}: ${fmt(rate)} ops/s${got ? `; each connection got ${got.min} to ${got.max} of ${settings.messages}` : ''}`,
          );
        }
      }
      clients.send({ stop: true });
      const info = run();
      const results = { rates, streams, machine: m, seconds: info.seconds };
      report(
        'live',
        'Live changes to browsers',
        (markdown) => render(results, markdown),
        goalsOf(results),
        info.seconds,
      );
    } finally {
      clients.kill();
      await coordinator.close();
      await transport.close();
      await knex.destroy();
      const redis = new Redis(settings.redisUrl);
      const keys = await redis.keys(`${ns}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
}

interface Results {
  readonly rates: Record<Mode, number[]>;
  readonly streams: Streamed[];
  readonly machine: Awaited<ReturnType<typeof machine>>;
  readonly seconds: number;
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

function figures(r: Results) {
  const ratio = mean(r.rates.on) / mean(r.rates.off);
  const missed = r.streams.reduce((sum, s) => sum + Math.max(0, settings.messages - s.min), 0);
  const disorder = r.streams.reduce((sum, s) => sum + s.disorder, 0);
  const delays = r.streams.flatMap((s) => s.delays).sort((a, b) => a - b);
  return { ratio, missed, disorder, delays };
}

function goalsOf(r: Results) {
  const { ratio, missed, disorder } = figures(r);
  return [
    { what: 'applied rate with the connections / without', value: fmt(ratio, 2), goal: '>= 0.9', ok: ratio >= 0.9 },
    {
      what: 'events a connection missed or got twice',
      value: String(missed + disorder),
      goal: '0',
      ok: missed + disorder === 0,
    },
  ];
}

function render(r: Results, markdown: boolean): string {
  const text = new Text(markdown);
  const { ratio, missed, disorder, delays } = figures(r);
  text.push(
    `${settings.connections} connections follow sniper's live feed while one subscriber applies a backlog of ${settings.messages} one-operation messages into PostgreSQL; ${settings.rounds} rounds, the modes alternating. The handler and the connections share one process${settings.nice === 0 ? '' : ` at nice ${settings.nice}`}, and the machine with the subscriber and the services.`,
    '',
    ...machineBanner(r.machine)
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => `${markdown ? '- ' : ''}${line.trim()}`),
    '',
  );
  text.table([
    ['live feed', 'applied ops/s (each round)', 'mean'],
    ['off', r.rates.off.map((x) => fmt(x)).join(', '), fmt(mean(r.rates.off))],
    [`on, ${settings.connections} connections`, r.rates.on.map((x) => fmt(x)).join(', '), fmt(mean(r.rates.on))],
  ]);
  text.push(
    '',
    `- Ratio: ${fmt(ratio, 2)}. Events missed: ${missed}; out of order or twice: ${disorder}; reconnects: ${r.streams.reduce((s, x) => s + x.reconnects, 0)}; resets: ${r.streams.reduce((s, x) => s + x.resets, 0)}.`,
    `- Delay from the subscriber's commit to an event's arrival (one connection, under that load): p50 ${fmt(percentile(delays, 0.5))} ms, p99 ${fmt(percentile(delays, 0.99))} ms.`,
  );
  text.goals(goalsOf(r), false);
  return text.toString();
}

await main();
