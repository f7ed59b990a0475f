/**
 * SyncMachine's example, end to end through the real services: the shop publishes orders as
 * `{ id, customer_full_name, order_status }` from PostgreSQL, its relay publishes through
 * RabbitMQ, and api_sync (on SQLite, with Redis) sends each order on to a real HTTP API through
 * a sink. A status change re-posts one order; a warehouse change posts nothing; a customer
 * rename re-posts each of the customer's orders exactly once; the API receives each distinct
 * payload once, in order per subject, and nothing when a payload is unchanged.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AmqpTransport,
  type ModelHooks,
  Publisher,
  type PublisherSchema,
  RedisCoordinator,
  type SinkEvent,
  Subscriber,
  type SubscriberSchema,
} from '../../src/runtime/index.js';
import {
  generatedModule,
  generateRoutes,
  migrate,
  nextProject,
  projectsRoot,
  removeProjects,
} from '../helpers/project.js';
import { amqpUrl, database, eventually, randomName, redisUrl, type TestDatabase } from '../helpers/services.js';
import { post, SinkApi } from '../helpers/sink-api.js';
import { removeNamespace } from '../helpers/world.js';

const routes = `
app shop
publish customers as Customer to "shop/customer" {
  id          integer primary
  first_name  string private
  last_name   string private
  email       string?
}
publish orders as Order to "shop/order" {
  id                  integer primary
  customer_id         belongs_to Customer
  warehouse_code      string private
  order_status        string column status
  customer_full_name  string virtual(use customer.first_name, customer.last_name)
}

app api_sync
observe Order from "shop/order" { customer_full_name, order_status }
`;

type Row = Record<string, unknown>;
type Hooks = Record<'Customer' | 'Order', ModelHooks<Row, Row, Row>>;

interface World {
  root: string;
  namespace: string;
  pub: TestDatabase;
  sub: TestDatabase;
  api: SinkApi;
  publisher: Publisher<Hooks>;
  subscriber: Subscriber;
  close: (() => Promise<void>)[];
}

const test = suite<World>('the SyncMachine example, end to end', {} as World);

test.before(async (world) => {
  world.root = projectsRoot();
  const dir = nextProject(world.root, 'syncmachine');
  await generateRoutes(dir, routes);
  const shop = (await generatedModule<{ schema: PublisherSchema<Hooks> }>(dir, 'shop/publisher.ts')).schema;
  const apiSync = (await generatedModule<{ schema: SubscriberSchema }>(dir, 'api_sync/subscriber.ts')).schema;
  world.close = [];
  world.pub = await database('postgres');
  await world.pub.knex.schema.createTable('customers', (t) => {
    t.integer('id').primary();
    t.string('first_name').notNullable();
    t.string('last_name').notNullable();
    t.string('email');
  });
  await world.pub.knex.schema.createTable('orders', (t) => {
    t.integer('id').primary();
    t.integer('customer_id').notNullable().references('customers.id');
    t.string('warehouse_code').notNullable();
    t.string('status').notNullable();
  });
  await migrate(world.pub.knex, dir, 'shop');
  world.sub = await database('sqlite');
  await migrate(world.sub.knex, dir, 'api_sync');
  world.api = await SinkApi.start();
  world.namespace = randomName('prom');
  const transport = await AmqpTransport.connect({ url: amqpUrl, namespace: world.namespace });
  world.publisher = new Publisher({
    schema: shop,
    knex: world.pub.knex,
    transport,
    virtuals: {
      Order: {
        customer_full_name: (_row: Row, related: { customer: { first_name: string; last_name: string } | null }) =>
          `${related.customer?.first_name ?? ''} ${related.customer?.last_name ?? ''}`,
      },
    } as never,
  });
  const coordinator = await RedisCoordinator.connect(redisUrl, `${world.namespace}:api_sync`);
  world.subscriber = new Subscriber({
    schema: apiSync,
    knex: world.sub.knex,
    transport,
    coordinator,
    sinks: { Order: (event: SinkEvent<unknown>) => post(world.api, event) } as never,
  });
  await world.subscriber.start();
  world.close.push(
    () => world.subscriber.stop(),
    () => world.publisher.close(),
    () => coordinator.close(),
    () => transport.close(),
    () => world.api.close(),
    () => world.pub.drop(),
    () => world.sub.drop(),
    () => removeNamespace(world.namespace, 'api_sync'),
    async () => removeProjects(world.root),
  );
});

test.after(async (world) => {
  for (const close of world.close) await close();
});

/** Waits until the API accepted `n` posts in all, then a little longer for any that should not come. */
async function posts(world: World, n: number): Promise<void> {
  await eventually(
    async () => (world.api.received.filter((r) => r.status === 200).length >= n ? true : undefined),
    15_000,
    `${n} posts`,
  );
  await world.publisher.relay?.flush();
  await new Promise((resolve) => setTimeout(resolve, 300));
}

