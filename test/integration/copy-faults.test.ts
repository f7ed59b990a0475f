/**
 * A delivery's copy to a retry or parked queue under the faults that can strike between the
 * copy and the acknowledgement of the original, each provoked at its exact point through the
 * channels the copy is written on: the original is acknowledged only once its copy is
 * confirmed into a queue; otherwise it stays unacknowledged, and the broker delivers it again.
 */
import amqp, {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type GetMessage,
} from 'amqplib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Channels } from '../../src/transport/amqp/connection.js';
import { deliveries } from '../../src/transport/amqp/delivery.js';
import { Topology } from '../../src/transport/amqp/topology.js';
import type { Delivery } from '../../src/transport/transport.js';
import { amqpUrl, queueExpiresMs, randomName } from '../helpers/services.js';

/** What the test does at a point of the copy's way. */
interface Faults {
  /** Before the copy's channel is handed out for send number `n` (1: the first, 2: once more). */
  beforeSend?(n: number): Promise<void>;
  /** Before the queues are declared again, after a copy came back. */
  beforeRedeclare?(): Promise<void>;
  /** Wraps the channel a copy is sent on. */
  channel?(channel: ConfirmChannel): ConfirmChannel;
  /** Once the copies are settled, before the original is acknowledged. */
  beforeAck?(): void;
}

interface Rig {
  readonly connection: ChannelModel;
  readonly topology: Topology;
  /** The channel the original was taken on, unacknowledged. */
  readonly consumer: Channel;
  readonly delivery: Delivery;
  /** Resolves to whether a copy failed, once the original is settled (acknowledged when not). */
  readonly settled: Promise<boolean>;
  /** The confirm channel copies are written on now. */
  current(): ConfirmChannel | undefined;
  depth(queue: string): Promise<number | undefined>;
  deleteQueue(queue: string): Promise<void>;
  close(): Promise<void>;
}

/** An app's queues, one message taken from the app's queue, and its delivery, whose copies meet `faults`. */
async function rig(faults: Faults = {}): Promise<Rig> {
  const namespace = randomName('prom');
  // A long delay keeps a retried copy in its retry queue, where the test counts it.
  const topology = new Topology({ url: amqpUrl, namespace, retryDelaysMs: [60_000], expiresMs: queueExpiresMs });
  const connection = await amqp.connect(amqpUrl);
  connection.on('error', () => {});
  await topology.declareApp(connection, 'app', []);
  const admin = await connection.createConfirmChannel();
  admin.sendToQueue(topology.names.queue('app'), Buffer.from('{"id":"m1"}'), { persistent: true, messageId: 'm1' });
  await admin.waitForConfirms();
  const consumer = await connection.createChannel();
  consumer.on('error', () => {});
  const message = await consumer.get(topology.names.queue('app'), { noAck: false });
  if (!message) throw new Error('the message is in the app queue');

  let confirm: ConfirmChannel | undefined;
  let sends = 0;
  const channels: Channels = {
    async confirmChannel() {
      sends += 1;
      await faults.beforeSend?.(sends);
      if (!confirm) {
        const opened = await connection.createConfirmChannel();
        opened.on('error', () => {});
        opened.on('close', () => confirm === opened && (confirm = undefined));
        confirm = opened;
      }
      return faults.channel ? faults.channel(confirm) : confirm;
    },
    async channelFactory() {
      await faults.beforeRedeclare?.();
      return connection;
    },
  };
  let resolveSettled: (failed: boolean) => void = () => {};
  const settled = new Promise<boolean>((resolve) => (resolveSettled = resolve));
  const [delivery] = deliveries(asConsumed(message), { app: 'app', topology, channels }, (failed) => {
    resolveSettled(failed);
    // As the consumer does: the original is acknowledged once its copy is safe (and the ack
    // throws on a channel that closed meanwhile).
    faults.beforeAck?.();
    if (!failed) consumer.ack(message);
  });
  if (!delivery) throw new Error('one delivery');

  const withChannel = async <T>(work: (channel: Channel) => Promise<T>): Promise<T> => {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    try {
      return await work(channel);
    } finally {
      await channel.close().catch(() => {});
    }
  };
  return {
    connection,
    topology,
    consumer,
    delivery,
    settled,
    current: () => confirm,
    depth: (queue) => withChannel((c) => c.checkQueue(queue).then((q) => q.messageCount)).catch(() => undefined),
    deleteQueue: (queue) => withChannel(async (c) => void (await c.deleteQueue(queue))),
    close: async () => {
      for (const queue of [
        topology.names.queue('app'),
        topology.names.parked('app'),
        ...topology.names.retries('app', 1),
      ])
        await withChannel(async (c) => void (await c.deleteQueue(queue)));
      await connection.close();
    },
  };
}

/** A message taken with basic.get, as a consumer would have been handed it. */
function asConsumed(message: GetMessage): ConsumeMessage {
  return { ...message, fields: { ...message.fields, consumerTag: 'test' } };
}

