/**
 * Callbacks write derived rows through the apply transaction they are given (`trx`): those rows
 * commit with the delivery or roll back with it, through duplicates, retries, a group commit
 * that fails and is split, and a deadlock that MariaDB breaks, on every database.
 */
import type { Knex } from 'knex';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { factories } from '../../examples/users/generated/crowdtap/factories.js';
import type { Callbacks, UserAttributes } from '../../examples/users/generated/sniper/subscriber.js';
import { type Envelope, Metrics, type ObservedEvent, Subscriber, versionsTable } from '../../src/runtime/index.js';
import { recordingLogger } from '../helpers/log.js';
import { type Dialect, eventually, randomName } from '../helpers/services.js';
import { sniper } from '../helpers/users-app.js';
import { closeWorld, connectTransport, deliver, type World as Fixture, usersDatabase } from '../helpers/world.js';

/** The callbacks' derived rows: no unique key, so a row written twice shows twice. */
const derived = 'member_log';

interface Call {
  readonly key: string;
  readonly trx: Knex.Transaction;
}

interface World extends Pick<Fixture, 'sub' | 'transport'> {
  subscriber: Subscriber<Callbacks>;
  metrics: Metrics;
  /** Every callback call, those whose transaction then rolled back too. */
  calls: Call[];
  errors: Error[];
  warnings: string[];
}

async function createDerived(knex: Knex): Promise<void> {
  await knex.schema.createTable(derived, (t) => {
    t.increments('id');
    // Read through `trx`: the member's row, written just before the callback, is there.
    t.integer('member_id').notNullable();
    t.string('idempotency_key').notNullable();
  });
}

/**
 * Writes a derived row through the apply transaction; then a user named `failing` fails every
 * time, and one named `failing twice` on its first two calls.
 */
async function derive(world: World, { id, idempotencyKey, attributes, trx }: ObservedEvent<UserAttributes>) {
  const member = (await trx('members').where('crowdtap_id', id).first('id')) as { id: number } | undefined;
  await trx(derived).insert({ member_id: member?.id, idempotency_key: idempotencyKey });
  world.calls.push({ key: idempotencyKey, trx });
  const attempts = world.calls.filter((c) => c.key === idempotencyKey).length;
  if (attributes?.name === 'failing' || (attributes?.name === 'failing twice' && attempts <= 2)) {
    throw new Error(`the callback failed after writing (attempt ${attempts})`);
  }
}

async function openSubscriber(world: World, dialect: Dialect, callbacks: Callbacks): Promise<void> {
  Object.assign(world, {
    sub: await usersDatabase('subscriber', dialect),
    transport: await connectTransport(randomName('prom'), { retryDelaysMs: [100, 200, 400] }),
  });
  await createDerived(world.sub.knex);
  world.metrics = new Metrics();
  world.calls = [];
  world.errors = [];
  world.warnings = [];
  world.subscriber = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    metrics: world.metrics,
    prefetch: 10,
    maxAttempts: 3,
    retryDelayMs: () => 100,
    errorNotifier: (e) => world.errors.push(e),
    logger: recordingLogger((record) => {
      if (record.level === 'warn' && record.msg !== undefined) world.warnings.push(record.msg);
    }),
    callbacks,
  });
  await world.subscriber.start();
}

/** The derived rows of an operation, with the member each names. */
async function derivedRows(world: World, key: string): Promise<{ member_id: number }[]> {
  const rows = (await world.sub.knex(derived).where('idempotency_key', key).select('member_id')) as {
    member_id: number | string;
  }[];
  return rows.map((row) => ({ member_id: Number(row.member_id) }));
}

async function counter(world: World, name: 'messagesApplied' | 'messagesParked'): Promise<number> {
  const { values } = await world.metrics[name].get();
  return values.find((v) => v.labels.app === sniper.app)?.value ?? 0;
}

/** Waits until `n` more messages than `before` were applied and acknowledged. */
async function appliedMore(world: World, before: number, n: number): Promise<void> {
  await eventually(async () => ((await counter(world, 'messagesApplied')) >= before + n ? true : undefined));
}

const keyOf = (message: Envelope): string => {
  const op = message.operations[0];
  if (!op) throw new Error('no operation');
  return `${op.endpoint}:${op.id}:${op.version}`;
};

const idOf = (message: Envelope): string => message.operations[0]?.id as string;

