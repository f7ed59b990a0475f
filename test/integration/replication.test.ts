/**
 * Replication through the real RabbitMQ between real databases, in heterogeneous pairs: the
 * behaviours of the original Promiscuous test suite, ported.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ephemerals, type Hooks, type Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import { AmqpTransport, outboxTable, Publisher, Relay, Subscriber, versionsTable } from '../../src/runtime/index.js';
import { type Dialect, eventually, randomName } from '../helpers/services.js';
import type { OutgoingMessage, Transport } from '../../src/transport/transport.js';
import { crowdtap, newUser, sniper, virtuals } from '../helpers/users-app.js';
import { closeWorld, connectTransport, type World as Fixture, openWorld, usersDatabase } from '../helpers/world.js';

interface World extends Fixture {
  publisher: Publisher<Hooks, Virtuals>;
  subscriber: Subscriber<Callbacks>;
  events: string[];
  errors: Error[];
}

const pairs: [Dialect, Dialect][] = [
  ['sqlite', 'sqlite'],
  ['postgres', 'sqlite'],
  ['sqlite', 'postgres'],
  ['postgres', 'mariadb'],
  ['mariadb', 'postgres'],
];

for (const [from, to] of pairs) {
  const test = suite<World>(`${from} -> ${to}`, {} as World);

  test.before(async (world) => {
    Object.assign(world, await openWorld({ pub: from, sub: to, transport: { retryDelaysMs: [50, 100] } }));
    world.events = [];
    world.errors = [];
    world.subscriber = new Subscriber({
      schema: sniper,
      knex: world.sub.knex,
      transport: world.transport,
      retryDelayMs: () => 50,
      errorNotifier: (e) => world.errors.push(e),
      callbacks: {
        User: { afterCreate: async (e) => void world.events.push(`Hi ${e.attributes?.name}!`) },
        UserEvent: { afterCreate: async (e) => void world.events.push(`event ${e.attributes?.event}`) },
      },
    });
    await world.subscriber.start();
    world.publisher = new Publisher({
      schema: crowdtap,
      knex: world.pub.knex,
      transport: world.transport,
      virtuals,
      relay: { sweepIntervalMs: 100 },
      errorNotifier: (e) => world.errors.push(e),
    });
  });

  test.after((world) => closeWorld(world, world.publisher, world.subscriber));

  const member = (world: World, id: string) =>
    eventually(
      async () =>
        (await world.sub.knex('members').where('crowdtap_id', id).first()) as Record<string, unknown> | undefined,
    );

  test('a create replicates, through the foreign key mapping, and runs the callback', async (world) => {
    const user = newUser('Yoda');
    await world.publisher.transaction(async (tx) => {
      await tx.Organization.create({ id: 1, name: 'Jedi' });
      await tx.User.create({ ...user, org_id: 1 });
    });
    const row = await member(world, user.id);
    assert.is(row.name, 'Yoda');
    assert.is(row.contact_email, 'yoda@example.com');
    assert.is(row.type, 'User');
    await eventually(async () => (world.events.includes('Hi Yoda!') ? true : undefined));
    const org = await eventually(async () => world.sub.knex('organizations').where('id', 1).first());
    assert.is(org.name, 'Jedi');
  });

  test('an update replicates and a destroy removes the row, leaving a tombstone', async (world) => {
    const user = newUser('Luke');
    await world.publisher.transaction(async (tx) => void (await tx.User.create(user)));
    await member(world, user.id);
    await world.publisher.transaction(async (tx) => void (await tx.User.update(user.id, { name: 'Master Luke' })));
    await eventually(async () => ((await member(world, user.id)).name === 'Master Luke' ? true : undefined));
    await world.publisher.transaction(async (tx) => void (await tx.User.destroy(user.id)));
    await eventually(async () =>
      (await world.sub.knex('members').where('crowdtap_id', user.id).first()) ? undefined : true,
    );
    const tombstone = await world.sub
      .knex(versionsTable)
      .where({ endpoint: 'crowdtap/user', object_id: user.id })
      .first();
    assert.is(Number(tombstone.version), 3);
    assert.ok(Boolean(tombstone.destroyed));
  });

  test('a rolled-back transaction publishes nothing', async (world) => {
    const ghost = newUser('Ghost');
    await world.publisher
      .transaction(async (tx) => {
        await tx.User.create(ghost);
        throw new Error('rollback');
      })
      .catch(() => {});
    const marker = newUser('Marker');
    await world.publisher.transaction(async (tx) => void (await tx.User.create(marker)));
    await member(world, marker.id);
    assert.is(await world.sub.knex('members').where('crowdtap_id', ghost.id).first(), undefined);
    assert.is(await world.pub.knex('users').where('id', ghost.id).first(), undefined);
  });

  test('an update that changes no published attribute publishes nothing and keeps the version', async (world) => {
    const user = newUser('Han');
    await world.publisher.transaction(async (tx) => void (await tx.User.create(user)));
    await member(world, user.id);
    await world.publisher.relay?.flush();
    await world.publisher.transaction(async (tx) => void (await tx.User.update(user.id, { login_count: 7 } as never)));
    const row = await world.pub.knex('users').where('id', user.id).first();
    assert.is(Number(row.login_count), 7);
    assert.is(Number(row._v), 1, 'no _v bump');
    assert.is(Number((await world.pub.knex(outboxTable).count({ n: '*' }))[0]?.n), 0, 'nothing in the outbox');
    // Published attributes written with the values they have, JSON included: no change either.
    const same = { name: user.name, tags: user.tags, addresses: user.addresses, login_count: 8 };
    await world.publisher.transaction(async (tx) => void (await tx.User.update(user.id, same as never)));
    const unchanged = await world.pub.knex('users').where('id', user.id).first();
    assert.is(Number(unchanged.login_count), 8, 'the unpublished column is written');
    assert.is(Number(unchanged._v), 1, 'rewriting the same values is no change');
    assert.is(Number((await world.pub.knex(outboxTable).count({ n: '*' }))[0]?.n), 0, 'still nothing in the outbox');
    await world.publisher.transaction(async (tx) => void (await tx.User.update(user.id, { first_name: 'Solo' })));
    const bumped = await world.pub.knex('users').where('id', user.id).first();
    assert.is(Number(bumped._v), 2, 'a column a virtual attribute uses re-publishes it');
  });

  test('a raw write to a published table that bypasses the hooks is reported', async (world) => {
    const user = newUser('Raw');
    await world.publisher.transaction(async (tx) => void (await tx.User.create(user)));
    assert.not.ok(
      world.errors.some((e) => e.message.includes('bypassed the hooks')),
      'hook writes are not reported',
    );
    await world.pub.knex('users').where('id', user.id).update({ name: 'behind your back' });
    const reported = world.errors.find((e) => e.message.includes('bypassed the hooks'));
    assert.is(reported?.name, 'PublisherError');
    assert.match(reported?.message ?? '', 'published table users');
  });

  test('an unsubscribed subtype lands in its nearest subscribed ancestor; a subscribed one in its own', async (world) => {
    const admin = newUser('Vader', { role: 'owner' as const });
    const apprentice = newUser('Rey', { points: 12 });
    await world.publisher.transaction(async (tx) => {
      await tx.Admin.create(admin);
      await tx.Member.create(apprentice);
    });
    assert.is((await member(world, admin.id)).type, 'User');
    const row = await member(world, apprentice.id);
    assert.is(row.type, 'Member');
    assert.is(Number(row.points), 12);
  });

  test('an ephemeral reaches an observer', async (world) => {
    await world.publisher.transaction(async (tx) =>
      tx.UserEvent.create({ user_id: crypto.randomUUID(), event: 'registered' }),
    );
    await eventually(async () => (world.events.includes('event registered') ? true : undefined));
  });

  test('an ephemeral emitted outside a transaction resolves once confirmed, and rejects when the broker is down', async (world) => {
    await world.publisher.emit(ephemerals.UserEvent, { user_id: crypto.randomUUID(), event: 'deleted' });
    await eventually(async () => (world.events.includes('event deleted') ? true : undefined));
    const gone = await connectTransport(randomName('prom'), { connectTimeoutMs: 300 });
    await gone.close();
    const orphan = new Publisher({ schema: crowdtap, knex: world.pub.knex, transport: gone, virtuals, relay: false });
    let failure: Error | undefined;
    await orphan.emit(ephemerals.UserEvent, { user_id: crypto.randomUUID(), event: 'deleted' }).catch((e: Error) => {
      failure = e;
    });
    assert.is(failure?.name, 'PublisherError');
    const unreachable = await AmqpTransport.connect({ url: 'amqp://guest:guest@127.0.0.1:1', initialRetries: 0 }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.match(unreachable?.message ?? '', 'cannot reach RabbitMQ at amqp://guest:***@127.0.0.1:1');
  });

  test('rows a dead publisher left in the outbox are published by another relay; two relays share the work', async (world) => {
    // A database of its own, so that no other relay of this suite sweeps it.
    const db = await usersDatabase('publisher', from);
    const dead = new Publisher({ schema: crowdtap, knex: db.knex, transport: world.transport, virtuals, relay: false });
    const users = Array.from({ length: 20 }, (_, i) => newUser(`Left${i}`));
    for (const user of users) await dead.transaction(async (tx) => void (await tx.User.create(user)));
    assert.is(Number((await db.knex(outboxTable).count({ n: '*' }))[0]?.n), 20, 'nothing was published');
    const relays = [
      new Relay(db.knex, world.transport, { batchSize: 3 }),
      new Relay(db.knex, world.transport, { batchSize: 3 }),
    ];
    await Promise.all(relays.map((r) => r.flush()));
    for (const r of relays) await r.stop();
    assert.is(Number((await db.knex(outboxTable).count({ n: '*' }))[0]?.n), 0);
    for (const user of users) await member(world, user.id);
    await db.drop();
  });

  test('under load the relay spaces its rounds and rows share them; after a quiet moment a row goes at once', async (world) => {
    const db = await usersDatabase('publisher', from);
    const rounds: { at: number; rows: number }[] = [];
    const recording: Transport = Object.assign(Object.create(world.transport) as Transport, {
      publish: async (messages: readonly OutgoingMessage[]) => {
        rounds.push({ at: performance.now(), rows: messages.length });
        await world.transport.publish(messages);
      },
    });
    const lingerMs = 500;
    const publisher = new Publisher({
      schema: crowdtap,
      knex: db.knex,
      transport: recording,
      virtuals,
      relay: { lingerMs },
      answerResync: false,
    });
    try {
      const create = () => publisher.transaction(async (tx) => void (await tx.User.create(newUser('Linger'))));
      const committed = performance.now();
      await create();
      for (let i = 0; i < 100 && rounds.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(
        rounds.map((r) => r.rows),
        [1],
      );
      assert.ok((rounds[0]?.at ?? Infinity) - committed < lingerMs, 'a quiet moment: published at once');
      // Load: 30 transactions, 5 at a time, 20 ms apart: without the spacing, rounds of a batch each.
      for (let i = 0; i < 6; i++) {
        await Promise.all(Array.from({ length: 5 }, create));
        await new Promise((r) => setTimeout(r, 20));
      }
      await publisher.relay?.flush();
      const loaded = rounds.slice(1);
      assert.is(
        loaded.reduce((n, r) => n + r.rows, 0),
        30,
        'every row published',
      );
      const sizes = loaded.map((r) => r.rows).join(', ');
      // Rounds of one row go at once, however many; once one carried more, the next waits
      // lingerMs, by when the rest has committed: one round more (two on a slow machine).
      const shared = loaded.findIndex((r) => r.rows > 1);
      assert.ok(shared >= 0 && loaded.length - shared <= 3, `rows shared rounds: ${sizes}`);
      for (let i = 1; i < loaded.length; i++) {
        const [before, round] = [loaded[i - 1], loaded[i]] as [
          { at: number; rows: number },
          { at: number; rows: number },
        ];
        // Times are taken as rounds reach the transport, a little after they start.
        if (before.rows > 1)
          assert.ok(
            round.at - before.at >= lingerMs - 5,
            `round ${i} came ${round.at - before.at} ms after one of ${before.rows} rows`,
          );
      }
    } finally {
      await publisher.close();
      await db.drop();
    }
  });

  test.run();
}
