/**
 * How a subscriber applies what arrives, whatever order and however often it arrives: through
 * the real RabbitMQ, into a real database, with messages built by the generated factories.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { factories } from '../../examples/users/generated/crowdtap/factories.js';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import {
  defaultMetrics,
  type Envelope,
  MemoryTransport,
  Subscriber,
  type Transport,
  toOutgoing,
  versionsTable,
} from '../../src/runtime/index.js';
import { type Dialect, eventually, isVersionLookup, randomName } from '../helpers/services.js';
import { recordingLogger } from '../helpers/log.js';
import { sniper } from '../helpers/users-app.js';
import { closeWorld, connectTransport, deliver, type World as Fixture, usersDatabase } from '../helpers/world.js';

interface World extends Pick<Fixture, 'sub' | 'transport'> {
  subscriber: Subscriber<Callbacks>;
  app: string;
  calls: string[];
  failures: number;
  errors: Error[];
  log: ReturnType<typeof recordingLogger>;
}

function envelopeWith(...messages: Envelope[]): Envelope {
  const [first] = messages;
  if (!first) throw new Error('no message');
  return { ...first, id: crypto.randomUUID(), operations: messages.flatMap((m) => m.operations) };
}

/** The message as a publisher older than `email` sends it. */
function withoutEmail(message: Envelope): Envelope {
  return {
    ...message,
    operations: message.operations.map((op) => {
      const { email: _email, ...attributes } = op.attributes ?? {};
      return { ...op, attributes };
    }),
  };
}

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  const test = suite<World>(`subscriber on ${dialect}`, {} as World);

  test.before(async (world) => {
    Object.assign(world, {
      sub: await usersDatabase('subscriber', dialect),
      transport: await connectTransport(randomName('prom'), { retryDelaysMs: [100, 200, 400] }),
    });
    world.calls = [];
    world.errors = [];
    world.failures = 0;
    world.log = recordingLogger();
    world.subscriber = new Subscriber({
      logger: world.log,
      schema: sniper,
      knex: world.sub.knex,
      transport: world.transport,
      prefetch: 5,
      maxAttempts: 3,
      retryDelayMs: () => 100,
      // Recovery mode: no publisher here answers a re-sync (test/integration/causal.test.ts has one).
      mode: 'recovery',
      dependencyTimeoutMs: 600,
      errorNotifier: (e) => world.errors.push(e),
      callbacks: {
        User: {
          afterCreate: (e) => void world.calls.push(`create ${e.idempotencyKey}`),
          afterUpdate: (e) => void world.calls.push(`update ${e.idempotencyKey}`),
        },
        UserEvent: {
          afterCreate: async () => {
            // Fails twice, then works: a fault that clears.
            if (world.failures < 2) {
              world.failures += 1;
              throw new Error('mailer is down');
            }
            world.calls.push('mailed');
          },
        },
      },
    });
    await world.subscriber.start();
  });

  test.after((world) => closeWorld(world, world.subscriber));

  const row = (world: World, id: string) => world.sub.knex('members').where('crowdtap_id', id).first();

  test('out-of-order updates keep the newest', async (world) => {
    const created = factories.User.create({ name: 'v1' });
    const id = created.operations[0]?.id as string;
    const v2 = factories.User.update(id, { name: 'v2' });
    const v3 = factories.User.update(id, { name: 'v3' });
    await deliver(world, v3, created, v2);
    await eventually(async () => {
      const versions = await world.sub.knex('promiscuous_versions').where('object_id', id).first();
      return Number(versions?.version) === 3 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.is((await row(world, id))?.name, 'v3');
  });

  test('a message that a later one of its batch lets through is applied after it, in the same transaction', async (world) => {
    const created = factories.User.create({ name: 'first' });
    const id = created.operations[0]?.id as string;
    const second = factories.User.update(id, { name: 'second' });
    const third = factories.User.update(id, { name: 'third' });
    await deliver(world, created);
    await eventually(async () => ((await row(world, id))?.name === 'first' ? true : undefined));
    const lookups: string[] = [];
    const count = (query: { sql: string }): void => {
      if (isVersionLookup(query.sql, versionsTable)) lookups.push(query.sql);
    };
    world.sub.knex.on('query', count);
    try {
      // One frame, the newer update first: the two join one batch in that order.
      await deliver(world, third, second);
      await eventually(async () => ((await row(world, id))?.name === 'third' ? true : undefined));
    } finally {
      world.sub.knex.off('query', count);
    }
    assert.is(lookups.length, 1, 'one transaction, one version lookup');
    assert.equal(
      world.calls.filter((c) => c.includes(id)),
      [`create crowdtap/user:${id}:1`, `update crowdtap/user:${id}:2`, `update crowdtap/user:${id}:3`],
    );
  });

  test('a message that found its previous version missing joins the next transaction, after it, rather than one of its own', async (world) => {
    const created = factories.User.create({ name: 'first' });
    const id = created.operations[0]?.id as string;
    const second = factories.User.update(id, { name: 'second' });
    const misses = async (): Promise<number> =>
      (await defaultMetrics().dependencyMisses.get()).values.find((v) => v.labels.app === sniper.app)?.value ?? 0;
    const missesBefore = await misses();
    const lookups: string[] = [];
    let sent: Promise<void> | undefined;
    const count = (query: { sql: string }): void => {
      if (!isVersionLookup(query.sql, versionsTable)) return;
      lookups.push(query.sql);
      // The create comes as the update's transaction finds it missing, as the next frame of a backlog would.
      sent ??= deliver(world, created);
    };
    world.sub.knex.on('query', count);
    try {
      await deliver(world, second);
      await eventually(async () => ((await row(world, id))?.name === 'second' ? true : undefined));
      await sent;
    } finally {
      world.sub.knex.off('query', count);
    }
    assert.is(lookups.length, 2, 'the update alone, then the create with the update after it');
    assert.is((await misses()) - missesBefore, 1, 'one miss: the update alone');
    assert.equal(
      world.calls.filter((c) => c.includes(id)),
      [`create crowdtap/user:${id}:1`, `update crowdtap/user:${id}:2`],
    );
  });

  test('a dependency met by a version the subscriber saw committed is not read again; one it did not see is', async (world) => {
    const parent = factories.User.create({ name: 'parent' });
    const parentId = parent.operations[0]?.id as string;
    await deliver(world, parent);
    await eventually(async () => ((await row(world, parentId)) ? true : undefined));
    const on = (version: number): Envelope => ({
      ...factories.User.create({ name: `after v${version}` }),
      dependencies: [{ endpoint: 'crowdtap/user', id: parentId, version, types: ['User'] }],
    });
    const lookups: string[] = [];
    const record = (query: { sql: string; bindings?: unknown[] }): void => {
      if (isVersionLookup(query.sql, versionsTable)) lookups.push(JSON.stringify(query.bindings ?? []));
    };
    world.sub.knex.on('query', record);
    try {
      const met = on(1);
      await deliver(world, met);
      await eventually(async () => ((await row(world, met.operations[0]?.id as string)) ? true : undefined));
      assert.is(lookups.filter((bindings) => bindings.includes(parentId)).length, 0, 'version 1 was seen committed');
      const unmet = on(2);
      await deliver(world, unmet);
      await eventually(async () => (lookups.some((bindings) => bindings.includes(parentId)) ? true : undefined));
      await deliver(world, factories.User.update(parentId, { name: 'parent v2' }));
      await eventually(async () => ((await row(world, unmet.operations[0]?.id as string)) ? true : undefined));
    } finally {
      world.sub.knex.off('query', record);
    }
  });

  test('an update that arrives before its create waits for it, and both apply in order', async (world) => {
    const created = factories.User.create({ name: 'first' });
    const id = created.operations[0]?.id as string;
    const updated = factories.User.update(id, { name: 'second' });
    await deliver(world, updated);
    await new Promise((r) => setTimeout(r, 100));
    assert.is(await row(world, id), undefined, 'the update waits');
    await deliver(world, created);
    await eventually(async () => ((await row(world, id))?.name === 'second' ? true : undefined));
    assert.equal(
      world.calls.filter((c) => c.includes(id)),
      [`create crowdtap/user:${id}:1`, `update crowdtap/user:${id}:2`],
    );
  });

  test('an update whose create never comes is applied after the dependency timeout, creating the row', async (world) => {
    const created = factories.User.create({ name: 'lost' });
    const id = created.operations[0]?.id as string;
    await deliver(world, factories.User.update(id, { name: 'found' }));
    await eventually(async () => ((await row(world, id))?.name === 'found' ? true : undefined));
    assert.ok(world.errors.some((e) => e.name === 'RecoveryError' && e.message.includes(`${id} at version 1`)));
    await deliver(world, created);
    await new Promise((r) => setTimeout(r, 300));
    assert.is((await row(world, id))?.name, 'found', 'the late create changes nothing');
  });

  test('a sync inserts new rows together and updates a row that was there without a version', async (world) => {
    const [first, second] = [factories.User.create({ name: 'Rey' }), factories.User.create({ name: 'Finn' })];
    const ids = [first, second].map((m) => m.operations[0]?.id as string);
    // Put in by hand before the initial sync: no version row.
    await world.sub.knex('members').insert({ crowdtap_id: ids[0], type: 'User', name: 'stale' });
    const synced = envelopeWith(first, second);
    await deliver(world, {
      ...synced,
      operations: synced.operations.map((op) => ({ ...op, operation: 'sync' as const })),
    });
    await eventually(async () => ((await row(world, ids[1] as string))?.name === 'Finn' ? true : undefined));
    assert.is((await row(world, ids[0] as string))?.name, 'Rey');
    assert.is(Number((await world.sub.knex('members').whereIn('crowdtap_id', ids).count({ n: '*' }))[0]?.n), 2);
  });

  test('a transaction of 600 creates applies as one message', async (world) => {
    const creates = Array.from({ length: 600 }, (_, i) => factories.User.create({ name: `Clone ${i}` }));
    const ids = creates.map((m) => m.operations[0]?.id as string);
    await deliver(world, envelopeWith(...creates));
    await eventually(async () => {
      const [{ n } = { n: 0 }] = await world.sub.knex('members').whereIn('crowdtap_id', ids).count({ n: '*' });
      return Number(n) === 600 ? true : undefined;
    });
    assert.is(Number((await world.sub.knex(versionsTable).whereIn('object_id', ids).count({ n: '*' }))[0]?.n), 600);
  });

  test('a destroy before its create leaves no row behind', async (world) => {
    const created = factories.User.create({ name: 'doomed' });
    const id = created.operations[0]?.id as string;
    const destroyed = factories.User.destroy(id);
    await deliver(world, destroyed);
    await eventually(
      async () => (await world.sub.knex('promiscuous_versions').where('object_id', id).first()) ?? undefined,
    );
    await deliver(world, created);
    await new Promise((r) => setTimeout(r, 300));
    assert.is(await row(world, id), undefined);
  });

  test('a redelivered message changes nothing twice and calls back once', async (world) => {
    const created = factories.User.create({ name: 'once' });
    const id = created.operations[0]?.id as string;
    await deliver(world, created, created, created);
    await eventually(async () => (await row(world, id)) ?? undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.is(world.calls.filter((c) => c === `create crowdtap/user:${id}:1`).length, 1);
  });

  test('a transaction arrives as one unit', async (world) => {
    const a = factories.User.create({ name: 'a' });
    const b = factories.Member.create({ name: 'b', points: 3 });
    // The Member's attributes are broken: the whole message must be parked, `a` included.
    const broken = factories.Member.create({ name: 'c' });
    const bad = {
      ...broken,
      operations: broken.operations.map((op) => ({ ...op, attributes: { ...op.attributes, points: 'many' } })),
    };
    await deliver(world, envelopeWith(a, bad));
    await deliver(world, envelopeWith(b));
    const bId = b.operations[0]?.id as string;
    await eventually(async () => (await row(world, bId)) ?? undefined);
    const parked = await eventually(async () => {
      const list = await world.transport.parked(sniper.app);
      return list.length > 0 ? list : undefined;
    });
    assert.is(
      await row(world, a.operations[0]?.id as string),
      undefined,
      'nothing of the parked transaction was applied',
    );
    assert.match(parked[0]?.reason ?? '', 'points');
    assert.is(await world.transport.dropParked(sniper.app), 1);
  });

  test("an older publisher's message without a nullable attribute leaves its column: at its default on insert, as it was on update", async (world) => {
    const created = factories.User.create({ name: 'Old', email: 'old@example.com' });
    const kept = factories.User.create({ name: 'Kept', email: 'kept@example.com' });
    const [oldId, keptId] = [created, kept].map((m) => m.operations[0]?.id as string) as [string, string];
    // One transaction: rows with and without the column go in one batch of inserts.
    await deliver(world, envelopeWith(withoutEmail(created), kept));
    await eventually(async () => ((await row(world, keptId)) ? true : undefined));
    assert.is((await row(world, oldId))?.contact_email, null);
    assert.is((await row(world, keptId))?.contact_email, 'kept@example.com');
    await deliver(world, withoutEmail(factories.User.update(keptId, { name: 'Kept v2' })));
    await eventually(async () => ((await row(world, keptId))?.name === 'Kept v2' ? true : undefined));
    assert.is((await row(world, keptId))?.contact_email, 'kept@example.com', 'absent is not null');
    await deliver(world, factories.User.update(keptId, { email: null }));
    await eventually(async () => ((await row(world, keptId))?.contact_email === null ? true : undefined));
    assert.equal(await world.transport.parked(sniper.app), []);
  });

  test('a message that does not fit after a breaking change is parked naming the attribute, what was expected and what came', async (world) => {
    const member = factories.Member.create({ id: crypto.randomUUID(), name: 'Breaking' });
    const broken: Envelope = {
      ...member,
      operations: member.operations.map((op) => {
        const { name: _name, ...rest } = op.attributes ?? {};
        return { ...op, attributes: { ...rest, points: '12' } };
      }),
    };
    const after = factories.Member.create({ name: 'after the break' });
    await deliver(world, broken, after);
    await eventually(async () => (await row(world, after.operations[0]?.id as string)) ?? undefined);
    const [parked] = await eventually(async () => {
      const list = await world.transport.parked(sniper.app);
      return list.length > 0 ? list : undefined;
    });
    const id = member.operations[0]?.id as string;
    assert.is(parked?.messageId, broken.id);
    assert.is(
      parked?.reason,
      `Member ${id} on crowdtap/user does not fit sniper's subscription Member: ` +
        '`name` is missing, which sniper requires (a string); `points` arrived as a string where sniper expects an integer. ' +
        'crowdtap and sniper disagree on the shape of crowdtap/user: generate sniper from the routes crowdtap now publishes ' +
        "and deploy it (or deploy crowdtap's new version first), then `promiscuous parked retry`; a change old subscribers " +
        'cannot apply belongs on a second endpoint (guide: "Several endpoints for one table")',
    );
    assert.is(await row(world, id), undefined);
    assert.is(await world.transport.dropParked(sniper.app), 1);
  });

  test('malformed JSON and a failing envelope are parked with their reason, and the worker goes on', async (world) => {
    await world.transport.publish([
      { routingKeys: ['crowdtap.user.create'], messageId: 'junk', body: Buffer.from('{not json') },
    ]);
    await world.transport.publish([
      {
        routingKeys: ['crowdtap.user.create'],
        messageId: 'bad-envelope',
        body: Buffer.from(JSON.stringify({ format: 1 })),
      },
    ]);
    const after = factories.User.create({ name: 'still working' });
    await deliver(world, after);
    await eventually(async () => (await row(world, after.operations[0]?.id as string)) ?? undefined);
    const parked = await eventually(async () => {
      const list = await world.transport.parked(sniper.app);
      return list.length >= 2 ? list : undefined;
    });
    const reasons = Object.fromEntries(parked.map((p) => [p.messageId, p.reason]));
    assert.match(reasons.junk ?? '', 'malformed JSON');
    assert.match(reasons['bad-envelope'] ?? '', 'envelope fails its schema');
    assert.is(await world.transport.retryParked(sniper.app, ['junk']), 1, 'parked messages can be retried');
    await eventually(async () =>
      (await world.transport.parked(sniper.app)).some((p) => p.messageId === 'junk') ? true : undefined,
    );
    assert.is(await world.transport.dropParked(sniper.app), 2);
  });

  test('a throwing callback is retried after a delay and succeeds once the fault clears', async (world) => {
    const started = Date.now();
    await deliver(world, factories.UserEvent.create({ event: 'registered' }));
    await eventually(async () => (world.calls.includes('mailed') ? true : undefined));
    assert.is(world.failures, 2);
    assert.ok(Date.now() - started >= 200, 'two retries waited out their delays');
    assert.ok(world.errors.some((e) => e.name === 'SubscriberError' && e.message.includes('mailer is down')));
  });

  test('an operation from an app that does not own its endpoint is parked; one of a type nothing here is for is skipped', async (world) => {
    const user = factories.User.create();
    // A new root type on a subscribed endpoint, which the routes sniper was generated from did not have.
    const unknown = { ...user, operations: user.operations.map((op) => ({ ...op, types: ['Droid'] })) };
    const impostor = { ...factories.User.create(), app: 'empire' };
    await deliver(world, unknown, impostor);
    const parked = await eventually(async () => {
      const list = await world.transport.parked(sniper.app);
      return list.length >= 1 ? list : undefined;
    });
    const skipped = await eventually(async () => world.log.records.find((r) => r.msg?.startsWith('skipping Droid')));
    assert.is(skipped.level, 'warn');
    assert.match(skipped.msg ?? '', 'no subscription or observer of sniper is for it or an ancestor');
    assert.equal(skipped.fields.id, user.operations[0]?.id);
    const second = factories.User.create();
    const secondId = second.operations[0]?.id as string;
    await deliver(world, { ...second, operations: second.operations.map((op) => ({ ...op, types: ['Droid'] })) });
    const again = await eventually(async () => world.log.records.find((r) => r.fields.id === secondId));
    assert.is(again.level, 'debug', 'warned once per endpoint and type chain');
    assert.equal(
      (await world.transport.parked(sniper.app)).map((p) => p.messageId),
      [impostor.id],
      'the droid is not parked',
    );
    assert.match(parked[0]?.reason ?? '', 'app empire sent an operation on crowdtap/user, an endpoint it does not own');
    assert.is(await row(world, user.operations[0]?.id as string), undefined, 'nor stored');
    assert.is(await world.transport.dropParked(sniper.app), 1);
  });

  test('types nobody subscribes to are ignored', async (world) => {
    const stranger = factories.Organization.create();
    const other = {
      ...stranger,
      operations: stranger.operations.map((op) => ({ ...op, types: ['Planet'], endpoint: 'crowdtap/planet' })),
    };
    await world.transport.publish([{ ...toOutgoing(other), routingKeys: ['crowdtap.user.create'] }]);
    const after = factories.User.create({ name: 'after the stranger' });
    await deliver(world, after);
    await eventually(async () => (await row(world, after.operations[0]?.id as string)) ?? undefined);
    assert.equal(await world.transport.parked(sniper.app), []);
  });

  test.run();
}

const memory = suite('memory transport');

memory('factories deliver through the applicators without a broker', async () => {
  const db = await usersDatabase('subscriber', 'sqlite');
  const transport: Transport & { drained(): Promise<void> } = new MemoryTransport();
  const greetings: string[] = [];
  const subscriber = new Subscriber({
    schema: sniper,
    knex: db.knex,
    transport,
    callbacks: { User: { afterCreate: (e) => void greetings.push(`Hi ${e.attributes?.name}!`) } },
  });
  await subscriber.start();
  const message = factories.User.create({ name: 'Yoda' });
  await transport.publish([toOutgoing(message)]);
  await transport.drained();
  assert.equal(greetings, ['Hi Yoda!']);
  const stored = await db
    .knex('members')
    .where('crowdtap_id', message.operations[0]?.id as string)
    .first();
  assert.is(stored?.name, 'Yoda');
  await subscriber.stop();
  await db.drop();
});

memory.run();
