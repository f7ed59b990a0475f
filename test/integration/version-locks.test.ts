/**
 * Version locks on MariaDB: transactions that lock new objects never deadlock over them (every
 * new object of an initial sync falls at the end of the versions table's index, in one gap), a
 * transaction that writes an object another is writing waits for it, and a deadlock that still
 * happens (over the app's own rows) is reported in one line and applied again at once.
 */
import type { Knex } from 'knex';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { factories } from '../../examples/users/generated/crowdtap/factories.js';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import { databaseOf } from '../../src/runtime/db/index.js';
import { type Envelope, Subscriber, versionsTable } from '../../src/runtime/index.js';
import { eventually, randomName, type TestDatabase } from '../helpers/services.js';
import { recordingLogger } from '../helpers/log.js';
import { sniper } from '../helpers/users-app.js';
import { closeWorld, connectTransport, deliver, usersDatabase } from '../helpers/world.js';

const object = (id: string) => ({ publisher: 'crowdtap', endpoint: 'crowdtap/user', id });
const version = (id: string, v: number) => ({
  publisher: 'crowdtap',
  endpoint: 'crowdtap/user',
  object_id: id,
  version: v,
  destroyed: false,
  updated_at: Date.now(),
});

const test = suite<{ sub: TestDatabase }>('version locks on mariadb', {} as { sub: TestDatabase });

test.before(async (world) => {
  world.sub = await usersDatabase('subscriber', 'mariadb');
  // Versions of other objects, as a subscriber has: enough that every lookup goes through the
  // primary key, as in a subscriber's database.
  await world.sub
    .knex(versionsTable)
    .insert(Array.from({ length: 100 }, (_, n) => ({ ...version(String(n), 1), endpoint: 'crowdtap/organization' })));
});

test.after((world) => world.sub.drop());

