/**
 * Derived-attribute bursts: what a change fanning out to many subjects costs, end to end. The
 * shop publishes orders whose `customer_full_name` is derived from their customer; crm stores
 * them. Both apps on PostgreSQL, in one process, through RabbitMQ and Redis.
 *
 *   npm run bench:derived
 *   node --conditions=source --import tsx bench/derived.ts [--orders 10000] [--renames 1000] [--burst-orders 20]
 *
 * 1. One rename of a customer with 10,000 orders, in one transaction: its duration, the
 *    messages and order operations published, and the time from commit until crm holds every
 *    order with the new name.
 * 2. 1,000 renames of one customer with 20 orders, one transaction each, as fast as they go
 *    (about a second): without coalescing and with `coalesce 100ms`. Messages and order
 *    operations published, the time from the last commit until crm holds the last name, and
 *    crm's final state.
 *
 * Writes its section of BENCHMARKS.md between `<!-- derived:start -->` and `<!-- derived:end -->`.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { generate } from '../src/compiler/cli/generate.js';
import {
  AmqpTransport,
  type ModelHooks,
  Publisher,
  type PublisherSchema,
  RedisCoordinator,
  Subscriber,
  type SubscriberSchema,
} from '../src/runtime/index.js';
import {
  cleanup,
  connect,
  fmt,
  machine,
  machineBanner,
  machineLines,
  namespace,
  report,
  root,
  runBenchmark,
  services,
  tempDb,
  table as renderTable,
  thousands,
  watchRun,
} from './lib/index.js';
import { numberOption } from './lib/options.js';

const settings = {
  orders: numberOption('--orders', 'BENCH_ORDERS', 10_000),
  renames: numberOption('--renames', 'BENCH_RENAMES', 1_000),
  burstOrders: numberOption('--burst-orders', 'BENCH_BURST_ORDERS', 20),
};

const routes = (coalesce: string) => `
app shop
publish customers as Customer { id integer primary, first_name string private, last_name string private }
publish orders as Order to "shop/order" ${coalesce} {
  id                  integer primary
  customer_id         belongs_to Customer
  order_status        string column status
  customer_full_name  string virtual(use customer.first_name, customer.last_name)
}
app crm
subscribe Order from "shop/order" into orders foreign_key shop_id integer { order_status, customer_full_name }
`;

type Row = Record<string, unknown>;
type Hooks = Record<'Customer' | 'Order', ModelHooks<Row, Row, Row>>;
const virtuals = {
  Order: {
    customer_full_name: (_row: Row, related: { customer: { first_name: string; last_name: string } | null }) =>
      `${related.customer?.first_name ?? ''} ${related.customer?.last_name ?? ''}`,
  },
};

interface Generated {
  readonly shop: PublisherSchema<Hooks>;
  readonly crm: SubscriberSchema;
  readonly dir: string;
}

async function generated(name: string, coalesce: string): Promise<Generated> {
  mkdirSync(join(root, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(root, '.tmp', `bench-derived-${name}-`));
  writeFileSync(join(dir, 'routes.prom'), routes(coalesce));
  const quiet = { info: () => {}, error: (line: string) => console.error(line) };
  if ((await generate({ config: join(dir, 'routes.prom') }, quiet)) !== 0)
    throw new Error('the routes did not generate');
  const load = async (path: string) => (await import(join(dir, 'generated', path))) as { schema: never };
  return { shop: (await load('shop/publisher.ts')).schema, crm: (await load('crm/subscriber.ts')).schema, dir };
}

/** The two apps, each with its database migrated, connected through a namespace of their own. */
interface Pair {
  readonly publisher: Publisher<Hooks>;
  readonly subscriber: Subscriber;
  readonly pub: Knex;
  readonly sub: Knex;
  /** Order messages and operations the relay published. */
  readonly sent: { messages: number; operations: number };
  close(): Promise<void>;
}

