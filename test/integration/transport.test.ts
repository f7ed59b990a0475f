/** The RabbitMQ transport on its own: queue types, reconnection, health. */
import { EventEmitter } from 'node:events';
import amqp, { type ChannelModel } from 'amqplib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Delivery } from '../../src/runtime/index.js';
import { AmqpConnection } from '../../src/transport/amqp/connection.js';
import { amqpUrl, dropConnection, eventually, queueExpiresMs, randomName } from '../helpers/services.js';
import { connectTransport } from '../helpers/world.js';

function collector() {
  const bodies: string[] = [];
  return {
    bodies,
    handle: async (d: Delivery) => {
      bodies.push(d.body.toString());
      await d.ack();
    },
  };
}

test('a quorum queue carries messages like a classic one', async () => {
  const transport = await connectTransport(randomName('prom'), { quorum: true });
  const seen = collector();
  const consumer = await transport.consume('app', { prefetch: 5, bindings: ['a.thing.*'] }, seen.handle);
  await transport.publish([{ routingKeys: ['a.thing.create'], messageId: 'q1', body: Buffer.from('hello') }]);
  await eventually(async () => (seen.bodies.includes('hello') ? true : undefined));
  await consumer.stop();
  await transport.close();
});

/** The broker's answer to declaring `queue` again with another `x-queue-version`: what it holds now. */
async function declaredVersion(queue: string, args: Record<string, unknown> = {}): Promise<string> {
  const connection = await amqp.connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    const refused = await channel
      .assertQueue(queue, { durable: true, arguments: { ...args, 'x-expires': queueExpiresMs, 'x-queue-version': 3 } })
      .then(
        () => '',
        (error: Error) => error.message,
      );
    return /but current is '?([^'"\s]+)/.exec(refused)?.[1] ?? `(no refusal: ${refused})`;
  } finally {
    await connection.close();
  }
}