for (const dialect of ['sqlite', 'postgres', 'mariadb'] as Dialect[]) {
  const test = suite<World>(`callbacks write through the apply transaction on ${dialect}`, {} as World);

  test.before((world) => openSubscriber(world, dialect, { User: { afterSave: (e) => derive(world, e) } }));
  test.after((world) => closeWorld(world, world.subscriber));

  test('a row written through trx commits with the delivery, once however often the message comes', async (world) => {
    const created = factories.User.create({ name: 'Leia' });
    const updated = factories.User.update(idOf(created), { name: 'Leia Organa' });
    const before = await counter(world, 'messagesApplied');
    await deliver(world, created);
    await appliedMore(world, before, 1);
    await deliver(world, updated);
    await appliedMore(world, before, 2);
    // Each again: a duplicate is skipped, so its callback does not run again.
    await deliver(world, created, updated);
    await appliedMore(world, before, 4);
    const member = (await world.sub.knex('members').where('crowdtap_id', idOf(created)).first('id')) as {
      id: number;
    };
    for (const message of [created, updated]) {
      assert.equal(await derivedRows(world, keyOf(message)), [{ member_id: Number(member.id) }], keyOf(message));
      assert.is(world.calls.filter((c) => c.key === keyOf(message)).length, 1, 'one call');
    }
    assert.equal(world.errors, []);
  });

  test('a callback that throws after writing rolls its row back; the retry writes it once', async (world) => {
    const created = factories.User.create({ name: 'failing twice' });
    const before = await counter(world, 'messagesApplied');
    await deliver(world, created);
    await appliedMore(world, before, 1);
    const calls = world.calls.filter((c) => c.key === keyOf(created));
    assert.is(calls.length, 3, 'two failed attempts, then one applied');
    assert.is(new Set(calls.map((c) => c.trx)).size, 3, 'each attempt in a transaction of its own');
    assert.is((await derivedRows(world, keyOf(created))).length, 1);
    assert.is(world.errors.length, 2, 'the two failures were reported');
  });

  test('in a group commit, a failing message rolls back its rows; the others are written once', async (world) => {
    const first = factories.User.create({ name: 'Han' });
    const second = factories.User.create({ name: 'Chewbacca' });
    const failing = factories.User.create({ name: 'failing' });
    const parkedBefore = await counter(world, 'messagesParked');
    const appliedBefore = await counter(world, 'messagesApplied');
    // One frame: the three join one transaction, the failing one last.
    await deliver(world, first, second, failing);
    await appliedMore(world, appliedBefore, 2);
    await eventually(async () => ((await counter(world, 'messagesParked')) > parkedBefore ? true : undefined));
    const group = world.calls.find((c) => c.key === keyOf(failing))?.trx;
    assert.equal(
      world.calls.filter((c) => c.trx === group).map((c) => c.key),
      [keyOf(first), keyOf(second), keyOf(failing)],
      'the three were applied in one transaction first',
    );
    for (const message of [first, second]) {
      assert.is(world.calls.filter((c) => c.key === keyOf(message)).length, 2, 'in the group, then alone');
      assert.is((await derivedRows(world, keyOf(message))).length, 1, 'written once');
    }
    assert.equal(await derivedRows(world, keyOf(failing)), [], 'the failing callback’s rows never committed');
    assert.is(await world.sub.knex('members').where('crowdtap_id', idOf(failing)).first(), undefined);
  });

  test.run();
}

/**
 * A deadlock that the database breaks after a callback wrote rolls the callback's row back;
 * the apply runs again at once, callbacks included, in a new transaction.
 */
const deadlock = suite<World>('callbacks through a deadlock on mariadb', {} as World);

/** A row another transaction of the app holds while the callback asks for it. */
const gate = 'gate';

deadlock.before(async (world) => {
  await openSubscriber(world, 'mariadb', {
    User: {
      afterSave: async (event) => {
        await derive(world, event);
        await event.trx(gate).where('id', 1).forUpdate();
      },
    },
  });
  await world.sub.knex.schema.createTable(gate, (t) => t.integer('id').primary());
  await world.sub.knex(gate).insert({ id: 1 });
  await world.sub.knex.schema.createTable('ballast', (t) => t.integer('n'));
});

deadlock.after((world) => closeWorld(world, world.subscriber));

/** Resolves once a transaction of the database waits for a row lock. */
async function lockWait(knex: Knex): Promise<void> {
  const { database } = (knex.client.config as { connection: { database: string } }).connection;
  for (const deadline = Date.now() + 20_000; ;) {
    if (Date.now() > deadline) throw new Error('no transaction waited for a lock');
    const [rows] = (await knex.raw(
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

deadlock('the apply runs again with its callbacks in a new transaction; their rows are written once', async (world) => {
  const { knex } = world.sub;
  const created = factories.User.create({ name: 'Lando' });
  const before = await counter(world, 'messagesApplied');
  await deliver(world, created);
  await appliedMore(world, before, 1);
  const updated = factories.User.update(idOf(created), { name: 'Lando Calrissian' });
  // Another transaction of the app, heavier than the subscriber's (the one the database rolls
  // back), holds the gate; the callback waits for it, holding the member's version, which the
  // other then asks for.
  const other = await knex.transaction();
  await other('ballast').insert(Array.from({ length: 2000 }, (_, n) => ({ n })));
  await other(gate).where('id', 1).forUpdate();
  await deliver(world, updated);
  await lockWait(knex);
  await other(versionsTable)
    .where({ publisher: 'crowdtap', endpoint: 'crowdtap/user', object_id: idOf(created) })
    .forUpdate();
  await other.commit();
  await appliedMore(world, before, 2);
  const calls = world.calls.filter((c) => c.key === keyOf(updated));
  assert.is(calls.length, 2, 'the callback ran in the deadlocked transaction, then in the next');
  assert.is(new Set(calls.map((c) => c.trx)).size, 2);
  assert.is((await derivedRows(world, keyOf(updated))).length, 1, 'written once');
  assert.equal(world.warnings, [
    `deadlock on ${gate} rolled back the transaction of messages ${updated.id}: applying each again`,
  ]);
  assert.equal(world.errors, [], 'applied again at once, not retried through the broker');
});

deadlock.run();