/** Resolves once a transaction on `sub`'s database waits for a lock, or `done` settled. */
async function waitingOrDone(sub: TestDatabase, done: Promise<unknown>): Promise<void> {
  let settled = false;
  void done.then(
    () => (settled = true),
    () => (settled = true),
  );
  const { database } = (sub.knex.client.config as { connection: { database: string } }).connection;
  for (const deadline = Date.now() + 20_000; !settled;) {
    if (Date.now() > deadline) throw new Error('no transaction waited for a lock');
    const [rows] = (await sub.knex.raw(
      `SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX t
       JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
       WHERE t.trx_state = 'LOCK WAIT' AND p.DB = ?`,
      [database],
    )) as [{ n: number }[]];
    if (Number(rows[0]?.n) > 0) return;
    // The server refreshes INNODB_TRX only when it was not read for 0.1 s.
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

test('two transactions that lock new objects of one gap both commit', async ({ sub }) => {
  const database = databaseOf(sub.knex);
  let read = 0;
  let bothRead!: () => void;
  const reads = new Promise<void>((resolve) => (bothRead = resolve));
  // Each reads (and locks) its new objects, then both write: the objects fall in one gap.
  const apply = (ids: string[]) =>
    database.transaction(async (trx, last) => {
      await database.readVersions(trx, [[ids.map(object), 'update']]);
      if (++read === 2) bothRead();
      await reads;
      await database.writeVersions(
        trx,
        ids.map((id) => version(id, 1)),
        last,
      );
    });
  const results = await Promise.allSettled([apply(['a', 'c']), apply(['b', 'd'])]);
  assert.equal(
    results.map((r) => (r.status === 'fulfilled' ? 'committed' : String((r.reason as Error).message).slice(-80))),
    ['committed', 'committed'],
  );
  const stored = (await sub.knex(versionsTable).whereIn('object_id', ['a', 'b', 'c', 'd']).orderBy('object_id')) as {
    object_id: string;
  }[];
  assert.equal(
    stored.map((v) => v.object_id),
    ['a', 'b', 'c', 'd'],
  );
});

test('a transaction that writes a new object another is writing waits for it, then reads its version', async ({
  sub,
}) => {
  const database = databaseOf(sub.knex);
  let firstRead!: () => void;
  const first = new Promise<void>((resolve) => (firstRead = resolve));
  let secondRead: unknown[] | undefined;
  const second = first.then(() =>
    database.transaction(async (trx, last) => {
      secondRead = await database.readVersions(trx, [[[object('e')], 'update']]);
      await database.writeVersions(trx, [version('e', 2)], last);
    }),
  );
  await database.transaction(async (trx, last) => {
    await database.readVersions(trx, [[[object('e')], 'update']]);
    firstRead();
    await waitingOrDone(sub, second);
    await database.writeVersions(trx, [version('e', 1)], last);
  });
  await second;
  assert.equal(
    (secondRead as { version: number }[]).map((v) => Number(v.version)),
    [1],
    'the second read the first one’s version',
  );
  assert.is(Number((await sub.knex(versionsTable).where('object_id', 'e').first())?.version), 2);
});

test('the objects a transaction locked and did not write leave no row', async ({ sub }) => {
  const database = databaseOf(sub.knex);
  await database.transaction(async (trx, last) => {
    const read = await database.readVersions(trx, [[['f', 'g', 'h'].map(object), 'update']]);
    assert.equal(read, [], 'objects without a version have none');
    await database.writeVersions(trx, [version('g', 1)], last);
  });
  const stored = (await sub
    .knex(versionsTable)
    .whereIn('object_id', ['f', 'g', 'h'])
    .select('object_id', 'version')) as {
    object_id: string;
    version: number;
  }[];
  assert.equal(
    stored.map((v) => [v.object_id, Number(v.version)]),
    [['g', 1]],
  );
});

test('objects written and shared, interleaved in key order, read as stored and leave no placeholder', async ({
  sub,
}) => {
  const database = databaseOf(sub.knex);
  await sub.knex(versionsTable).insert(['i2', 'i3', 'i6'].map((id) => version(id, 3)));
  // Interleaved: one run (and statement) of locks each, or past a few, all locked for update.
  for (const [written, shared] of [
    [['i1', 'i3'], ['i2']],
    [
      ['i1', 'i3', 'i5', 'i7', 'i9'],
      ['i2', 'i4', 'i6', 'i8'],
    ],
  ] as const) {
    const read = await database.transaction(async (trx, last) => {
      const rows = await database.readVersions(trx, [
        [written.map(object), 'update'],
        [shared.map(object), 'share'],
      ]);
      await database.writeVersions(trx, [], last);
      return rows.map((r) => [r.object_id, Number(r.version)]).sort();
    });
    assert.equal(read, [['i2', 3], ['i3', 3], ...(shared.length > 1 ? [['i6', 3]] : [])]);
  }
  const stored = (await sub.knex(versionsTable).where('object_id', 'like', 'i%').orderBy('object_id')) as {
    object_id: string;
  }[];
  assert.equal(
    stored.map((v) => v.object_id),
    ['i2', 'i3', 'i6'],
  );
});

test.run();

interface Applying {
  readonly sub: TestDatabase;
  readonly subscriber: Subscriber<Callbacks>;
  readonly transport: Awaited<ReturnType<typeof connectTransport>>;
  readonly warnings: string[];
  readonly errors: Error[];
  readonly deadlocks: string[];
}

const applying = suite<Applying>('a subscriber on mariadb', {} as Applying);

applying.before(async (world) => {
  const sub = await usersDatabase('subscriber', 'mariadb');
  const warnings: string[] = [];
  const errors: Error[] = [];
  const deadlocks: string[] = [];
  sub.knex.on('query-error', (error: { code?: string }, query: { sql: string }) => {
    if (error.code === 'ER_LOCK_DEADLOCK') deadlocks.push(query.sql.slice(0, 60));
  });
  // One message a delivery (no frames): they come as a backlog, applied several at a time.
  const transport = await connectTransport(randomName('prom'), { retryDelaysMs: [50, 100], frameSize: 1 });
  const subscriber = new Subscriber({
    schema: sniper,
    knex: sub.knex,
    transport,
    prefetch: 60,
    retryDelayMs: () => 50,
    logger: recordingLogger((record) => {
      if (record.level === 'warn' && record.msg !== undefined) warnings.push(record.msg);
    }),
    errorNotifier: (e) => errors.push(e),
  });
  await subscriber.start();
  Object.assign(world, { sub, subscriber, transport, warnings, errors, deadlocks });
});

applying.after((world) => closeWorld(world, world.subscriber));

const members = async (knex: Knex): Promise<number> => Number((await knex('members').count({ n: '*' }))[0]?.n);

applying('an initial sync applied by concurrent transactions deadlocks nowhere', async (world) => {
  const before = await members(world.sub.knex);
  // Sync messages of 25 new users each, ids ascending, all at once: a backlog that group
  // commit applies in several transactions at a time, every one inserting at the index's end.
  const messages: Envelope[] = Array.from({ length: 120 }, () => {
    const creates = Array.from({ length: 25 }, () => factories.User.create());
    const first = creates[0] as Envelope;
    return {
      ...first,
      id: crypto.randomUUID(),
      operations: creates.flatMap((m) => m.operations).map((op) => ({ ...op, operation: 'sync' as const })),
    };
  });
  await deliver(world, ...messages);
  await eventually(
    async () => ((await members(world.sub.knex)) - before === 3000 ? true : undefined),
    60_000,
    'every synced user',
  );
  assert.equal(world.deadlocks, []);
  assert.equal(world.errors, []);
});

applying(
  'a deadlock over the app’s rows is reported in one line and the message applied again at once',
  async (world) => {
    const { knex } = world.sub;
    const created = factories.User.create({ name: 'before' });
    const id = created.operations[0]?.id as string;
    await deliver(world, created);
    await eventually(async () => ((await knex('members').where('crowdtap_id', id).first()) ? true : undefined));
    await knex.schema.createTable('ballast', (t) => t.integer('n'));
    world.warnings.length = 0;
    world.deadlocks.length = 0;
    // Another transaction of the app, heavier than the subscriber's (the one the database rolls
    // back), holds the member's row, then asks for its version, which the subscriber holds
    // while it waits for the row.
    const other = await knex.transaction();
    await other('ballast').insert(Array.from({ length: 2000 }, (_, n) => ({ n })));
    await other('members').where('crowdtap_id', id).update({ name: 'by hand' });
    const update = factories.User.update(id, { name: 'after' });
    await deliver(world, update);
    await waitingOrDone(world.sub, new Promise(() => {}));
    await other(versionsTable).where({ publisher: 'crowdtap', endpoint: 'crowdtap/user', object_id: id }).forUpdate();
    await other.commit();
    await eventually(async () =>
      (await knex('members').where('crowdtap_id', id).first())?.name === 'after' ? true : undefined,
    );
    assert.is(world.deadlocks.length, 1, 'one deadlock');
    assert.equal(world.warnings, [
      `deadlock on members rolled back the transaction of messages ${update.id}: applying each again`,
    ]);
    assert.equal(world.errors, [], 'applied again at once, not retried through the broker');
  },
);

applying.run();