async function pair(code: Generated): Promise<Pair> {
  const [pubDb, subDb] = [await tempDb('postgres', 'empty'), await tempDb('postgres', 'empty')];
  const pub = connect(pubDb.ref);
  const sub = connect(subDb.ref);
  await pub.schema.createTable('customers', (t) => {
    t.integer('id').primary();
    t.string('first_name');
    t.string('last_name');
  });
  await pub.schema.createTable('orders', (t) => {
    t.integer('id').primary();
    t.integer('customer_id').references('customers.id');
    t.string('status');
  });
  await pub.migrate.latest({ directory: join(code.dir, 'generated', 'shop', 'migrations') });
  await sub.migrate.latest({ directory: join(code.dir, 'generated', 'crm', 'migrations') });
  const ns = namespace(['crm']);
  const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: ns });
  const sent = { messages: 0, operations: 0 };
  const counting = Object.create(transport) as AmqpTransport;
  counting.publish = async (messages) => {
    for (const m of messages) {
      const ops = (JSON.parse(m.body.toString()) as { operations: { endpoint: string }[] }).operations;
      const orders = ops.filter((op) => op.endpoint === 'shop/order').length;
      if (orders > 0) Object.assign(sent, { messages: sent.messages + 1, operations: sent.operations + orders });
    }
    return transport.publish(messages);
  };
  const publisher = new Publisher({
    schema: code.shop,
    knex: pub,
    transport: counting,
    virtuals: virtuals as never,
    answerResync: false,
  });
  const coordinator = await RedisCoordinator.connect(
    process.env.PROMISCUOUS_REDIS_URL ?? 'redis://127.0.0.1:6379',
    `${ns}:crm`,
  );
  const subscriber = new Subscriber({ schema: code.crm, knex: sub, transport, coordinator, prefetch: 20 });
  await subscriber.start();
  return {
    publisher,
    subscriber,
    pub,
    sub,
    sent,
    async close() {
      await subscriber.stop();
      await publisher.close();
      await coordinator.close();
      await transport.close();
      await pub.destroy();
      await sub.destroy();
    },
  };
}