test('a copy to a retry queue that is gone declares it again; the original is acknowledged once the copy is in it', async () => {
  const r = await rig();
  const retry = r.topology.names.retry('app', 0);
  try {
    await r.deleteQueue(retry);
    await r.delivery.retry(new Error('failed'), 1_000);
    assert.is(await r.settled, false, 'the copy is known to be in a queue');
    assert.is(await r.depth(retry), 1, 'the retry queue, declared again, holds the copy');
    assert.is(await r.depth(r.topology.names.queue('app')), 0, 'the original was acknowledged');
  } finally {
    await r.close();
  }
});

test('a park to a parked queue that is gone declares it again, and the copy is listed there', async () => {
  const r = await rig();
  const parked = r.topology.names.parked('app');
  try {
    await r.deleteQueue(parked);
    await r.delivery.park('cannot be applied');
    assert.is(await r.settled, false);
    assert.is(await r.depth(parked), 1);
  } finally {
    await r.close();
  }
});

test('a copy that finds its queue gone again when it is sent once more fails, and the original is not acknowledged', async () => {
  const r: Rig = await rig({
    // The queue declared again disappears before the second send (an operator deleting it twice).
    beforeSend: async (n) => (n === 2 ? r.deleteQueue(retry()) : undefined),
  });
  const retry = () => r.topology.names.retry('app', 0);
  try {
    await r.deleteQueue(retry());
    const failed = await r.delivery.retry(new Error('failed'), 1_000).then(
      () => undefined,
      (error: Error) => error,
    );
    assert.match(String(failed?.message), `no queue ${retry()}`);
    assert.is(await r.settled, true, 'a copy failed');
    await r.consumer.close();
    assert.is(await r.depth(r.topology.names.queue('app')), 1, 'the original, unacknowledged, is back in its queue');
  } finally {
    await r.close();
  }
});

test('the channel closes between the return and the copy sent once more: it goes on a new channel, and nothing is lost', async () => {
  let first: ConfirmChannel | undefined;
  const r: Rig = await rig({
    beforeRedeclare: async () => {
      first = r.current();
      await first?.close();
    },
  });
  const retry = r.topology.names.retry('app', 0);
  try {
    await r.deleteQueue(retry);
    await r.delivery.retry(new Error('failed'), 1_000);
    assert.ok(first, 'the copy came back on the first channel, which then closed');
    assert.ok(r.current() && r.current() !== first, 'the copy went once more on another channel');
    assert.is(await r.settled, false);
    assert.is(await r.depth(retry), 1);
  } finally {
    await r.close();
  }
});

test('a copy whose channel closes before its confirm comes fails, and the original is not acknowledged', async () => {
  const r = await rig({
    // The channel closes right after the copy is written: its confirm can never arrive.
    channel: (channel) =>
      new Proxy(channel, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (property !== 'sendToQueue') return typeof value === 'function' ? value.bind(target) : value;
          return (...args: Parameters<ConfirmChannel['sendToQueue']>) => {
            const written = target.sendToQueue(...args);
            void target.close().catch(() => {});
            return written;
          };
        },
      }),
  });
  try {
    const failed = await r.delivery.retry(new Error('failed'), 1_000).then(
      () => undefined,
      (error: Error) => error,
    );
    assert.ok(failed, 'the copy is not known to be in a queue');
    assert.is(await r.settled, true);
    await r.consumer.close();
    assert.is(await r.depth(r.topology.names.queue('app')), 1, 'the original is back in its queue');
  } finally {
    await r.close();
  }
});

test('a copy the broker refuses (nack) fails, and the original is not acknowledged', async () => {
  const r = await rig();
  const retry = r.topology.names.retry('app', 0);
  try {
    // A retry queue that takes nothing: the broker nacks what is sent to it.
    await r.deleteQueue(retry);
    const setup = await r.connection.createChannel();
    await setup.assertQueue(retry, {
      durable: true,
      arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish', 'x-expires': queueExpiresMs },
    });
    await setup.close();
    const failed = await r.delivery.retry(new Error('failed'), 1_000).then(
      () => undefined,
      (error: Error) => error,
    );
    assert.match(String(failed?.message), 'nack');
    assert.is(await r.settled, true);
  } finally {
    await r.close();
  }
});

test('the consumer channel closes between the copy and the acknowledgement: the message is doubled, never lost', async () => {
  const r: Rig = await rig({ beforeAck: () => void r.consumer.close().catch(() => {}) });
  const retry = r.topology.names.retry('app', 0);
  try {
    const failed = await r.delivery.retry(new Error('failed'), 1_000).then(
      () => undefined,
      (error: Error) => error,
    );
    assert.match(String(failed?.message), 'Channel clos', 'the acknowledgement could not be sent');
    assert.is(await r.settled, false, 'the copy was confirmed into its queue');
    assert.is(await r.depth(retry), 1, 'the copy is in the retry queue');
    assert.is(await r.depth(r.topology.names.queue('app')), 1, 'and the original, never acknowledged, is back');
  } finally {
    await r.close();
  }
});

test.run();
