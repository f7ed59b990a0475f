/**
 * Sinks post each change of what a subscription receives to a real HTTP API, from crowdtap on
 * PostgreSQL through the real RabbitMQ to sniper on each database: once per change, with the
 * payload sent before; nothing when nothing the sink sees changed, nor for a redelivery;
 * retried with the same idempotency key while the API fails or is slow, then parked with the
 * sink's reason; never twice at once for one object across workers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Hooks, Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import type { Callbacks, Sinks } from '../../examples/users/generated/sniper/subscriber.js';
import {
  type Envelope,
  Metrics,
  type Publisher,
  SinkError,
  Subscriber,
  sinksTable,
  versionsTable,
} from '../../src/runtime/index.js';
import { type Dialect, eventually } from '../helpers/services.js';
import { post, type Received, SinkApi } from '../helpers/sink-api.js';
import { newUser, sniper } from '../helpers/users-app.js';
import {
  closeWorld,
  connectTransport,
  deliver,
  manualPublisher,
  member,
  openWorld,
  takeOutbox,
  type World as Fixture,
} from '../helpers/world.js';

interface World extends Fixture {
  api: SinkApi;
  metrics: Metrics;
  publisher: Publisher<Hooks, Virtuals>;
  subscriber: Subscriber<Callbacks, Sinks>;
  errors: Error[];
}

/** How long the API may take before a send fails. */
const timeoutMs = 500;

/** Commits a transaction at crowdtap, and delivers its message through the broker; returns the message. */
async function commit(world: World, fn: (tx: Hooks) => Promise<unknown>): Promise<Envelope> {
  await world.publisher.transaction(async (tx) => void (await fn(tx)));
  const [message] = await takeOutbox(world);
  if (!message) throw new Error('the transaction published nothing');
  await deliver(world, message);
  return message;
}

/** Waits until the API accepted `n` posts for a subject; returns every request it got for it. */
async function accepted(world: World, id: string, n: number): Promise<Received[]> {
  await eventually(async () => (world.api.accepted(id).length >= n ? true : undefined), 10_000, `${n} posts for ${id}`);
  return world.api.forSubject(id);
}

/** Waits until sniper recorded version `version` of a user (the apply committed). */
function applied(world: Pick<World, 'sub'>, id: string, version: number): Promise<true> {
  return eventually(async () => {
    const row = (await world.sub.knex(versionsTable).where('object_id', id).first('version')) as
      { version: number | string } | undefined;
    return Number(row?.version) >= version ? true : undefined;
  });
}

interface Readable {
  get(): Promise<{ values: { labels: Record<string, string | number>; value: number; metricName?: string }[] }>;
}

/** A metric's value for sniper (and its User sink, for a sink's metric); a histogram's `_count` as `sample`. */
async function value(metric: Readable, sample?: string): Promise<number> {
  const { values } = await metric.get();
  const found = values.find(
    (v) =>
      (sample === undefined || v.metricName === sample) &&
      v.labels.app === 'sniper' &&
      (v.labels.sink === undefined || v.labels.sink === 'User'),
  );
  return found?.value ?? 0;
}

const keyOf = (id: string, version: number) => `User:crowdtap/user:${id}:${version}`;

