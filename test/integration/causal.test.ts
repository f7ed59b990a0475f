/**
 * Causal order and self-healing, from PostgreSQL to SQLite through the real RabbitMQ: an
 * operation waits for what it depends on (the rows it references, the previous write of its
 * context), unrelated objects never wait for each other, and a message lost by the broker
 * heals through a re-sync answered by the publisher, without skipping anything.
 */
import amqp from 'amqplib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Hooks, Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import { type Envelope, goneVersion, Publisher, Subscriber, versionsTable } from '../../src/runtime/index.js';
import { amqpUrl, eventually } from '../helpers/services.js';
import { crowdtap, newUser, sniper, virtuals } from '../helpers/users-app.js';
import {
  closeWorld,
  deliver,
  member,
  manualPublisher,
  openWorld,
  takeOutbox,
  type World as Fixture,
} from '../helpers/world.js';
import { recordingLogger } from '../helpers/log.js';

interface World extends Fixture {
  /** Publishes nothing by itself: the tests take its messages from the outbox and deliver them. */
  manual: Publisher<Hooks, Virtuals>;
  subscriber: Subscriber<Callbacks> | undefined;
  errors: Error[];
  log: ReturnType<typeof recordingLogger>;
}

const test = suite<World>('causal order and re-sync, postgres -> sqlite', {} as World);
const dependencyTimeoutMs = 1_000;

function startSubscriber(world: World): Promise<void> {
  world.subscriber = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    dependencyTimeoutMs,
    waitMs: 200,
    errorNotifier: (e) => world.errors.push(e),
    logger: world.log,
  });
  return world.subscriber.start();
}

test.before(async (world) => {
  Object.assign(world, await openWorld({ pub: 'postgres', sub: 'sqlite' }));
  world.errors = [];
  world.log = recordingLogger();
  world.manual = manualPublisher(world);
  await startSubscriber(world);
});

test.after((world) => closeWorld(world, world.subscriber, world.manual));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The committed messages waiting in the outbox, oldest first, taken out of it. */

test('a row waits for the row it references, and unrelated rows do not wait for it', async (world) => {
  const leia = newUser('Leia', { org_id: 7 });
  const han = newUser('Han');
  await world.manual.transaction(async (tx) => void (await tx.Organization.create({ id: 7, name: 'Rebels' })));
  await world.manual.transaction(async (tx) => void (await tx.User.create(leia)));
  await world.manual.transaction(async (tx) => void (await tx.User.create(han)));
  const [organization, leiaCreated, hanCreated] = await takeOutbox(world);
  if (!organization || !leiaCreated || !hanCreated) throw new Error('three messages expected');
  assert.equal(leiaCreated.dependencies, [
    { endpoint: 'crowdtap/organization', id: '7', version: 1, types: ['Organization'] },
  ]);

  await deliver(world, leiaCreated, hanCreated);
  await eventually(() => member(world, han.id), 5_000, 'the unrelated row');
  assert.is(await member(world, leia.id), undefined, 'Leia waits for her organization');

  await deliver(world, organization);
  await eventually(() => member(world, leia.id), 5_000, 'the waiting row');
  assert.is((await world.sub.knex('organizations').where('id', 7).first())?.name, 'Rebels');
  assert.equal(world.errors, []);
});

test("a context's write waits for the context's previous write", async (world) => {
  const luke = newUser('Luke');
  const ben = newUser('Ben');
  await world.manual.transaction(async (tx) => {
    await tx.User.create(luke);
    await tx.User.create(ben);
  });
  await deliver(world, ...(await takeOutbox(world)));
  await eventually(() => member(world, ben.id));

  await world.manual.context({ name: 'POST /messages', userId: 'u1' }, async () => {
    await world.manual.transaction(async (tx) => void (await tx.User.update(luke.id, { name: 'Luke, unfriended' })));
    await world.manual.transaction(async (tx) => void (await tx.User.update(ben.id, { name: 'Ben, messaged' })));
  });
  const [first, second] = await takeOutbox(world);
  if (!first || !second) throw new Error('two messages expected');
  assert.equal(second.context, { name: 'POST /messages', userId: 'u1' });
  assert.equal(second.dependencies, [{ endpoint: 'crowdtap/user', id: luke.id, version: 2, types: ['User'] }]);

  await deliver(world, second);
  await sleep(400);
  assert.is((await member(world, ben.id))?.name, 'Ben', 'the effect waits for its cause');
  await deliver(world, first);
  await eventually(async () => ((await member(world, ben.id))?.name === 'Ben, messaged' ? true : undefined));
  assert.is((await member(world, luke.id))?.name, 'Luke, unfriended');
});

