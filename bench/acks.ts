/**
 * What waiting for an acknowledgement costs a transaction: the same write (a user renamed)
 * through `publisher.transaction`, without acknowledgements and with `requireAcks: ['sniper']`,
 * in alternating blocks (ABBA) so that a drift of the machine hits both. crowdtap and sniper
 * on PostgreSQL, in one process, through RabbitMQ.
 *
 *   npm run bench:acks
 *   node --conditions=source --import tsx bench/acks.ts [--transactions 200] [--rounds 4]
 *
 * Writes its section of BENCHMARKS.md between `<!-- acks:start -->` and `<!-- acks:end -->`.
 */
import type { Hooks, Virtuals } from '../examples/users/generated/crowdtap/publisher.js';
import { schema as crowdtap } from '../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../examples/users/generated/sniper/subscriber.js';
import { AmqpTransport, Publisher, Subscriber } from '../src/runtime/index.js';
import {
  cleanup,
  connect,
  fmt,
  machine,
  machineLines,
  namespace,
  newUser,
  percentile,
  report,
  runBenchmark,
  services,
  table,
  tempDb,
  virtuals,
  watchRun,
} from './lib/index.js';
import { numberOption } from './lib/options.js';

const settings = {
  transactions: numberOption('--transactions', 'BENCH_TRANSACTIONS', 200),
  rounds: numberOption('--rounds', 'BENCH_ROUNDS', 4),
};

type Mode = 'without' | 'with one ack';

async function main(): Promise<void> {
  process.env.NODE_ENV ||= services.nodeEnv;
  const run = watchRun();
  await runBenchmark(async () => {
    const m = await machine(new Set(['postgres']));
    const pub = connect((await tempDb('postgres', 'publisher')).ref);
    const sub = connect((await tempDb('postgres', 'subscriber')).ref);
    const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: namespace(['sniper']) });
    const publisher = new Publisher<Hooks, Virtuals>({ schema: crowdtap, knex: pub, transport, virtuals });
    const subscriber = new Subscriber({ schema: sniper, knex: sub, transport });
    await subscriber.start();
    const user = newUser();
    await publisher.transaction((tx) => tx.User.create(user), { requireAcks: ['sniper'], ackTimeoutMs: 30_000 });
    const latencies: Record<Mode, number[]> = { without: [], 'with one ack': [] };
    let serial = 0;
    const block = async (mode: Mode): Promise<void> => {
      const options = mode === 'without' ? {} : { requireAcks: ['sniper'], ackTimeoutMs: 30_000 };
      for (let i = 0; i < settings.transactions; i += 1) {
        const start = performance.now();
        serial += 1;
        await publisher.transaction((tx) => tx.User.update(user.id, { name: `Renamed ${serial}` }), options);
        latencies[mode].push(performance.now() - start);
      }
    };
    for (let round = 0; round < settings.rounds; round += 1) {
      const order: Mode[] = round % 2 === 0 ? ['without', 'with one ack'] : ['with one ack', 'without'];
      for (const mode of order) await block(mode);
    }
    await subscriber.stop();
    await publisher.close();
    await transport.close();
    await pub.destroy();
    await sub.destroy();
    await cleanup();
    const stats = (mode: Mode) => {
      const sorted = [...latencies[mode]].sort((a, b) => a - b);
      return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), n: sorted.length };
    };
    const off = stats('without');
    const on = stats('with one ack');
    const info = run();
    report(
      'acks',
      'Acknowledgements: the latency of a transaction that waits for one',
      (markdown) =>
        [
          ...machineLines(m, [
            '- crowdtap and sniper on PostgreSQL, in one process (the publisher with its relay, the subscriber).',
          ]),
          '',
          `${settings.rounds} rounds of ${settings.transactions} transactions in each mode, alternating (ABBA); each renames one user.`,
          '',
          table(
            [
              ['transaction', 'p50 ms', 'p99 ms', 'transactions'],
              ['without acknowledgements', fmt(off.p50, 2), fmt(off.p99, 2), String(off.n)],
              ["with requireAcks: ['sniper']", fmt(on.p50, 2), fmt(on.p99, 2), String(on.n)],
              ['difference', fmt(on.p50 - off.p50, 2), fmt(on.p99 - off.p99, 2), ''],
            ],
            markdown,
          ),
        ].join('\n'),
      [],
      info.seconds,
    );
  });
}

await main();
