/**
 * Re-sync requests under signatures, through RabbitMQ: crm signs its requests with its own key,
 * shop verifies them against crm's public key before it answers, and signs its answers.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { factories as shopFactories } from '../../examples/shop/generated/shop/factories.js';
import { schema as shop } from '../../examples/shop/generated/shop/publisher.js';
import { shopVirtuals as virtuals } from '../../examples/shop/virtuals.js';
import {
  Metrics,
  type OutgoingMessage,
  Publisher,
  type ResyncRequest,
  resyncQueueApp,
  resyncRequestKey,
  Signer,
} from '../../src/runtime/index.js';
import { eventually } from '../helpers/services.js';
import { shopDatabase } from '../helpers/shop-app.js';
import { counted, crmWorld, keys, signed, trusting } from '../helpers/signatures.js';

const now = new Date('2026-11-22T10:00:00.000Z');

test('crm signs its re-sync requests and shop answers only those signed by the app that asks', async () => {
  const shopDb = await shopDatabase();
  const world = await crmWorld(
    { key: keys.crm.privatePem, trust: trusting('shop'), require: true },
    { dependencyTimeoutMs: 300 },
  );
  const metrics = new Metrics();
  const publisher = new Publisher({
    schema: shop,
    knex: shopDb.knex,
    transport: world.transport,
    virtuals,
    relay: false,
    answerResync: true,
    metrics,
    signatures: { key: keys.shop.privatePem, trust: trusting('crm', 'billing'), require: true },
  });
  try {
    // Committed, never published (no relay): crm misses the customer its order event depends on.
    const id = randomUUID();
    await publisher.transaction(async (tx) => {
      await tx.Customer.create({ id, email: 'mon@example.com', name: 'Mon', created_at: now, updated_at: now });
    });
    const placed = shopFactories.OrderPlaced.create({ customer_id: id });
    const dependencies = [{ endpoint: 'shop/customer', id, version: 1, types: ['Customer'] }];
    await world.transport.publish([await signed({ ...placed, dependencies }, keys.shop)]);
    const row = await eventually(async () => world.customer(id), 10_000, 'the customer re-synced');
    assert.is(row.name, 'Mon');
    assert.is(await counted(metrics.resyncAnswered, { app: 'shop' }), 1);

    const request = (app: string): OutgoingMessage => {
      const body: ResyncRequest = { format: 1, app, objects: [{ endpoint: 'shop/customer', id, version: 1 }] };
      return {
        routingKeys: [resyncRequestKey('shop')],
        messageId: randomUUID(),
        body: Buffer.from(JSON.stringify(body)),
      };
    };
    const [byBilling] = await new Signer(keys.billing.privatePem).signAll([request('crm')]);
    await world.transport.publish([request('crm'), byBilling as OutgoingMessage]);
    const parked = await eventually(async () => {
      const list = await world.transport.parked(resyncQueueApp('shop'));
      return list.length === 2 ? list.map((p) => p.reason).sort() : undefined;
    });
    assert.equal(parked, [
      `not owner: signed with billing's key ${keys.billing.keyId}, but says it comes from crm`,
      'unsigned: not signed, and signatures are required',
    ]);
    assert.is(await counted(metrics.resyncAnswered, { app: 'shop' }), 1, 'neither answered');
    assert.is(await counted(metrics.signatureFailures, { app: 'shop', publisher: 'crm', reason: 'not-owner' }), 1);
  } finally {
    await publisher.close();
    await world.close();
    await shopDb.drop();
  }
});

test.run();