/** Resolves with the milliseconds until `count` crm orders carry `name`, from `since`. */
async function appliedAfter(p: Pair, name: string, count: number, since: number): Promise<number> {
  for (;;) {
    const [{ n }] = (await p.sub('orders').where('customer_full_name', name).count({ n: '*' })) as [{ n: string }];
    if (Number(n) >= count) return performance.now() - since;
    if (performance.now() - since > 600_000) throw new Error(`crm holds ${n} of ${count} orders named ${name}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Creates a customer with `orders` orders and waits until crm holds them all. */
async function seed(p: Pair, orders: number): Promise<void> {
  await p.publisher.transaction((tx) => tx.Customer.create({ id: 1, first_name: 'Jane', last_name: 'Yang' }));
  for (let i = 0; i < orders; i += 1_000) {
    await p.publisher.transaction(async (tx) => {
      for (let id = i; id < Math.min(orders, i + 1_000); id += 1)
        await tx.Order.create({ id, customer_id: 1, status: 'paid' });
    });
  }
  await appliedAfter(p, 'Jane Yang', orders, performance.now());
  Object.assign(p.sent, { messages: 0, operations: 0 });
}

interface Fanout {
  transactionMs: number;
  messages: number;
  operations: number;
  appliedMs: number;
  final: number;
}

async function fanout(code: Generated): Promise<Fanout> {
  const p = await pair(code);
  try {
    await seed(p, settings.orders);
    const start = performance.now();
    await p.publisher.transaction((tx) => tx.Customer.update(1, { last_name: 'Lee' }));
    const committed = performance.now();
    const appliedMs = await appliedAfter(p, 'Jane Lee', settings.orders, committed);
    const final = Number(
      ((await p.sub('orders').where('customer_full_name', 'Jane Lee').count({ n: '*' })) as [{ n: string }])[0].n,
    );
    return { transactionMs: committed - start, ...p.sent, appliedMs, final };
  } finally {
    await p.close();
  }
}

interface Burst {
  seconds: number;
  messages: number;
  operations: number;
  appliedMs: number;
  final: number;
}

async function burst(code: Generated): Promise<Burst> {
  const p = await pair(code);
  try {
    await seed(p, settings.burstOrders);
    const start = performance.now();
    for (let i = 1; i <= settings.renames; i += 1)
      await p.publisher.transaction((tx) => tx.Customer.update(1, { first_name: `J${i}` }));
    const committed = performance.now();
    const last = `J${settings.renames} Yang`;
    const appliedMs = await appliedAfter(p, last, settings.burstOrders, committed);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const final = Number(
      ((await p.sub('orders').where('customer_full_name', last).count({ n: '*' })) as [{ n: string }])[0].n,
    );
    return { seconds: (committed - start) / 1000, ...p.sent, appliedMs, final };
  } finally {
    await p.close();
  }
}

async function main(): Promise<void> {
  process.env.NODE_ENV ||= services.nodeEnv;
  const run = watchRun();
  await runBenchmark(async () => {
    const m = await machine(new Set(['postgres']));
    console.log(`derived benchmark: ${machineBanner(m)}`);
    const plain = await generated('plain', '');
    const coalesced = await generated('coalesced', 'coalesce 100ms');
    const one = await fanout(plain);
    const bursts = { plain: await burst(plain), coalesced: await burst(coalesced) };
    await cleanup();
    const info = run();
    const goals = [
      {
        what: 'figure 1: crm holds every order renamed',
        value: `${thousands(one.final)} of ${thousands(settings.orders)}`,
        goal: 'all',
        ok: one.final === settings.orders,
      },
      {
        what: 'figure 1: order operations published',
        value: thousands(one.operations),
        goal: `${thousands(settings.orders)} (each once)`,
        ok: one.operations === settings.orders,
      },
      {
        what: 'figure 2: crm holds the last name (both)',
        value: `${bursts.plain.final}, ${bursts.coalesced.final}`,
        goal: `${settings.burstOrders}`,
        ok: bursts.plain.final === settings.burstOrders && bursts.coalesced.final === settings.burstOrders,
      },
      {
        what: 'figure 2: messages with coalesce / without',
        value: fmt(bursts.coalesced.messages / bursts.plain.messages, 3),
        goal: '≤ 0.1',
        ok: bursts.coalesced.messages <= bursts.plain.messages / 10,
      },
    ];
    report(
      'derived',
      'Derived attributes: bursts',
      (markdown) => {
        const rows = (b: Burst, name: string) => [
          name,
          fmt(b.seconds, 2),
          thousands(b.messages),
          thousands(b.operations),
          fmt(b.appliedMs),
          `${b.final} of ${settings.burstOrders}`,
        ];
        const lines = [
          ...machineLines(m, [
            '- Both apps on PostgreSQL, in one process (the publisher with its relay, the subscriber).',
          ]),
          '',
          `1. One rename of a customer with ${thousands(settings.orders)} orders, in one transaction.`,
          '',
          table(markdown, [
            ['transaction ms', 'messages', 'order operations', 'commit to all applied, ms', 'crm final state'],
            [
              fmt(one.transactionMs),
              thousands(one.messages),
              thousands(one.operations),
              fmt(one.appliedMs),
              `${thousands(one.final)} of ${thousands(settings.orders)} renamed`,
            ],
          ]),
          '',
          `2. ${thousands(settings.renames)} renames of one customer with ${settings.burstOrders} orders, one transaction each.`,
          '',
          table(markdown, [
            [
              '',
              'renames took, s',
              'messages',
              'order operations',
              'last commit to last name applied, ms',
              'crm final state',
            ],
            rows(bursts.plain, 'in the transaction'),
            rows(bursts.coalesced, 'coalesce 100ms'),
          ]),
          '',
          ...goals.map(
            (g) => `${markdown ? '- ' : ''}${g.what}: ${g.value} (goal ${g.goal}): ${g.ok ? 'PASS' : 'MISS'}`,
          ),
        ];
        return lines.join('\n');
      },
      goals,
      info.seconds,
    );
  });
}

function table(markdown: boolean, rows: readonly (readonly string[])[]): string {
  return renderTable(rows, markdown);
}

await main();
