/**
 * Signed messages through RabbitMQ: crm (the shop example's subscriber) trusts shop's and
 * billing's keys, and parks what is unsigned when it must be signed, signed by a key it does not
 * know, altered after signing, or signed by an app other than the one it claims to come from or
 * the owner of an endpoint it writes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { factories as billingFactories } from '../../examples/shop/generated/billing/factories.js';
import { factories as shopFactories } from '../../examples/shop/generated/shop/factories.js';
import { generateKeyPair, RedisCoordinator, subscriberStatus, toOutgoing } from '../../src/runtime/index.js';
import { eventually, redisUrl } from '../helpers/services.js';
import { counted, crmWorld, keys, signed, trusting } from '../helpers/signatures.js';

const customer = (name: string) => shopFactories.Customer.create({ name, email: `${name}@example.com` });
const applied = (world: Awaited<ReturnType<typeof crmWorld>>, id: string) =>
  eventually(async () => (await world.customer(id)) ?? undefined, 10_000, `customer ${id} applied`);

test("a message signed by its publisher's key is applied; one for shop's endpoint signed with billing's key is parked", async () => {
  const world = await crmWorld({ trust: trusting('shop', 'billing'), require: true });
  const coordinator = await RedisCoordinator.connect(redisUrl, `${world.namespace}:crm`);
  await world.restart({ coordinator });
  try {
    const genuine = customer('leia');
    await world.transport.publish([await signed(genuine, keys.shop)]);
    assert.is((await applied(world, genuine.operations[0]?.id as string)).name, 'leia');

    // billing's key, and the envelope says shop: the signer is not who the message claims to be.
    const claimsShop = customer('forged');
    // billing's key, billing's name, and an operation on shop's endpoint: billing does not own it.
    const claimsBilling = { ...billingFactories.Customer.create(), operations: customer('forged too').operations };
    await world.transport.publish([await signed(claimsShop, keys.billing), await signed(claimsBilling, keys.billing)]);
    const reasons = await world.parked(2);
    const billingId = keys.billing.keyId;
    assert.equal(reasons.sort(), [
      `not owner: signed with billing's key ${billingId}, but says it comes from shop`,
      `not owner: signed with billing's key ${billingId}, but writes shop/customer, an endpoint of shop`,
    ]);
    assert.is(await world.customer(claimsShop.operations[0]?.id as string), undefined, 'nothing forged applied');
    assert.is(await counted(world.metrics.signatureFailures, { publisher: 'shop', reason: 'not-owner' }), 1);
    assert.is(await counted(world.metrics.signatureFailures, { publisher: 'billing', reason: 'not-owner' }), 1);
    await world.subscriber.stop();
    const status = await subscriberStatus(world.transport, 'crm', coordinator);
    assert.equal(status.signatureFailures, [
      { publisher: 'billing', reason: 'not-owner', count: 1 },
      { publisher: 'shop', reason: 'not-owner', count: 1 },
    ]);
  } finally {
    await world.close();
    await coordinator.close();
  }
});

test('a key id nobody trusts, and a body altered after signing, are parked saying which', async () => {
  const world = await crmWorld({ trust: trusting('shop', 'billing') });
  try {
    const stranger = generateKeyPair();
    const unknown = await signed(customer('unknown'), stranger);
    const original = await signed(customer('han'), keys.shop);
    const tampered = { ...original, body: Buffer.from(original.body.toString().replace('"han"', '"vader"')) };
    await world.transport.publish([unknown, tampered]);
    const reasons = await world.parked(2);
    assert.equal(reasons.sort(), [
      `tampered: the signature of shop's key ${keys.shop.keyId} does not match the body`,
      `unknown key: signed with key ${stranger.keyId}, which is not trusted`,
    ]);
    assert.is(await counted(world.metrics.signatureFailures, { publisher: 'shop', reason: 'unknown-key' }), 1);
    assert.is(await counted(world.metrics.signatureFailures, { publisher: 'shop', reason: 'tampered' }), 1);
    assert.is((await world.db.knex('customers').count({ n: '*' }))[0]?.n, 0);
  } finally {
    await world.close();
  }
});

test('an unsigned message is parked when signatures are required, and applied when they are not', async () => {
  const world = await crmWorld({ trust: trusting('shop'), require: true });
  try {
    const unsigned = customer('lando');
    await world.transport.publish([toOutgoing(unsigned)]);
    assert.equal(await world.parked(1), ['unsigned: not signed, and signatures are required']);
    assert.is(await counted(world.metrics.signatureFailures, { publisher: 'shop', reason: 'unsigned' }), 1);

    await world.restart({ signatures: { trust: trusting('shop') } });
    const later = customer('chewie');
    await world.transport.publish([toOutgoing(later), await signed(customer('rey'), keys.shop)]);
    assert.is((await applied(world, later.operations[0]?.id as string)).name, 'chewie');
    await eventually(async () => ((await world.db.knex('customers').count({ n: '*' }))[0]?.n === 2 ? true : undefined));
    assert.is((await world.transport.parked('crm')).length, 1, 'nothing more parked');
  } finally {
    await world.close();
  }
});

test('a captured signed message published again is a duplicate: applied once, nothing parked', async () => {
  const world = await crmWorld({ trust: trusting('shop'), require: true });
  const captured: { body: Buffer; signature: string | undefined }[] = [];
  const spy = await world.transport.consume('spy', { prefetch: 5, bindings: ['shop.customer.*'] }, async (d) => {
    captured.push({ body: d.body, signature: d.signature });
    await d.ack();
  });
  try {
    const first = customer('luke');
    const id = first.operations[0]?.id as string;
    await world.transport.publish([await signed(first, keys.shop)]);
    await applied(world, id);
    await world.transport.publish([await signed(shopFactories.Customer.update(id, { name: 'Luke' }), keys.shop)]);
    await eventually(async () => ((await world.customer(id))?.name === 'Luke' ? true : undefined));
    await eventually(async () => (captured.length === 2 ? true : undefined));
    // The attacker replays the create, signature and all.
    const [create] = captured;
    await world.transport.publish([
      {
        routingKeys: ['shop.customer.create'],
        messageId: first.id,
        body: create?.body as Buffer,
        signature: create?.signature,
      },
    ]);
    await eventually(async () =>
      (await counted(world.metrics.operationsSkipped, { publisher: 'shop' })) === 1 ? true : undefined,
    );
    assert.is((await world.customer(id))?.name, 'Luke', 'the replayed create changed nothing');
    assert.equal(await world.transport.parked('crm'), []);
  } finally {
    await spy.stop();
    await world.close();
  }
});

test.run();