for (const dialect of ['postgres', 'mariadb', 'sqlite'] as Dialect[]) {
  const test = suite<World>(`sinks post to an external API, postgres -> ${dialect}`, {} as World);

  test.before(async (world) => {
    Object.assign(world, await openWorld({ pub: 'postgres', sub: dialect, transport: { retryDelaysMs: [100, 200] } }));
    world.api = await SinkApi.start();
    world.metrics = new Metrics();
    world.errors = [];
    world.publisher = manualPublisher(world);
    world.subscriber = new Subscriber({
      schema: sniper,
      knex: world.sub.knex,
      transport: world.transport,
      metrics: world.metrics,
      maxAttempts: 3,
      retryDelayMs: () => 100,
      errorNotifier: (error) => world.errors.push(error),
      sinks: {
        User: { send: (event) => post(world.api, event), timeoutMs },
        Member: { send: (event) => post(world.api, event), attempts: 1 },
      },
    });
    await world.subscriber.start();
  });

  test.after(async (world) => {
    await closeWorld(world, world.subscriber, world.publisher);
    await world.api.close();
  });

  test('a create posts its payload once, with no previous, and records it', async (world) => {
    const yoda = newUser('Yoda');
    const sent = await value(world.metrics.sinkSent);
    await commit(world, (tx) => tx.User.create(yoda));
    const [request, ...more] = await accepted(world, yoda.id, 1);
    assert.equal(more, []);
    assert.is(request?.idempotencyKey, keyOf(yoda.id, 1));
    assert.equal(request?.body, {
      operation: 'create',
      version: 1,
      // What sniper's User receives, by the names it receives them under: not first_name, tags, ...
      payload: { name: 'Yoda', email: 'yoda@example.com' },
      previous: null,
    });
    await applied(world, yoda.id, 1);
    const row = (await world.sub.knex(sinksTable).where({ sink: 'User', object_id: yoda.id }).first()) as {
      payload: string;
      version: number | string;
    };
    assert.is(row.payload, '{"email":"yoda@example.com","name":"Yoda"}');
    assert.is(Number(row.version), 1);
    assert.is(await value(world.metrics.sinkSent), sent + 1);
    assert.ok((await value(world.metrics.sinkDuration, 'promiscuous_sink_duration_seconds_count')) >= 1);
  });

  test('an update of what the sink receives posts again, with the payload sent before as previous', async (world) => {
    const leia = newUser('Leia');
    await commit(world, (tx) => tx.User.create(leia));
    await accepted(world, leia.id, 1);
    await commit(world, (tx) => tx.User.update(leia.id, { name: 'Leia Organa' }));
    const [, update] = await accepted(world, leia.id, 2);
    assert.is(update?.idempotencyKey, keyOf(leia.id, 2));
    assert.equal(update?.body, {
      operation: 'update',
      version: 2,
      payload: { name: 'Leia Organa', email: 'leia@example.com' },
      previous: { name: 'Leia', email: 'leia@example.com' },
    });
  });

  test('an update of attributes the sink does not receive posts nothing', async (world) => {
    const han = newUser('Han');
    await commit(world, (tx) => tx.User.create(han));
    await accepted(world, han.id, 1);
    const skipped = await value(world.metrics.sinkSkipped);
    // Published (tags, and the virtual full_name), applied, but not what sniper's User receives.
    await commit(world, (tx) => tx.User.update(han.id, { tags: ['pilot'], last_name: 'Solo' }));
    await applied(world, han.id, 2);
    assert.is(world.api.forSubject(han.id).length, 1, 'no second post');
    assert.is(await value(world.metrics.sinkSkipped), skipped + 1);
  });

  test('a destroy posts null, with the last payload as previous', async (world) => {
    const luke = newUser('Luke');
    await commit(world, (tx) => tx.User.create(luke));
    await accepted(world, luke.id, 1);
    await commit(world, (tx) => tx.User.destroy(luke.id));
    const [, destroy] = await accepted(world, luke.id, 2);
    assert.equal(destroy?.body, {
      operation: 'destroy',
      version: 2,
      payload: null,
      previous: { name: 'Luke', email: 'luke@example.com' },
    });
    await applied(world, luke.id, 2);
    const row = (await world.sub.knex(sinksTable).where({ object_id: luke.id }).first()) as { payload: null };
    assert.is(row.payload, null);
  });

  test('a redelivered message posts nothing twice', async (world) => {
    const rey = newUser('Rey');
    const created = await commit(world, (tx) => tx.User.create(rey));
    await accepted(world, rey.id, 1);
    const before = await value(world.metrics.operationsSkipped);
    await deliver(world, created, created);
    await eventually(async () => ((await value(world.metrics.operationsSkipped)) >= before + 2 ? true : undefined));
    assert.is(world.api.forSubject(rey.id).length, 1);
  });

  test('a failing API is retried with the same idempotency key until it takes the post', async (world) => {
    const finn = newUser('Finn');
    const failures = await value(world.metrics.sinkFailures);
    const errors = world.errors.length;
    world.api.failNext(2);
    await commit(world, (tx) => tx.User.create(finn));
    const requests = await accepted(world, finn.id, 1);
    assert.equal(
      requests.map((r) => [r.status, r.idempotencyKey]),
      [500, 500, 200].map((status) => [status, keyOf(finn.id, 1)]),
    );
    await applied(world, finn.id, 1);
    assert.ok(await member(world, finn.id));
    assert.is(await value(world.metrics.sinkFailures), failures + 2);
    const reported = world.errors.slice(errors);
    assert.is(reported.length, 2);
    assert.ok(reported.every((e) => e.cause instanceof SinkError && e.cause.sink === 'User'));
    assert.match(reported[0]?.message ?? '', 'sink User failed: the API answered 500');
  });

  test("after its last attempt the message is parked with the sink's reason, and nothing of it is kept", async (world) => {
    const poe = newUser('Poe');
    world.api.failNext(1_000);
    const created = await commit(world, (tx) => tx.User.create(poe));
    const parked = await eventually(async () => {
      const found = (await world.transport.parked('sniper')).find((p) => p.messageId === created.id);
      return found;
    });
    world.api.failNext(0);
    assert.match(parked.reason, 'failed 3 times: sink User failed: the API answered 500');
    assert.is(world.api.forSubject(poe.id).length, 3);
    assert.is(await member(world, poe.id), undefined, 'the apply rolled back');
    assert.is(await world.sub.knex(sinksTable).where({ object_id: poe.id }).first(), undefined);
    // Retried from the parked queue once the API is back, it posts once.
    await world.transport.retryParked('sniper', [created.id]);
    const requests = await accepted(world, poe.id, 1);
    assert.is(requests.length, 4);
    assert.ok(requests.every((r) => r.idempotencyKey === keyOf(poe.id, 1)));
  });

  test("a sink's own attempts park its message sooner than the subscriber's", async (world) => {
    const ahsoka = newUser('Ahsoka', { points: 3 });
    world.api.failNext(1);
    const created = await commit(world, (tx) => tx.Member.create(ahsoka));
    const parked = await eventually(async () =>
      (await world.transport.parked('sniper')).find((p) => p.messageId === created.id),
    );
    assert.match(parked.reason, 'failed 1 times: sink Member failed: the API answered 500');
    assert.equal(
      world.api.forSubject(ahsoka.id).map((r) => r.body.payload),
      [{ name: 'Ahsoka', email: 'ahsoka@example.com', points: 3 }],
    );
  });

  test('a send slower than the timeout fails; its retry posts, under the same key', async (world) => {
    const bb = newUser('BB');
    const errors = world.errors.length;
    world.api.slowNext(1, timeoutMs * 4);
    await commit(world, (tx) => tx.User.create(bb));
    const requests = await accepted(world, bb.id, 1);
    assert.equal(
      requests.map((r) => [r.status, r.idempotencyKey]),
      [0, 200].map((status) => [status, keyOf(bb.id, 1)]),
      'the first given up on, the second taken',
    );
    assert.match(world.errors[errors]?.message ?? '', `sink User timed out after ${timeoutMs} ms`);
  });

  test.run();
}

