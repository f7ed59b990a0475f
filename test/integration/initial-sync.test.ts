/**
 * Initial sync while live: a subscriber that arrives after a publisher has been writing for a
 * while is brought in sync by `initialSync` (what `promiscuous publish` runs) while writers
 * keep creating and updating rows, with no gap and no stale row; a stopped sync resumes where
 * it stopped, and shards split one.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Hooks, Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import { type Envelope, initialSync, Publisher, Subscriber, syncProgressTable } from '../../src/runtime/index.js';
import type { OutgoingMessage } from '../../src/transport/transport.js';
import { eventually } from '../helpers/services.js';
import { crowdtap, newUser, sniper, virtuals } from '../helpers/users-app.js';
import { closeWorld, type World as Fixture, openWorld } from '../helpers/world.js';

interface World extends Fixture {
  publisher: Publisher<Hooks, Virtuals>;
  subscriber: Subscriber<Callbacks>;
  errors: Error[];
}

const test = suite<World>('initial sync while live, postgres -> sqlite', {} as World);

test.before(async (world) => {
  Object.assign(world, await openWorld({ pub: 'postgres', sub: 'sqlite' }));
  world.errors = [];
  world.publisher = new Publisher({
    schema: crowdtap,
    knex: world.pub.knex,
    transport: world.transport,
    virtuals,
    errorNotifier: (e) => world.errors.push(e),
  });
});

test.after((world) => closeWorld(world, world.subscriber, world.publisher));

/** What the subscriber should hold for every user and organization of the publisher. */
async function expected(world: World) {
  const users = (await world.pub.knex('users').select('id', 'name', 'email', 'points', 'type').orderBy('id')) as Record<
    string,
    unknown
  >[];
  const organizations = await world.pub.knex('organizations').select('id', 'name').orderBy('id');
  return {
    users: users.map((u) => ({ id: u.id, name: u.name, email: u.email, points: u.points ?? null, type: u.type })),
    organizations: organizations.map((o) => ({ id: Number(o.id), name: o.name })),
  };
}

async function held(world: World) {
  const users = (await world.sub
    .knex('members')
    .select('crowdtap_id', 'name', 'contact_email', 'points', 'type')
    .orderBy('crowdtap_id')) as Record<string, unknown>[];
  const organizations = await world.sub.knex('organizations').select('id', 'name').orderBy('id');
  return {
    users: users.map((u) => ({
      id: u.crowdtap_id,
      name: u.name,
      email: u.contact_email,
      points: u.points ?? null,
      type: u.type,
    })),
    organizations: organizations.map((o) => ({ id: Number(o.id), name: o.name })),
  };
}

