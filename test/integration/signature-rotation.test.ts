/**
 * Signatures over time, through RabbitMQ: a publisher's key rotated while its subscribers trust
 * the old and the new one, and a signed message parked for another reason that is retried from
 * the parked queue.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { factories as shopFactories } from '../../examples/shop/generated/shop/factories.js';
import { generateKeyPair } from '../../src/runtime/index.js';
import { eventually } from '../helpers/services.js';
import { crmWorld, keys, signed } from '../helpers/signatures.js';

const customer = (name: string) => shopFactories.Customer.create({ name, email: `${name}@example.com` });

test('a rotated key: old and new both accepted while both are trusted, the old refused once removed', async () => {
  const next = generateKeyPair();
  const world = await crmWorld({ trust: { shop: [keys.shop.publicText, next.publicText] }, require: true });
  try {
    const [old, renewed] = [customer('obi-wan'), customer('ben')];
    await world.transport.publish([await signed(old, keys.shop), await signed(renewed, next)]);
    for (const message of [old, renewed]) {
      await eventually(async () => world.customer(message.operations[0]?.id as string), 10_000, 'both applied');
    }

    await world.restart({ signatures: { trust: { shop: [next.publicText] }, require: true } });
    const [late, current] = [customer('late'), customer('current')];
    await world.transport.publish([await signed(late, keys.shop), await signed(current, next)]);
    assert.equal(await world.parked(1), [`unknown key: signed with key ${keys.shop.keyId}, which is not trusted`]);
    await eventually(async () => world.customer(current.operations[0]?.id as string), 10_000, 'the new key applied');
    assert.is(await world.customer(late.operations[0]?.id as string), undefined);
  } finally {
    await world.close();
  }
});

test('a signed message parked after failing is retried from the parked queue and still verifies', async () => {
  let failing = true;
  const callbacks = {
    ShopCustomer: {
      afterCreate: () => {
        if (failing) throw new Error('the CRM is down');
      },
    },
  };
  const world = await crmWorld(
    { trust: { shop: [keys.shop.publicText] }, require: true },
    { callbacks, maxAttempts: 1 },
  );
  try {
    const message = customer('padme');
    await world.transport.publish([await signed(message, keys.shop)]);
    const [reason] = await world.parked(1);
    assert.match(reason ?? '', 'failed 1 times: the CRM is down');
    const [parked] = await world.transport.parked('crm');
    assert.match(parked?.signature ?? '', `${keys.shop.keyId}.`);
    failing = false;
    assert.is(await world.transport.retryParked('crm'), 1);
    const row = await eventually(async () => world.customer(message.operations[0]?.id as string), 10_000, 'applied');
    assert.is(row.name, 'padme');
    assert.equal(await world.transport.parked('crm'), [], 'verified, not parked as unsigned or tampered');
  } finally {
    await world.close();
  }
});

test.run();