test('a dependency on a type this app neither stores nor observes does not block', async (world) => {
  const rey = newUser('Rey');
  await world.manual.transaction(async (tx) => void (await tx.User.create(rey)));
  const [created] = await takeOutbox(world);
  if (!created) throw new Error('one message expected');
  const untracked = { endpoint: 'crowdtap/starship', id: 'falcon', version: 9, types: ['Starship'] };
  await deliver(world, { ...created, dependencies: [untracked] });
  await eventually(() => member(world, rey.id), 5_000);
});

/** Stops the subscriber, lets `write` publish through a live relay, and deletes the first `lose` messages from its queue. */
async function loseMessages(
  world: World,
  lose: number,
  total: number,
  write: (p: Publisher<Hooks, Virtuals>) => Promise<void>,
) {
  await world.subscriber?.stop();
  const live = new Publisher({ schema: crowdtap, knex: world.pub.knex, transport: world.transport, virtuals });
  await write(live);
  await live.relay?.flush();
  const connection = await amqp.connect(amqpUrl);
  const channel = await connection.createChannel();
  const queue = `${world.namespace}.sniper`;
  await eventually(async () => ((await channel.checkQueue(queue)).messageCount === total ? true : undefined));
  const lost: string[] = [];
  for (let i = 0; i < lose; i++) {
    const message = await channel.get(queue, { noAck: true });
    if (!message) throw new Error('a message was expected in the queue');
    const envelope = JSON.parse(message.content.toString()) as Envelope;
    lost.push(envelope.operations.map((op) => op.operation).join(','));
  }
  await connection.close();
  return { live, lost };
}

test('a lost message heals by itself through a re-sync, without skipping anything', async (world) => {
  const finn = newUser('Finn');
  const { live, lost } = await loseMessages(world, 1, 2, async (publisher) => {
    await publisher.transaction(async (tx) => void (await tx.User.create(finn)));
    await publisher.transaction(async (tx) => void (await tx.User.update(finn.id, { name: 'FN-2187' })));
  });
  assert.equal(lost, ['create'], 'the broker lost the create');
  const started = Date.now();
  await startSubscriber(world);
  const row = await eventually(
    async () => ((await member(world, finn.id))?.name === 'FN-2187' ? true : undefined),
    4 * dependencyTimeoutMs + 5_000,
    'the re-sync',
  );
  const healedMs = Date.now() - started;
  console.log(`    lost create healed in ${healedMs} ms (dependency timeout ${dependencyTimeoutMs} ms)`);
  assert.ok(row);
  assert.ok(healedMs >= dependencyTimeoutMs, 'it waited for the timeout before asking');
  const asked = world.log.records.filter((r) => r.level === 'warn' && r.msg?.startsWith('asking the publisher'));
  assert.ok(
    asked.some((r) => r.fields.publisher === 'crowdtap' && JSON.stringify(r.fields.objects).includes(finn.id)),
    JSON.stringify(asked),
  );
  assert.equal(
    world.errors.filter((e) => e.name === 'RecoveryError'),
    [],
    'nothing was skipped',
  );
  const version = await world.sub.knex(versionsTable).where({ object_id: finn.id }).first();
  assert.is(Number(version.version), 2);
  await live.close();
});

test('a lost message of a row deleted since heals to no row, and later messages of it change nothing', async (world) => {
  const poe = newUser('Poe');
  const { live, lost } = await loseMessages(world, 2, 3, async (publisher) => {
    await publisher.transaction(async (tx) => void (await tx.User.create(poe)));
    await publisher.transaction(async (tx) => void (await tx.User.update(poe.id, { name: 'Black Leader' })));
    await publisher.transaction(async (tx) => void (await tx.User.destroy(poe.id)));
  });
  assert.equal(lost, ['create', 'update']);
  await startSubscriber(world);
  const version = await eventually(
    async () => world.sub.knex(versionsTable).where({ object_id: poe.id }).first(),
    4 * dependencyTimeoutMs + 5_000,
    'the tombstone',
  );
  assert.is(Number(version.version), goneVersion);
  assert.ok(Boolean(version.destroyed));
  assert.is(await member(world, poe.id), undefined);
  await live.close();
});

test.run();