/** The payloads the API accepted for an order, in the order it received them. */
function payloads(world: World, id: number): unknown[] {
  return world.api.accepted(String(id)).map((r) => r.body.payload);
}

test('status, warehouse and rename, as SyncMachine describes them', async (world) => {
  await world.publisher.transaction(async (tx) => {
    await tx.Customer.create({ id: 1, first_name: 'Jane', last_name: 'Yang' });
    await tx.Customer.create({ id: 2, first_name: 'Sam', last_name: 'Lee' });
    for (const id of [10, 11, 12])
      await tx.Order.create({ id, customer_id: 1, warehouse_code: 'W1', status: 'purchased' });
    await tx.Order.create({ id: 20, customer_id: 2, warehouse_code: 'W1', status: 'purchased' });
  });
  await posts(world, 4);
  assert.equal(payloads(world, 10), [{ customer_full_name: 'Jane Yang', order_status: 'purchased' }]);

  await world.publisher.transaction((tx) => tx.Order.update(10, { status: 'shipped' }));
  await posts(world, 5);
  assert.equal(payloads(world, 10).at(-1), { customer_full_name: 'Jane Yang', order_status: 'shipped' });
  assert.is(world.api.received.length, 5, 'a status change re-posts that order alone');

  await world.publisher.transaction((tx) => tx.Order.update(11, { warehouse_code: 'W9' }));
  await world.publisher.transaction((tx) => tx.Customer.update(1, { email: 'jane@example.com' }));
  await posts(world, 5);
  assert.is(world.api.received.length, 5, 'a warehouse change, or a customer column no payload reads, posts nothing');

  await world.publisher.transaction((tx) => tx.Customer.update(1, { first_name: 'Janet' }));
  await posts(world, 8);
  assert.is(world.api.received.length, 8, "a rename re-posts each of the customer's orders exactly once");
  for (const id of [10, 11, 12]) assert.is((payloads(world, id).at(-1) as Row).customer_full_name, 'Janet Yang');
  assert.equal(payloads(world, 20), [{ customer_full_name: 'Sam Lee', order_status: 'purchased' }]);

  await world.publisher.transaction((tx) => tx.Customer.update(1, { first_name: 'Janet', last_name: 'Yang' }));
  await posts(world, 8);
  assert.is(world.api.received.length, 8, 'an unchanged payload posts nothing');

  assert.equal(
    payloads(world, 10),
    [
      { customer_full_name: 'Jane Yang', order_status: 'purchased' },
      { customer_full_name: 'Jane Yang', order_status: 'shipped' },
      { customer_full_name: 'Janet Yang', order_status: 'shipped' },
    ],
    'each distinct payload once, in order',
  );
  for (const id of ['10', '11', '12', '20']) {
    const versions = world.api.accepted(id).map((r) => r.body.version);
    assert.equal(
      versions,
      [...versions].sort((a, b) => a - b),
      `order ${id} in version order`,
    );
    const previous = world.api.accepted(id).map((r) => r.body.previous);
    assert.equal(previous.slice(1), payloads(world, Number(id)).slice(0, -1), 'each post carries the one before');
  }
});

test.run();
