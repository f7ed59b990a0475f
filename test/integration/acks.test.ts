/**
 * Acknowledgements from required subscribers, through the real broker: crowdtap (PostgreSQL)
 * waits for sniper (SQLite) and mailer (an observer, SQLite) to have committed what they
 * applied; a subscriber that is down times the wait out with the change committed; an
 * acknowledgement from an app that was not asked, or for another message, counts for nothing;
 * a redelivered message acknowledges again and the publisher counts it once.
 */
import type { Knex } from 'knex';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { migrationSource as mailerMigrations } from '../../examples/users/generated/mailer/migrations.js';
import { schema as mailer } from '../../examples/users/generated/mailer/subscriber.js';
import type { Hooks, Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import {
  AcknowledgementTimeout,
  type Envelope,
  generateKeyPair,
  Signer,
  Metrics,
  type OutgoingMessage,
  Publisher,
  Subscriber,
  type Transport,
} from '../../src/runtime/index.js';
import { database, eventually, type TestDatabase } from '../helpers/services.js';
import { crowdtap, newUser, sniper, virtuals } from '../helpers/users-app.js';
import { closeWorld, connectTransport, openWorld, type World as Fixture } from '../helpers/world.js';

interface World extends Fixture {
  metrics: Metrics;
  publisher: Publisher<Hooks, Virtuals>;
  sniper: Subscriber;
  mailer: Subscriber;
  mailerDb: TestDatabase;
  /** Every message the publisher's relay sent, as sent. */
  sent: OutgoingMessage[];
}

const test = suite<World>('acknowledgements from required subscribers', {} as World);

/** The transport, noting what it publishes: a captured message, to send again or to answer falsely. */
function capturing(transport: Transport, sent: OutgoingMessage[]): Transport {
  return Object.assign(Object.create(transport) as Transport, {
    publish: async (messages: readonly OutgoingMessage[]) => {
      sent.push(...messages);
      return transport.publish(messages);
    },
  });
}

test.before.each(async (world) => {
  Object.assign(world, await openWorld());
  world.metrics = new Metrics();
  world.sent = [];
  world.publisher = new Publisher({
    schema: crowdtap,
    knex: world.pub.knex,
    transport: capturing(world.transport, world.sent),
    virtuals,
    metrics: world.metrics,
  });
  world.sniper = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    metrics: world.metrics,
  });
  world.mailerDb = await database('sqlite');
  await world.mailerDb.knex.migrate.latest({ migrationSource: mailerMigrations });
  world.mailer = new Subscriber({
    schema: mailer,
    knex: world.mailerDb.knex,
    transport: world.transport,
    metrics: world.metrics,
  });
  await world.sniper.start();
  await world.mailer.start();
});

test.after.each(async (world) => {
  await closeWorld(world, world.sniper, world.mailer, world.publisher, { close: () => world.mailerDb.drop() });
  // The queues expire on their own (queueExpiresMs); the namespace is this test's alone.
});

async function counted(
  metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number; metricName?: string }[] }> },
  labels: Record<string, string>,
  sample?: string,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter(
      (v) =>
        (sample === undefined || v.metricName === sample) &&
        Object.entries(labels).every(([k, l]) => v.labels[k] === l),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

function member(knex: Knex, id: string): Promise<unknown> {
  return knex('members').where('crowdtap_id', id).first();
}

test('resolves once every required app committed the change', async (world) => {
  const user = newUser('Luke');
  const value = await world.publisher.transaction(
    async (tx) => {
      await tx.User.create(user);
      return 'done';
    },
    { requireAcks: ['sniper', 'mailer'], ackTimeoutMs: 15_000 },
  );
  assert.is(value, 'done');
  assert.ok(await member(world.sub.knex, user.id), "sniper's row is committed when the transaction resolves");
  const [message] = world.sent.map((m) => JSON.parse(m.body.toString()) as Envelope);
  assert.equal(message?.acks?.apps, ['sniper', 'mailer']);
  assert.is(
    await counted(
      world.metrics.ackLatency,
      { app: 'crowdtap', subscriber: 'sniper' },
      'promiscuous_ack_latency_seconds_count',
    ),
    1,
  );
  assert.is(
    await counted(
      world.metrics.ackLatency,
      { app: 'crowdtap', subscriber: 'mailer' },
      'promiscuous_ack_latency_seconds_count',
    ),
    1,
  );

  // Without required apps nothing is asked, and nothing is waited for.
  await world.publisher.transaction((tx) => tx.User.update(user.id, { name: 'Luke S.' }));
  const second = JSON.parse((world.sent.at(-1) as OutgoingMessage).body.toString()) as Envelope;
  assert.is(second.acks, undefined);
});

test('a subscriber that is down times the wait out, and the change is committed all the same', async (world) => {
  await world.sniper.stop();
  const user = newUser('Leia');
  try {
    await world.publisher.transaction(
      async (tx) => {
        await tx.User.create(user);
        return user.id;
      },
      { requireAcks: ['sniper', 'mailer'], ackTimeoutMs: 1_500 },
    );
    assert.unreachable('the transaction resolved without sniper');
  } catch (error) {
    assert.instance(error, AcknowledgementTimeout);
    const timeout = error as AcknowledgementTimeout<string>;
    assert.equal([timeout.missing, timeout.acknowledged, timeout.value], [['sniper'], ['mailer'], user.id]);
    assert.match(timeout.message, 'is committed, but sniper did not acknowledge it within 1500 ms (mailer did)');
  }
  assert.ok(await world.pub.knex('users').where('id', user.id).first(), 'committed at the publisher');
  assert.is(await counted(world.metrics.ackTimeouts, { app: 'crowdtap', subscriber: 'sniper' }), 1);
  // sniper comes back, applies the change and acknowledges late: nothing waits for it any more.
  world.sniper = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    metrics: world.metrics,
  });
  await world.sniper.start();
  await eventually(
    async () =>
      (await counted(world.metrics.acksIgnored, { app: 'crowdtap', subscriber: 'sniper' })) === 1 || undefined,
  );
  assert.ok(await member(world.sub.knex, user.id));
});