test("an app's classic queues are of version 2; one an earlier release declared without a version still serves", async () => {
  const namespace = randomName('prom');
  const transport = await connectTransport(namespace);
  const seen = collector();
  const consumer = await transport.consume('app', { prefetch: 5, bindings: ['a.thing.*'] }, seen.handle);
  assert.is(await declaredVersion(`${namespace}.app`), '2');
  assert.is(await declaredVersion(`${namespace}.app.parked`), '2');
  const retry = { 'x-message-ttl': 200, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': `${namespace}.app` };
  assert.is(await declaredVersion(`${namespace}.app.retry.0`, retry), '2');
  await consumer.stop();

  // The queue of another app, declared as an earlier release did, holding a message.
  const connection = await amqp.connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue(`${namespace}.old`, { durable: true, arguments: { 'x-expires': queueExpiresMs } });
  channel.sendToQueue(`${namespace}.old`, Buffer.from('waiting'), { persistent: true });
  await channel.waitForConfirms();
  await connection.close();
  const old = collector();
  const oldConsumer = await transport.consume('old', { prefetch: 5, bindings: ['a.old.*'] }, old.handle);
  await transport.publish([{ routingKeys: ['a.old.create'], messageId: 'o1', body: Buffer.from('new') }]);
  await eventually(async () => (old.bodies.length === 2 ? true : undefined));
  assert.equal(old.bodies, ['waiting', 'new']);
  assert.is(await declaredVersion(`${namespace}.old`), 'none');
  assert.ok(transport.healthy(), 'the refused declaration closed no channel the transport publishes on');
  await transport.publish([{ routingKeys: ['a.old.create'], messageId: 'o2', body: Buffer.from('after') }]);
  await eventually(async () => (old.bodies.length === 3 ? true : undefined));
  await oldConsumer.stop();
  await transport.close();
});

test('one message published under several keys reaches a queue once', async () => {
  const transport = await connectTransport(randomName('prom'));
  const seen = collector();
  const consumer = await transport.consume('app', { prefetch: 5, bindings: ['a.thing.*', 'a.other.*'] }, seen.handle);
  await transport.publish([
    { routingKeys: ['a.thing.create', 'a.other.update'], messageId: 'cc', body: Buffer.from('both') },
  ]);
  await eventually(async () => (seen.bodies.includes('both') ? true : undefined));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(seen.bodies, ['both']);
  await consumer.stop();
  await transport.close();
});

test('when the broker drops every connection, publishing waits for the reconnection and consumers resume, also one started meanwhile', async () => {
  const name = randomName('dropped');
  const transport = await connectTransport(randomName('prom'), { connectTimeoutMs: 20_000, connectionName: name });
  const seen = collector();
  const consumer = await transport.consume('app', { prefetch: 5, bindings: ['a.thing.*'] }, seen.handle);
  assert.ok(transport.healthy());
  dropConnection(name);
  await eventually(async () => (transport.healthy() ? undefined : true), 5_000, 'the drop to be noticed');
  // Started while the connection is away: it starts with the reconnection (a worker that
  // starts while RabbitMQ restarts must not die of it).
  const late = collector();
  const lateConsumer = await transport.consume('late', { prefetch: 5, bindings: ['a.late.*'] }, late.handle);
  await transport.publish([
    { routingKeys: ['a.thing.create'], messageId: 'after', body: Buffer.from('after the drop') },
    { routingKeys: ['a.late.create'], messageId: 'late', body: Buffer.from('to the late one') },
  ]);
  assert.ok(transport.healthy(), 'reconnected');
  await eventually(async () => (seen.bodies.includes('after the drop') ? true : undefined), 15_000);
  await eventually(async () => (late.bodies.includes('to the late one') ? true : undefined), 15_000);
  await lateConsumer.stop();
  await consumer.stop();
  await transport.close();
  assert.not.ok(transport.healthy(), 'a closed transport is not healthy');
});

test('messages published together travel as one broker message and are settled one by one', async () => {
  const namespace = randomName('prom');
  const transport = await connectTransport(namespace, { retryDelaysMs: [100] });
  const bindings = ['a.thing.*', 'a.other.*'];
  await transport.declare('app', bindings);
  const message = (id: string, key: string) => ({
    routingKeys: [key],
    messageId: id,
    body: Buffer.from(`{"id":"${id}"}`),
  });
  await transport.publish([
    message('m1', 'a.thing.create'),
    message('m2', 'a.other.update'),
    message('m3', 'a.thing.create'),
    message('m4', 'a.thing.create'),
  ]);
  // The three under `a.thing.create` share a frame; the other travels alone.
  assert.is((await transport.stats('app'))?.ready, 2);

  const seen: { id: string | undefined; attempt: number; body: string }[] = [];
  const consumer = await transport.consume('app', { prefetch: 1, bindings }, async (d) => {
    seen.push({ id: d.messageId, attempt: d.attempt, body: d.body.toString() });
    if (d.messageId === 'm3') return d.park('m3 cannot be applied');
    if (d.messageId === 'm4' && d.attempt === 0) return d.retry(new Error('not yet'), 100);
    return d.ack();
  });
  await eventually(async () => (seen.length === 5 ? true : undefined), 5_000, 'four deliveries and one retry');
  await new Promise((r) => setTimeout(r, 300));
  await consumer.stop();
  assert.equal(
    seen.map((s) => `${s.id}:${s.attempt}`).sort(),
    ['m1:0', 'm2:0', 'm3:0', 'm4:0', 'm4:1'],
    'each message of the frame handed over alone, the retried one again alone, nothing twice',
  );
  assert.ok(seen.every((s) => s.body === `{"id":"${s.id}"}`));
  const parked = await transport.parked('app');
  assert.equal(
    parked.map((p) => [p.messageId, p.reason, p.body.toString()]),
    [['m3', 'm3 cannot be applied', '{"id":"m3"}']],
  );
  const stats = await transport.stats('app');
  assert.equal(
    [stats?.ready, stats?.retrying],
    [0, 0],
    'the frame was acknowledged once all its messages were settled',
  );
  await transport.close();
});

test('each message keeps its own signature through a frame, a retry, a deferral, the parked queue and back', async () => {
  const namespace = randomName('prom');
  const transport = await connectTransport(namespace, { retryDelaysMs: [100] });
  const bindings = ['a.thing.*'];
  await transport.declare('app', bindings);
  const message = (id: string, signature?: string) => ({
    routingKeys: ['a.thing.create'],
    messageId: id,
    body: Buffer.from(`{"id":"${id}"}`),
    ...(signature ? { signature } : {}),
  });
  await transport.publish([message('s1', 'k1.AAA'), message('u2'), message('s3', 'k1.CCC'), message('s4', 'k2.DDD')]);
  assert.is((await transport.stats('app'))?.ready, 1, 'one frame');
  const seen: string[] = [];
  let parkedOnce = false;
  const consumer = await transport.consume('app', { prefetch: 5, bindings }, async (d) => {
    seen.push(`${d.messageId}:${d.attempt}:${d.waitingSince === undefined ? '' : 'w'}:${d.signature ?? '-'}`);
    if (d.messageId === 's1' && d.attempt === 0) return d.retry(new Error('not yet'), 100);
    if (d.messageId === 's3' && d.waitingSince === undefined) return d.defer(100, Date.now());
    if (d.messageId === 's4' && !parkedOnce) {
      parkedOnce = true;
      return d.park('later');
    }
    return d.ack();
  });
  await eventually(async () => (seen.length === 6 ? true : undefined), 5_000, 'four deliveries, a retry, a deferral');
  const parked = await transport.parked('app');
  assert.equal(
    parked.map((p) => `${p.messageId} ${p.signature}`),
    ['s4 k2.DDD'],
  );
  assert.is(await transport.retryParked('app'), 1);
  await eventually(async () => (seen.length === 7 ? true : undefined), 5_000, 'the parked message back');
  await consumer.stop();
  assert.equal(seen.sort(), [
    's1:0::k1.AAA',
    's1:1::k1.AAA',
    's3:0::k1.CCC',
    's3:0:w:k1.CCC',
    's4:0::k2.DDD',
    's4:0::k2.DDD',
    'u2:0::-',
  ]);
  await transport.close();
});

test("parked messages moved back to an app's queue that is gone stay parked, and the caller hears why", async () => {
  const namespace = randomName('prom');
  const transport = await connectTransport(namespace);
  try {
    await transport.declare('app', ['a.thing.*']);
    const connection = await amqp.connect(amqpUrl);
    const channel = await connection.createConfirmChannel();
    channel.sendToQueue(`${namespace}.app.parked`, Buffer.from('{}'), { persistent: true, messageId: 'p1' });
    await channel.waitForConfirms();
    await channel.deleteQueue(`${namespace}.app`);
    await connection.close();
    const refused = await transport.retryParked('app').then(
      (moved) => `moved ${moved}`,
      (error: Error) => error.message,
    );
    assert.match(refused, `the queue ${namespace}.app does not exist`);
    assert.equal(
      (await transport.parked('app')).map((m) => m.messageId),
      ['p1'],
      'still parked',
    );
  } finally {
    await transport.close();
  }
});

test('a connection whose socket fails while it is being set up hands the error to the reconnection', async () => {
  const connection = await AmqpConnection.open({ url: amqpUrl }, { prepare: async () => {}, resume: async () => {} });
  // What amqplib's reconnection hands the setup: a new connection, with no listener of its own
  // for errors yet. Its socket fails (the broker restarting) while the setup talks to it.
  const model = new EventEmitter() as EventEmitter & { createConfirmChannel(): Promise<never> };
  let listened = false;
  model.createConfirmChannel = () => {
    listened = model.listenerCount('error') > 0;
    return Promise.reject(new Error('Connection closed'));
  };
  try {
    const failed = await connection.reconnected(model as unknown as ChannelModel).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(listened, 'an error of the socket meanwhile does not go unheard (it would throw at the process)');
    assert.match(String(failed?.message), /Connection closed/, 'the setup fails, and the reconnection tries again');
  } finally {
    await connection.close();
  }
});

test.run();