test('a new subscriber on a busy publisher ends with no gap and no stale row', async (world) => {
  // Written before the subscriber existed: published to nobody.
  const users = Array.from({ length: 300 }, (_, i) =>
    newUser(`Early${i}`, i % 3 === 0 ? { type: 'Member', points: i } : {}),
  );
  for (let i = 0; i < users.length; i += 50) {
    await world.publisher.transaction(async (tx) => {
      for (const user of users.slice(i, i + 50)) await tx.User.create(user);
    });
  }
  await world.publisher.transaction(async (tx) => {
    for (let id = 1; id <= 120; id++) await tx.Organization.create({ id, name: `Org ${id}` });
  });
  await world.publisher.relay?.flush();

  world.subscriber = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    dependencyTimeoutMs: 2_000,
    errorNotifier: (e) => world.errors.push(e),
  });
  await world.subscriber.start();

  // Live writers: updates of old and new rows, and new rows, all through the sync.
  let writing = true;
  let writes = 0;
  const writer = (async () => {
    for (let n = 0; writing; n++) {
      await world.publisher.transaction(async (tx) => {
        const old = users[(n * 7) % users.length];
        if (old) await tx.User.update(old.id, { name: `Live${n}` });
        if (n % 4 === 0) await tx.User.create(newUser(`New${n}`));
        if (n % 5 === 0) await tx.Organization.update(1 + (n % 120), { name: `Org renamed ${n}` });
      });
      writes += 1;
    }
  })();

  // A sync that stops after two pages resumes after them.
  const stop = new AbortController();
  let pages = 0;
  const first = await initialSync(world.publisher as Publisher<unknown, unknown>, world.pub.knex, {
    type: 'User',
    pageSize: 50,
    signal: stop.signal,
    onProgress: () => {
      pages += 1;
      if (pages === 3) stop.abort();
    },
  });
  assert.is(first.finished, false);
  assert.is(first.published, 100);
  const second = await initialSync(world.publisher as Publisher<unknown, unknown>, world.pub.knex, {
    type: 'User',
    pageSize: 50,
  });
  assert.ok(second.finished);
  assert.ok(second.published >= 200, `the rest of the users after the first 100 (${second.published})`);
  assert.is(second.total, 100 + second.published);

  // Two shards split the organizations.
  const shards = await Promise.all(
    [0, 1].map((index) =>
      initialSync(world.publisher as Publisher<unknown, unknown>, world.pub.knex, {
        type: 'Organization',
        pageSize: 25,
        shard: { index, count: 2 },
      }),
    ),
  );
  assert.equal(
    shards.map((s) => s.published),
    [60, 60],
  );
  const jobs = await world.pub.knex(syncProgressTable).select('job').orderBy('job');
  assert.equal(
    jobs.map((j) => j.job),
    ['Organization shard 0/2', 'Organization shard 1/2', 'User'],
  );

  await new Promise((r) => setTimeout(r, 500));
  writing = false;
  await writer;
  assert.ok(writes > 10, `live writes went on during the sync (${writes})`);
  await world.publisher.relay?.flush();
  const want = await expected(world);
  await eventually(
    async () => (JSON.stringify(await held(world)) === JSON.stringify(want) ? true : undefined),
    30_000,
    'the subscriber to hold exactly what the publisher has',
  );
  assert.equal(world.errors, []);
});

test('each message of a page depends on the organizations its own rows reference, read once for the page', async (world) => {
  const sent: OutgoingMessage[] = [];
  const transport = new Proxy(world.transport, {
    get: (target, prop) =>
      prop === 'publish'
        ? (messages: readonly OutgoingMessage[]) => Promise.resolve(void sent.push(...messages))
        : Reflect.get(target, prop, target),
  });
  const publisher = new Publisher({ schema: crowdtap, knex: world.pub.knex, transport, virtuals, relay: false });
  const stored = await world.pub.knex('users').select('*').orderBy('id').limit(250);
  // Rows 0-99 reference organizations 1-3, rows 100-199 11-13, rows 200-249 21-23.
  const rows = stored.map((row: Record<string, unknown>, i) => ({
    ...row,
    org_id: 1 + Math.floor(i / 100) * 10 + (i % 3),
  }));
  const versions = new Map(
    (await world.pub.knex('organizations').select('id', '_v')).map((o: { id: number; _v: number | string }) => [
      o.id,
      Number(o._v),
    ]),
  );
  const reads: string[] = [];
  const count = (query: { sql: string }) => void (/organizations/.test(query.sql) && reads.push(query.sql));
  world.pub.knex.on('query', count);
  try {
    await publisher.syncRows(publisher.model('User'), rows);
  } finally {
    world.pub.knex.off('query', count);
    await publisher.close();
  }
  assert.is(reads.length, 1, 'one read of the referenced organizations for the page');
  const envelopes = sent.map((m) => JSON.parse(m.body.toString()) as Envelope);
  assert.equal(
    envelopes.map((e) => e.operations.length),
    [100, 100, 50],
  );
  envelopes.forEach((envelope, m) => {
    const ids = [1, 2, 3].map((k) => m * 10 + k);
    assert.equal(
      envelope.dependencies.map((d) => [d.endpoint, d.id, d.version]).sort(),
      ids.map((id) => ['crowdtap/organization', String(id), versions.get(id)]).sort(),
    );
  });
});

test.run();