test('an acknowledgement from an app not asked, or for another message, counts for nothing', async (world) => {
  await world.sniper.stop();
  const forger = await connectTransport(world.namespace);
  const user = newUser('Han');
  const waiting = world.publisher.transaction((tx) => tx.User.create(user), {
    requireAcks: ['sniper'],
    ackTimeoutMs: 2_000,
  });
  const envelope = await eventually(async () => {
    const found = world.sent.map((m) => JSON.parse(m.body.toString()) as Envelope).find((e) => e.acks);
    return found;
  });
  const to = envelope.acks?.to as string;
  const forge = (app: string, message: string) =>
    forger.reply(to, {
      body: Buffer.from(JSON.stringify({ kind: 'ack', app, message })),
      messageId: `${message}:forged`,
    });
  await forge('mailer', envelope.id);
  await forge('sniper', 'another-message');
  const error = await waiting.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(error, AcknowledgementTimeout);
  assert.equal((error as AcknowledgementTimeout).missing, ['sniper']);
  // mailer was not asked: a name anybody may claim gets no series of its own.
  assert.is(await counted(world.metrics.acksIgnored, { app: 'crowdtap', subscriber: 'unknown' }), 1);
  assert.is(await counted(world.metrics.acksIgnored, { app: 'crowdtap', subscriber: 'sniper' }), 1);
  await forger.close();
});

test('a redelivered message acknowledges again, and the publisher counts it once', async (world) => {
  const user = newUser('Rey');
  await world.publisher.transaction((tx) => tx.User.create(user), { requireAcks: ['sniper'], ackTimeoutMs: 15_000 });
  const message = world.sent.find((m) => (JSON.parse(m.body.toString()) as Envelope).acks) as OutgoingMessage;
  await world.transport.publish([message]);
  await eventually(
    async () => (await counted(world.metrics.acksSent, { app: 'sniper', publisher: 'crowdtap' })) === 2 || undefined,
  );
  await eventually(
    async () =>
      (await counted(world.metrics.acksIgnored, { app: 'crowdtap', subscriber: 'sniper' })) === 1 || undefined,
  );
  assert.is(
    await counted(
      world.metrics.ackLatency,
      { app: 'crowdtap', subscriber: 'sniper' },
      'promiscuous_ack_latency_seconds_count',
    ),
    1,
  );
});

test('with signatures, only an acknowledgement signed by the app it names counts', async (world) => {
  const key = { crowdtap: generateKeyPair(), sniper: generateKeyPair(), mailer: generateKeyPair() };
  const trust = { sniper: [key.sniper.publicText], mailer: [key.mailer.publicText] };
  await world.sniper.stop();
  const publisher = new Publisher({
    schema: crowdtap,
    knex: world.pub.knex,
    transport: capturing(world.transport, world.sent),
    virtuals,
    metrics: world.metrics,
    relay: false,
    signatures: { key: key.crowdtap.privatePem, trust, require: true },
  });
  const signedSniper = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    signatures: { key: key.sniper.privatePem, trust: { crowdtap: [key.crowdtap.publicText] } },
  });
  const forger = await connectTransport(world.namespace);
  try {
    // This publisher has no relay: its row waits in the outbox until the world's publisher's
    // relay sweeps it up, and no sniper runs before the forgeries were heard.
    const waiting = publisher.transaction((tx) => tx.User.create(newUser('Finn')), {
      requireAcks: ['sniper'],
      ackTimeoutMs: 15_000,
    });
    const row = await eventually(
      async () => (await world.pub.knex('promiscuous_outbox').first('message')) as { message: string } | undefined,
    );
    const envelope = JSON.parse(row.message) as Envelope;
    const to = envelope.acks?.to as string;
    const ack = Buffer.from(JSON.stringify({ kind: 'ack', app: 'sniper', message: envelope.id }));
    await forger.reply(to, { body: ack, messageId: 'unsigned' });
    const [mailerSigned] = await new Signer(key.mailer.privatePem).signAll([
      { routingKeys: [], messageId: 'x', body: ack },
    ]);
    await forger.reply(to, { body: ack, messageId: 'mailer', signature: mailerSigned?.signature as string });
    await eventually(
      async () =>
        (await counted(world.metrics.acksIgnored, { app: 'crowdtap', subscriber: 'sniper' })) === 2 || undefined,
    );
    // Now the message goes out, and sniper's signed acknowledgement settles the wait.
    await signedSniper.start();
    assert.ok(await waiting);
  } finally {
    await signedSniper.stop();
    await publisher.close();
    await forger.close();
  }
});

test.run();
