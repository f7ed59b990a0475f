/**
 * The shop example: one table published on two endpoints (API versions), and one subscriber
 * table fed by two publishers, each owning its columns.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { migrationSource as billingMigrations } from '../../examples/shop/generated/billing/migrations.js';
import { schema as billing } from '../../examples/shop/generated/billing/publisher.js';
import { migrationSource as crmMigrations } from '../../examples/shop/generated/crm/migrations.js';
import { schema as crm } from '../../examples/shop/generated/crm/subscriber.js';
import { factories as shopFactories } from '../../examples/shop/generated/shop/factories.js';
import { schema as shop } from '../../examples/shop/generated/shop/publisher.js';
import { shopVirtuals as virtuals } from '../../examples/shop/virtuals.js';
import { migrationSource as warehouseMigrations } from '../../examples/shop/generated/warehouse/migrations.js';
import { schema as warehouse } from '../../examples/shop/generated/warehouse/subscriber.js';
import {
  type Envelope,
  outboxTable,
  Publisher,
  Subscriber,
  toOutgoing,
  versionsTable,
} from '../../src/runtime/index.js';
import { database, eventually, randomName } from '../helpers/services.js';
import { connectTransport } from '../helpers/world.js';
import { recordingLogger } from '../helpers/log.js';
import { shopDatabase } from '../helpers/shop-app.js';

const now = new Date('2026-11-22T10:00:00.000Z');

test('a write to a table published on two endpoints publishes both payloads in one message', async () => {
  const db = await shopDatabase();
  const transport = await connectTransport(randomName('prom'));
  const publisher = new Publisher({ schema: shop, knex: db.knex, transport, virtuals, relay: false });
  const customer = crypto.randomUUID();
  const order = crypto.randomUUID();
  await publisher.transaction(async (tx) => {
    await tx.Customer.create({
      id: customer,
      email: 'leia@alderaan.example',
      name: 'Leia',
      created_at: now,
      updated_at: now,
    });
    await tx.Order.create({
      id: order,
      customer_id: customer,
      status: 'pending',
      total: '99.50',
      currency: 'EUR',
      customer_notes: 'gift wrap',
      created_at: now,
      updated_at: now,
    });
  });
  const rows = await db.knex(outboxTable).select('message');
  assert.is(rows.length, 1, 'one transaction, one message');
  const envelope = JSON.parse(rows[0].message) as Envelope;
  assert.equal(
    envelope.operations.map((op) => `${op.endpoint} ${op.types[0]} ${op.operation} v${op.version}`),
    ['shop/customer Customer create v1', 'shop/order Order create v1', 'shop/order_v2 OrderV2 create v1'],
  );
  const [, v1, v2] = envelope.operations;
  assert.is(v1?.attributes?.status, 'pending');
  assert.is(v1?.attributes?.total, '99.5');
  assert.is(v2?.attributes?.state, 'pending', 'v2 renames status to state');
  assert.is(v2?.attributes?.notes, 'gift wrap');
  assert.is(v2?.attributes?.currency, 'EUR');
  for (const op of envelope.operations) {
    const validate = shop.validate.attributes[op.types[0] as string];
    assert.ok(validate?.(op.attributes), `${op.endpoint}: ${JSON.stringify(validate?.errors)}`);
  }
  await transport.close();
  await db.drop();
});

test('one subscriber table fed by two publishers keeps each publisher to its own columns and versions', async () => {
  const shopDb = await shopDatabase();
  const billingDb = await database('sqlite');
  await billingDb.knex.schema.createTable('credit_accounts', (t) => {
    t.uuid('id').primary();
    t.decimal('credit_limit', 12, 2).notNullable();
    t.decimal('balance', 12, 2).notNullable();
    t.string('payment_terms').notNullable();
    t.timestamp('updated_at').notNullable();
  });
  await billingDb.knex.migrate.latest({ migrationSource: billingMigrations });
  // crm's customers table is the generated migrations': both publishers' columns, all nullable.
  const crmDb = await database('postgres');
  await crmDb.knex.migrate.latest({ migrationSource: crmMigrations });

  const transport = await connectTransport(randomName('prom'));
  const subscriber = new Subscriber({ schema: crm, knex: crmDb.knex, transport });
  await subscriber.start();
  const shopPublisher = new Publisher({ schema: shop, knex: shopDb.knex, transport, virtuals });
  const billingPublisher = new Publisher({ schema: billing, knex: billingDb.knex, transport });
  const id = crypto.randomUUID();
  const row = () => crmDb.knex('customers').where('customer_uuid', id).first();

  await shopPublisher.transaction(async (tx) => {
    await tx.Customer.create({ id, email: 'han@falcon.example', name: 'Han', created_at: now, updated_at: now });
  });
  await billingPublisher.transaction(async (tx) => {
    await tx.Customer.create({ id, credit_limit: '1000.00', balance: '0.00', payment_terms: 'net30', updated_at: now });
  });
  await eventually(async () => ((await row())?.credit_limit && (await row())?.name ? true : undefined));
  await billingPublisher.transaction(async (tx) => void (await tx.Customer.update(id, { balance: '250.00' })));
  await eventually(async () => (Number((await row())?.balance) === 250 ? true : undefined));
  assert.is((await row())?.name, 'Han', "billing's update leaves shop's columns alone");
  const versions = await crmDb.knex(versionsTable).where('object_id', id).orderBy('publisher');
  assert.equal(
    versions.map((v) => `${v.publisher} ${v.endpoint} v${v.version}`),
    ['billing billing/customer v2', 'shop shop/customer v1'],
  );
  await billingPublisher.transaction(async (tx) => void (await tx.Customer.destroy(id)));
  await eventually(async () => ((await row())?.credit_limit === null ? true : undefined));
  assert.is((await row())?.email, 'han@falcon.example', "billing's destroy clears only its own columns");

  await shopPublisher.close();
  await billingPublisher.close();
  await subscriber.stop();
  await transport.close();
  for (const db of [shopDb, billingDb, crmDb]) await db.drop();
});

test("an order's destroy waits until the warehouse holds no line of it, and heals through a re-sync", async () => {
  const db = await database('sqlite');
  // The warehouse also publishes: its generated migrations expect these tables of its own, and
  // make the fulfilment tables, a line's order a foreign key.
  await db.knex.schema.createTable('warehouses', (t) => t.integer('id').primary());
  await db.knex.schema.createTable('stock_levels', (t) => t.bigInteger('id').primary());
  await db.knex.migrate.latest({ migrationSource: warehouseMigrations });
  const transport = await connectTransport(randomName('prom'));
  const errors: Error[] = [];
  const log = recordingLogger();
  const subscriber = new Subscriber({
    schema: warehouse,
    knex: db.knex,
    transport,
    dependencyTimeoutMs: 500,
    errorNotifier: (e) => errors.push(e),
    logger: log,
  });
  await subscriber.start();
  const order = shopFactories.Order.create({ customer_id: crypto.randomUUID(), status: 'pending' });
  const orderId = order.operations[0]?.id as string;
  const lines = [1, 2].map(() => shopFactories.OrderLine.create({ order_id: orderId, sku: 'R2-D2', quantity: 1 }));
  await transport.publish([order, ...lines].map(toOutgoing));
  const count = async (table: string) => Number((await db.knex(table).count({ n: '*' }))[0]?.n);
  await eventually(async () => ((await count('fulfilment_lines')) === 2 ? true : undefined));

  // One message: a line of that order, a new order, and its line. Rows are written in the
  // operations' order, the new order before its line, whatever table came first.
  const second = shopFactories.Order.create({ customer_id: crypto.randomUUID(), status: 'pending' });
  const secondId = second.operations[0]?.id as string;
  const mixed = [
    shopFactories.OrderLine.create({ order_id: orderId, sku: 'C-3PO', quantity: 1 }),
    second,
    shopFactories.OrderLine.create({ order_id: secondId, sku: 'BB-8', quantity: 2 }),
  ];
  await transport.publish(
    [{ ...second, id: crypto.randomUUID(), operations: mixed.flatMap((m) => m.operations) }].map(toOutgoing),
  );
  await eventually(async () => ((await count('fulfilment_lines')) === 4 ? true : undefined));

  // The order's destroy arrives first: it waits for the first line's destroy, and for the
  // second line, whose destroy is lost, it asks the shop to re-sync it; nobody answers here,
  // so the order stays, and no foreign-key error ever happens.
  const [first] = lines.map((l) => l.operations[0]?.id as string);
  await transport.publish([shopFactories.Order.destroy(orderId)].map(toOutgoing));
  await new Promise((r) => setTimeout(r, 300));
  assert.is(await count('fulfilment_orders'), 2, 'the order waits for its lines');
  await transport.publish([shopFactories.OrderLine.destroy(first as string)].map(toOutgoing));
  await eventually(async () => ((await count('fulfilment_lines')) === 3 ? true : undefined));
  const askedShop = () =>
    log.records.some((r) => r.msg?.startsWith('asking the publisher') && r.fields.publisher === 'shop');
  await eventually(async () => (askedShop() ? true : undefined));
  assert.is(await count('fulfilment_orders'), 2);
  assert.equal(errors, [], 'no foreign-key error, nothing skipped');
  await subscriber.stop();
  await transport.close();
  await db.drop();
});

test.run();