interface TwoWorkers extends World {
  second: Subscriber<Callbacks, Sinks>;
  closeSecond(): Promise<void>;
}

for (const dialect of ['postgres', 'mariadb', 'sqlite'] as Dialect[]) {
  const test = suite<TwoWorkers>(
    `two workers never post for one object at once, postgres -> ${dialect}`,
    {} as TwoWorkers,
  );

  test.before(async (world) => {
    Object.assign(world, await openWorld({ pub: 'postgres', sub: dialect }));
    // Slow enough that two posts of one object would overlap if nothing kept them apart.
    world.api = await SinkApi.start(150);
    world.publisher = manualPublisher(world);
    world.metrics = new Metrics();
    // Without Redis locks: the database's locks alone keep the workers apart.
    const worker = async (transport = world.transport) => {
      const subscriber = new Subscriber({
        schema: sniper,
        knex: world.sub.knex,
        transport,
        metrics: world.metrics,
        prefetch: 1,
        sinks: { User: (event) => post(world.api, event), UserEvent: (event) => post(world.api, event) },
      });
      await subscriber.start();
      return subscriber;
    };
    world.subscriber = await worker();
    const other = await connectTransport(world.namespace);
    world.second = await worker(other);
    world.closeSecond = async () => {
      await world.second.stop();
      await other.close();
    };
  });

  test.after(async (world) => {
    await world.closeSecond();
    await closeWorld(world, world.subscriber, world.publisher);
    await world.api.close();
  });

  test('a create delivered twice at once, then updates, post each change once, one at a time', async (world) => {
    const users = [newUser('Wedge'), newUser('Biggs'), newUser('Jyn')];
    await world.publisher.transaction(async (tx) => {
      for (const user of users) await tx.User.create(user);
    });
    const [created] = await takeOutbox(world);
    if (!created) throw new Error('one message expected');
    // Each worker takes one copy (two broker messages, prefetch 1), and applies it while the other does.
    await deliver(world, created);
    await deliver(world, created);
    for (const user of users) await accepted(world, user.id, 1);
    for (let round = 1; round <= 3; round++) {
      for (const user of users) {
        await world.publisher.transaction(
          async (tx) => void (await tx.User.update(user.id, { name: `${user.name} ${round}` })),
        );
      }
    }
    await deliver(world, ...(await takeOutbox(world)));
    for (const user of users) {
      const requests = await accepted(world, user.id, 4);
      assert.equal(
        requests.map((r) => [r.status, r.idempotencyKey]),
        [1, 2, 3, 4].map((version) => [200, keyOf(user.id, version)]),
        `${user.name}: each version posted once, in order`,
      );
      assert.equal(requests.at(-1)?.body.payload, { name: `${user.name} 3`, email: user.email });
    }
    assert.equal(world.api.overlaps, [], 'no two posts of one object in flight at once');
  });

  test('an observed event delivered twice at once posts once: it writes no row that would keep them apart', async (world) => {
    const mace = newUser('Mace');
    await world.publisher.transaction(async (tx) => void (await tx.User.create(mace)));
    await deliver(world, ...(await takeOutbox(world)));
    await accepted(world, mace.id, 1);
    await world.publisher.transaction(async (tx) => tx.UserEvent.create({ user_id: mace.id, event: 'registered' }));
    const [observed] = await takeOutbox(world);
    const event = observed?.operations[0];
    if (!observed || !event) throw new Error('one message expected');
    const before = await value(world.metrics.messagesApplied);
    await deliver(world, observed);
    await deliver(world, observed);
    // Both copies applied: the second found what the first sent once the first committed.
    await eventually(async () => (await value(world.metrics.messagesApplied)) >= before + 2 || undefined);
    const requests = await accepted(world, event.id, 1);
    assert.equal(
      requests.map((r) => [r.status, r.idempotencyKey, r.body.payload]),
      [[200, `UserEvent:${event.endpoint}:${event.id}:1`, { user_id: mace.id, event: 'registered' }]],
    );
    assert.equal(world.api.overlaps, []);
  });

  test.run();
}
