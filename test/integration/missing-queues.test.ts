/**
 * A running subscriber whose retry and parked queues are deleted under it (by an operator, or
 * by their expiry) loses nothing: a retry, a deferral or a park that finds its queue gone
 * declares the queues again and lands there, and the message comes back or is listed parked.
 */
import amqp from 'amqplib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { factories } from '../../examples/users/generated/crowdtap/factories.js';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import { Metrics, Subscriber } from '../../src/runtime/index.js';
import { names } from '../../src/transport/amqp/topology.js';
import { amqpUrl, eventually, randomName } from '../helpers/services.js';
import { sniper } from '../helpers/users-app.js';
import { closeWorld, connectTransport, deliver, type World as Fixture, usersDatabase } from '../helpers/world.js';

interface World extends Pick<Fixture, 'sub' | 'transport' | 'namespace'> {
  subscriber: Subscriber<Callbacks>;
  metrics: Metrics;
  /** How many times the mailer failed; it fails once, then works. */
  failures: number;
  mailed: number;
}

const test = suite<World>('retry and parked queues deleted under a running subscriber', {} as World);
const retryDelaysMs = [100, 200, 400];

test.before(async (world) => {
  const namespace = randomName('prom');
  Object.assign(world, {
    namespace,
    sub: await usersDatabase('subscriber', 'sqlite'),
    transport: await connectTransport(namespace, { retryDelaysMs }),
  });
  world.metrics = new Metrics();
  world.failures = 0;
  world.mailed = 0;
  world.subscriber = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    metrics: world.metrics,
    retryDelayMs: () => 100,
    waitMs: 100,
    // No publisher answers a re-sync here, and none is needed: the create comes within it.
    mode: 'recovery',
    dependencyTimeoutMs: 30_000,
    callbacks: {
      UserEvent: {
        afterCreate: async () => {
          if (world.failures === 0) {
            world.failures += 1;
            throw new Error('mailer is down');
          }
          world.mailed += 1;
        },
      },
    },
  });
  await world.subscriber.start();
});

test.after((world) => closeWorld(world, world.subscriber));

/** Deletes sniper's retry queues and parked queue, as an operator would; they hold nothing now. */
async function deleteRetryAndParked(world: World): Promise<void> {
  const n = names(world.namespace);
  const queues = [...n.retries(sniper.app, retryDelaysMs.length), n.parked(sniper.app)];
  const connection = await amqp.connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) assert.is((await channel.deleteQueue(queue)).messageCount, 0, queue);
    // A queue that does not exist closes the channel that checks it.
    channel.on('error', () => {});
    await channel.checkQueue(n.parked(sniper.app)).then(
      () => assert.unreachable('the parked queue is gone'),
      () => {},
    );
  } finally {
    await connection.close();
  }
}

test('a failed message is retried through a retry queue deleted under the subscriber', async (world) => {
  await deleteRetryAndParked(world);
  await deliver(world, factories.UserEvent.create({ event: 'registered' }));
  await eventually(async () => (world.mailed === 1 ? true : undefined), 5_000, 'the retried message applied');
  assert.is(world.failures, 1);
});

test('a message that can never be applied is parked in a parked queue deleted under the subscriber', async (world) => {
  await deleteRetryAndParked(world);
  await world.transport.publish([
    { routingKeys: ['crowdtap.user.create'], messageId: 'junk', body: Buffer.from('{not json') },
  ]);
  const parked = await eventually(
    async () => {
      const list = await world.transport.parked(sniper.app);
      return list.length > 0 ? list : undefined;
    },
    5_000,
    'the message parked',
  );
  assert.equal(
    parked.map((p) => p.messageId),
    ['junk'],
  );
  assert.match(parked[0]?.reason ?? '', 'malformed JSON');
  assert.is(await world.transport.dropParked(sniper.app), 1);
});

test('a deferred message waits in a retry queue deleted under the subscriber, then is applied', async (world) => {
  const deferred = async () => (await world.metrics.messagesDeferred.get()).values[0]?.value ?? 0;
  const created = factories.User.create({ name: 'first' });
  const id = created.operations[0]?.id as string;
  await deleteRetryAndParked(world);
  await deliver(world, factories.User.update(id, { name: 'second' }));
  // The update waits for its create, first in memory, then deferred through a retry queue.
  await eventually(async () => ((await deferred()) > 0 ? true : undefined), 5_000, 'the update deferred');
  await deliver(world, created);
  const row = () => world.sub.knex('members').where('crowdtap_id', id).first();
  await eventually(async () => ((await row())?.name === 'second' ? true : undefined), 5_000, 'the update applied');
});

test.run();
