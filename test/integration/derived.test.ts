/**
 * Derived attributes on every database, through the generated code of real routes: what the
 * publisher's outbox receives when a subject, a related row two hops away, or a child changes;
 * that a change no payload reads publishes nothing; that a transaction publishes each subject
 * once; and that a coalescing model publishes a burst once, through the refresher's round.
 */
import type { Knex } from 'knex';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type Envelope,
  type ModelHooks,
  Publisher,
  type PublisherSchema,
  type Transport,
} from '../../src/runtime/index.js';
import {
  generatedModule,
  generateRoutes,
  migrate,
  nextProject,
  projectsRoot,
  removeProjects,
} from '../helpers/project.js';
import { type Dialect, database, type TestDatabase } from '../helpers/services.js';

const routes = (coalesce: string) => `
app shop
publish regions as Region to "shop/region" { id integer primary, name string }
publish customers as Customer to "shop/customer" {
  id          integer primary
  first_name  string private
  last_name   string private
  email       string?
  region_id   belongs_to Region?
}
publish orders as Order to "shop/order" ${coalesce} {
  id                  integer primary
  customer_id         belongs_to Customer
  warehouse_code      string private
  order_status        string column status
  customer_full_name  string virtual(use customer.first_name, customer.last_name)
  region_name         string? from customer.region.name
  line_count          integer count(OrderLine)
  total               decimal(12, 2) sum(OrderLine.amount)
}
publish order_lines as OrderLine to "shop/order_line" { id integer primary, order_id belongs_to Order, amount decimal(12, 2) }
`;

type Row = Record<string, unknown>;
type Hooks = Record<'Region' | 'Customer' | 'Order' | 'OrderLine', ModelHooks<Row, Row, Row>>;

const virtuals = {
  Order: {
    customer_full_name: (_row: Row, related: { customer: { first_name: string; last_name: string } | null }) =>
      related.customer ? `${related.customer.first_name} ${related.customer.last_name}` : '',
  },
};

/** The publisher never reaches the broker here: what it publishes is read from the outbox. */
const noTransport = { publish: async () => {} } as unknown as Transport;

let root: string;
const projects: Record<'plain' | 'coalesced', { dir: string; schema: PublisherSchema<Hooks> }> = {} as never;

async function project(name: 'plain' | 'coalesced', text: string): Promise<void> {
  const dir = nextProject(root, name);
  await generateRoutes(dir, text);
  const { schema } = await generatedModule<{ schema: PublisherSchema<Hooks> }>(dir, 'shop/publisher.ts');
  projects[name] = { dir, schema };
}

async function ownTables(knex: Knex): Promise<void> {
  await knex.schema.createTable('regions', (t) => {
    t.integer('id').primary();
    t.string('name').notNullable();
  });
  await knex.schema.createTable('customers', (t) => {
    t.integer('id').primary();
    t.string('first_name').notNullable();
    t.string('last_name').notNullable();
    t.string('email');
    t.integer('region_id').references('regions.id');
  });
  await knex.schema.createTable('orders', (t) => {
    t.integer('id').primary();
    t.integer('customer_id').notNullable().references('customers.id');
    t.string('warehouse_code').notNullable();
    t.string('status').notNullable();
  });
  await knex.schema.createTable('order_lines', (t) => {
    t.integer('id').primary();
    t.integer('order_id').notNullable().references('orders.id');
    t.decimal('amount', 12, 2).notNullable();
  });
}

interface World {
  db: TestDatabase;
  /** What the publisher reported: raw-write detection among it. */
  errors: Error[];
  publisher: Publisher<Hooks>;
  /** Outbox rows read so far. */
  seen: number;
}

async function open(world: World, dialect: Dialect, which: 'plain' | 'coalesced'): Promise<void> {
  world.db = await database(dialect);
  await ownTables(world.db.knex);
  await migrate(world.db.knex, projects[which].dir, 'shop');
  world.publisher = new Publisher({
    schema: projects[which].schema,
    knex: world.db.knex,
    transport: noTransport,
    relay: false,
    answerResync: false,
    virtuals: virtuals as never,
    detectRawWrites: true,
    errorNotifier: (error) => world.errors.push(error),
  });
  world.seen = 0;
  world.errors = [];
}

/** The messages committed since the last call. */
async function published(world: World): Promise<Envelope[]> {
  const rows = (await world.db.knex('promiscuous_outbox').orderBy('id')) as { message: string }[];
  const fresh = rows.slice(world.seen).map((row) => JSON.parse(row.message) as Envelope);
  world.seen = rows.length;
  return fresh;
}

/** The order operations of messages, as `id@version`, and their attributes by id. */
function orders(messages: readonly Envelope[]): { ops: string[]; attributes: Map<string, Row> } {
  const ops = messages.flatMap((m) => m.operations.filter((op) => op.endpoint === 'shop/order'));
  return {
    ops: ops.map((op) => `${op.id}@${op.version}`),
    attributes: new Map(ops.map((op) => [op.id, op.attributes as Row])),
  };
}

