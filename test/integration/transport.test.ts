/** The RabbitMQ transport on its own: queue types, reconnection, health. */
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AmqpTransport, type Delivery } from '../../src/runtime/index.js';
import { amqpUrl, queueExpiresMs, eventually, randomName } from '../helpers/services.js';

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
  const transport = await AmqpTransport.connect({
    url: amqpUrl,
    expiresMs: queueExpiresMs,
    namespace: randomName('prom'),
    quorum: true,
  });
  const seen = collector();
  const consumer = await transport.consume('app', { prefetch: 5, bindings: ['a.thing.*'] }, seen.handle);
  await transport.publish([{ routingKeys: ['a.thing.create'], messageId: 'q1', body: Buffer.from('hello') }]);
  await eventually(async () => (seen.bodies.includes('hello') ? true : undefined));
  await consumer.stop();
  await transport.close();
});

test('one message published under several keys reaches a queue once', async () => {
  const transport = await AmqpTransport.connect({
    url: amqpUrl,
    expiresMs: queueExpiresMs,
    namespace: randomName('prom'),
  });
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

test('when the broker drops every connection, publishing waits for the reconnection and consumers resume', async () => {
  const name = randomName('dropped');
  const transport = await AmqpTransport.connect({
    url: amqpUrl,
    expiresMs: queueExpiresMs,
    namespace: randomName('prom'),
    connectTimeoutMs: 20_000,
    connectionName: name,
  });
  const seen = collector();
  const consumer = await transport.consume('app', { prefetch: 5, bindings: ['a.thing.*'] }, seen.handle);
  assert.ok(transport.healthy());
  // Only this transport's connection: anything else on the broker is left alone.
  const listing = execFileSync('rabbitmqctl', ['list_connections', '--quiet', 'pid', 'client_properties'], {
    encoding: 'utf8',
  });
  const pid = listing
    .split('\n')
    .find((line) => line.includes(name))
    ?.split('\t')[0];
  assert.ok(pid, `RabbitMQ lists the connection ${name}`);
  execFileSync('rabbitmqctl', ['close_connection', pid, 'test: dropping the connection'], { stdio: 'ignore' });
  await eventually(async () => (transport.healthy() ? undefined : true), 5_000, 'the drop to be noticed');
  await transport.publish([
    { routingKeys: ['a.thing.create'], messageId: 'after', body: Buffer.from('after the drop') },
  ]);
  assert.ok(transport.healthy(), 'reconnected');
  await eventually(async () => (seen.bodies.includes('after the drop') ? true : undefined), 15_000);
  await consumer.stop();
  await transport.close();
  assert.not.ok(transport.healthy(), 'a closed transport is not healthy');
});

test.run();