async function seed(world: World): Promise<void> {
  await world.publisher.transaction(async (tx) => {
    await tx.Region.create({ id: 1, name: 'North' });
    await tx.Customer.create({ id: 1, first_name: 'Jane', last_name: 'Yang', region_id: 1 });
    await tx.Customer.create({ id: 2, first_name: 'Ann', last_name: 'Lee' });
    for (const id of [10, 11, 12])
      await tx.Order.create({ id, customer_id: 1, warehouse_code: 'W1', status: 'purchased' });
    await tx.Order.create({ id: 20, customer_id: 2, warehouse_code: 'W1', status: 'purchased' });
  });
}

for (const dialect of ['sqlite', 'postgres', 'mariadb'] as const) {
  const test = suite<World>(`derived attributes on ${dialect}`, {} as World);
  test.before(async () => {
    if (root) return;
    root = projectsRoot();
    await project('plain', routes(''));
    await project('coalesced', routes('coalesce 500ms'));
  });
  test.before.each(async (world) => open(world, dialect, 'plain'));
  test.after.each(async (world) => {
    await world.publisher.close();
    await world.db.drop();
  });
  if (dialect === 'mariadb') test.after(() => removeProjects(root));

  test('a subject is published with its derived values, and again only when they change', async (world) => {
    await seed(world);
    const created = orders(await published(world));
    assert.equal(created.ops, ['10@1', '11@1', '12@1', '20@1']);
    assert.equal(created.attributes.get('10'), {
      id: 10,
      customer_id: 1,
      order_status: 'purchased',
      customer_full_name: 'Jane Yang',
      region_name: 'North',
      line_count: 0,
      total: created.attributes.get('10')?.total,
    });
    assert.is(Number(created.attributes.get('10')?.total), 0);
    assert.is(created.attributes.get('20')?.region_name, null, 'a null relation on the way gives null');

    await world.publisher.transaction((tx) => tx.Order.update(10, { status: 'shipped' }));
    assert.equal(orders(await published(world)).ops, ['10@2'], 'a status change re-publishes that order');

    await world.publisher.transaction((tx) => tx.Order.update(10, { warehouse_code: 'W2' }));
    assert.equal(await published(world), [], 'a column no payload reads publishes nothing');

    await world.publisher.transaction((tx) => tx.Customer.update(1, { last_name: 'Lee' }));
    const renamed = await published(world);
    assert.equal(
      orders(renamed).ops.sort(),
      ['10@3', '11@2', '12@2'],
      "a rename re-publishes the customer's orders once",
    );
    assert.is(orders(renamed).attributes.get('11')?.customer_full_name, 'Jane Lee');
    const dependency = renamed[0]?.dependencies.find((d) => d.endpoint === 'shop/customer');
    assert.equal(dependency && { id: dependency.id, version: dependency.version }, { id: '1', version: 1 });

    await world.publisher.transaction((tx) => tx.Customer.update(1, { email: 'jane@example.com' }));
    assert.equal(orders(await published(world)).ops, [], 'a customer column no order reads publishes no order');

    await world.publisher.transaction((tx) => tx.Customer.update(1, { first_name: 'Jane Lee', last_name: '' }));
    await world.publisher.transaction((tx) => tx.Customer.update(1, { first_name: 'Jane', last_name: 'Lee' }));
    const same = orders(await published(world)).ops.length;
    assert.is(same, 6, 'a name written differently re-publishes, and back again');
    await world.publisher.transaction((tx) => tx.Customer.update(1, { first_name: 'Jane', last_name: 'Lee' }));
    assert.equal(await published(world), [], 'the same name publishes nothing');

    await world.publisher.transaction((tx) => tx.Region.update(1, { name: 'South' }));
    const moved = await published(world);
    assert.equal(orders(moved).ops.sort(), ['10@6', '11@5', '12@5'], 'two hops away');
    assert.is(orders(moved).attributes.get('12')?.region_name, 'South');
    const hops = (moved[0]?.dependencies ?? []).map((d) => d.endpoint).sort();
    assert.ok(hops.includes('shop/customer'), 'the orders depend on the customer they were read through');
    assert.equal(world.errors, [], "the publisher's own writes of derived columns are not reported as raw writes");
  });

  test('every operation of a subject in one message carries the derived values', async (world) => {
    await world.publisher.transaction(async (tx) => {
      await tx.Region.create({ id: 1, name: 'North' });
      await tx.Customer.create({ id: 1, first_name: 'Jane', last_name: 'Yang', region_id: 1 });
      await tx.Order.create({ id: 10, customer_id: 1, warehouse_code: 'W1', status: 'purchased' });
      await tx.OrderLine.create({ id: 1, order_id: 10, amount: '5.00' });
      await tx.Order.update(10, { status: 'paid' });
    });
    const ops = (await published(world)).flatMap((m) => m.operations).filter((op) => op.endpoint === 'shop/order');
    const seen = ops.map((op) => [op.operation, op.version, op.attributes?.line_count, op.attributes?.order_status]);
    assert.equal(seen, [
      ['create', 1, 1, 'purchased'],
      ['update', 2, 1, 'paid'],
    ]);
  });

  test('aggregates follow their children, moved from one subject to another too', async (world) => {
    await seed(world);
    await published(world);
    await world.publisher.transaction(async (tx) => {
      await tx.OrderLine.create({ id: 1, order_id: 10, amount: '12.50' });
      await tx.OrderLine.create({ id: 2, order_id: 10, amount: '2.50' });
    });
    const added = orders(await published(world));
    assert.equal(added.ops, ['10@2'], 'two lines in one transaction re-publish the order once');
    assert.equal([added.attributes.get('10')?.line_count, Number(added.attributes.get('10')?.total)], [2, 15]);

    await world.publisher.transaction((tx) => tx.OrderLine.update(2, { order_id: 11 }));
    const moved = orders(await published(world));
    assert.equal(moved.ops.sort(), ['10@3', '11@2']);
    assert.equal([moved.attributes.get('10')?.line_count, Number(moved.attributes.get('10')?.total)], [1, 12.5]);
    assert.equal([moved.attributes.get('11')?.line_count, Number(moved.attributes.get('11')?.total)], [1, 2.5]);

    await world.publisher.transaction((tx) => tx.OrderLine.destroy(1));
    const removed = orders(await published(world));
    assert.equal([removed.ops, removed.attributes.get('10')?.line_count], [['10@4'], 0]);
  });

  test('one transaction publishes each subject once, at the version its own write gave it', async (world) => {
    await seed(world);
    await published(world);
    await world.publisher.transaction(async (tx) => {
      await tx.Order.update(10, { status: 'shipped' });
      for (const name of ['A', 'B', 'C']) await tx.Customer.update(1, { first_name: name });
    });
    const once = orders(await published(world));
    assert.equal(once.ops.sort(), ['10@2', '11@2', '12@2']);
    assert.equal(once.attributes.get('10')?.customer_full_name, 'C Yang');
    assert.equal(once.attributes.get('10')?.order_status, 'shipped');
  });

  test('the app cannot write a derived column', async (world) => {
    await seed(world);
    try {
      await world.publisher.transaction((tx) => tx.Order.update(10, { customer_full_name: 'forged' }));
      assert.unreachable('the write was accepted');
    } catch (error) {
      assert.match((error as Error).message, 'customer_full_name: derived attributes are kept by the publisher');
    }
  });

  test('refresh computes a derived column left empty, and publishes what it changes', async (world) => {
    await seed(world);
    await published(world);
    await world.db.knex('orders').update({ customer_full_name: null });
    assert.is(await world.publisher.refresh('Order'), 4);
    const refreshed = orders(await published(world));
    assert.equal(refreshed.ops.sort(), ['10@2', '11@2', '12@2', '20@2']);
    assert.is(refreshed.attributes.get('20')?.customer_full_name, 'Ann Lee');
    assert.is(await world.publisher.refresh('Order'), 4);
    assert.equal(await published(world), [], 'a second refresh finds nothing to change');
  });

  test('a coalescing model publishes a burst once, with its last state, when due', async (world) => {
    await world.publisher.close();
    await world.db.drop();
    await open(world, dialect, 'coalesced');
    await seed(world);
    const created = orders(await published(world));
    assert.equal(created.ops, ['10@1', '11@1', '12@1', '20@1'], 'a subject written is published at once');
    assert.is(created.attributes.get('10')?.customer_full_name, 'Jane Yang');
    for (let i = 0; i < 20; i += 1)
      await world.publisher.transaction((tx) => tx.Customer.update(1, { first_name: `J${i}` }));
    assert.equal(orders(await published(world)).ops, [], 'the renames publish no order yet');
    assert.is(await world.publisher.refreshDue(), 0, 'nothing is due before the window ends');
    await new Promise((resolve) => setTimeout(resolve, 550));
    assert.is(
      await world.publisher.refreshDue(),
      4,
      "the seed's marks too: its orders were marked as they were written",
    );
    const burst = orders(await published(world));
    assert.equal(burst.ops.sort(), ['10@2', '11@2', '12@2'], 'each order once');
    assert.is(burst.attributes.get('10')?.customer_full_name, 'J19 Yang');
    assert.equal(await world.db.knex('promiscuous_refresh').count({ n: '*' }).first(), {
      n: dialect === 'postgres' ? '0' : 0,
    });
  });

  test.run();
}
