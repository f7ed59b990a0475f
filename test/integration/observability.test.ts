/**
 * What an operator sees, from PostgreSQL to SQLite through the real RabbitMQ and Redis: the
 * metrics move as messages are applied, skipped and parked; `promiscuous status` reports the
 * queue, the parked messages, a message waiting for a dependency and the lag; /metrics serves
 * the registry.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Hooks, Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import { runCli } from '../../src/cli/index.js';
import {
  listeningPort,
  Metrics,
  Publisher,
  RedisCoordinator,
  Subscriber,
  type SubscriberStatus,
  serveMetrics,
  subscriberStatus,
} from '../../src/runtime/index.js';
import { eventually, redisUrl } from '../helpers/services.js';
import { newUser, sniper } from '../helpers/users-app.js';
import {
  closeWorld,
  deliver,
  member,
  manualPublisher,
  openWorld,
  removeNamespace,
  takeOutbox,
  type World as Fixture,
} from '../helpers/world.js';

interface World extends Fixture {
  coordinator: RedisCoordinator;
  metrics: Metrics;
  manual: Publisher<Hooks, Virtuals>;
  subscriber: Subscriber<Callbacks> | undefined;
}

const test = suite<World>('metrics and status, postgres -> sqlite', {} as World);

function startSubscriber(world: World): Promise<void> {
  world.subscriber = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    coordinator: world.coordinator,
    metrics: world.metrics,
    // Long enough that no re-sync is asked while a test keeps a message waiting on purpose.
    dependencyTimeoutMs: 120_000,
    waitMs: 200,
    maxAttempts: 1,
  });
  return world.subscriber.start();
}

test.before(async (world) => {
  Object.assign(world, await openWorld({ pub: 'postgres', sub: 'sqlite' }));
  world.coordinator = await RedisCoordinator.connect(redisUrl, `${world.namespace}:sniper`);
  world.metrics = new Metrics();
  world.manual = manualPublisher(world);
  await startSubscriber(world);
});

test.after(async (world) => {
  await closeWorld(world, world.subscriber, world.manual, world.coordinator);
  await removeNamespace(world.namespace, 'sniper');
});

/** The committed messages waiting in the outbox, oldest first, taken out of it. */

interface Readable {
  get(): Promise<{ values: { labels: Record<string, string | number>; value: number; metricName?: string }[] }>;
}

/** A metric's value for some labels (for a histogram, its `_count`); 0 when it has none. */
async function value(metric: Readable, labels: Record<string, string>, sample?: string): Promise<number> {
  const { values } = await metric.get();
  const found = values.find(
    (v) =>
      (sample === undefined || v.metricName === sample) &&
      Object.entries(labels).every(([key, expected]) => v.labels[key] === expected),
  );
  return found?.value ?? 0;
}

async function status(world: World): Promise<SubscriberStatus> {
  return subscriberStatus(world.transport, 'sniper', world.coordinator);
}

test('applying, skipping a duplicate and parking move their counters, and /metrics serves them', async (world) => {
  const { metrics } = world;
  const sniperLabels = { app: 'sniper' };
  const fromCrowdtap = { app: 'sniper', publisher: 'crowdtap' };
  const yoda = newUser('Yoda');
  await world.manual.transaction(async (tx) => void (await tx.User.create(yoda)));
  const [created] = await takeOutbox(world);
  if (!created) throw new Error('one message expected');

  await deliver(world, created);
  await eventually(() => member(world, yoda.id), 5_000, 'the create');
  await eventually(async () => ((await value(metrics.messagesApplied, sniperLabels)) === 1 ? true : undefined));
  assert.is(await value(metrics.operationsApplied, fromCrowdtap), 1);
  assert.is(
    await value(metrics.commitToApplied, fromCrowdtap, 'promiscuous_commit_to_applied_seconds_count'),
    1,
    'the latency of the applied message is observed',
  );
  assert.is(await value(metrics.applyDuration, sniperLabels, 'promiscuous_apply_duration_seconds_count'), 1);

  await deliver(world, created);
  await eventually(async () => ((await value(metrics.messagesApplied, sniperLabels)) === 2 ? true : undefined));
  assert.is(await value(metrics.operationsSkipped, fromCrowdtap), 1, 'the duplicate changed nothing');
  assert.is(await value(metrics.operationsApplied, fromCrowdtap), 1);

  assert.is(await value(metrics.messagesParked, sniperLabels), 0);
  await world.transport.publish([
    { routingKeys: ['crowdtap.user.create'], messageId: 'not-json', body: Buffer.from('{ not json') },
  ]);
  await eventually(async () => ((await value(metrics.messagesParked, sniperLabels)) === 1 ? true : undefined));

  const server = await serveMetrics(metrics, 0, '127.0.0.1');
  try {
    const response = await fetch(`http://127.0.0.1:${listeningPort(server)}/metrics`);
    assert.is(response.status, 200);
    assert.is(response.headers.get('content-type'), metrics.registry.contentType);
    const text = await response.text();
    assert.match(text, 'promiscuous_messages_applied_total{app="sniper"} 2');
    assert.match(text, 'promiscuous_messages_parked_total{app="sniper"} 1');
    assert.match(text, /promiscuous_status_queue_messages\{app="sniper",queue="parked"\} 1/);
    assert.is((await fetch(`http://127.0.0.1:${listeningPort(server)}/other`)).status, 404);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('status reports a message waiting for a dependency, its age, the parked messages and the lag', async (world) => {
  const leia = newUser('Leia', { org_id: 7 });
  await world.manual.transaction(async (tx) => void (await tx.Organization.create({ id: 7, name: 'Rebels' })));
  await world.manual.transaction(async (tx) => void (await tx.User.create(leia)));
  const [organization, leiaCreated] = await takeOutbox(world);
  if (!organization || !leiaCreated) throw new Error('two messages expected');

  const delivered = Date.now();
  await deliver(world, leiaCreated);
  const waiting = await eventually(async () => {
    const s = await status(world);
    return s.waiting === 1 ? s : undefined;
  }, 5_000);
  const elapsed = (Date.now() - delivered) / 1_000;
  assert.ok(waiting.oldestWaitingSeconds !== null, 'the age of the oldest waiting message is known');
  assert.ok(
    (waiting.oldestWaitingSeconds ?? -1) >= 0 && (waiting.oldestWaitingSeconds ?? Infinity) <= elapsed,
    `it waits since it was first delivered: ${waiting.oldestWaitingSeconds} s, ${elapsed} s since delivered`,
  );
  assert.is(waiting.parked, 1, 'the malformed message of the previous test');
  assert.is(waiting.consumers, 1);
  assert.is(waiting.lagMessages, 1, 'the waiting message is the lag');
  assert.ok(
    (waiting.lagSeconds ?? -1) * 1_000 >= delivered - leiaCreated.timestamp - 1,
    'the lag is at least the age of the waiting message',
  );
  assert.is(await member(world, leia.id), undefined, 'Leia still waits for her organization');

  await deliver(world, organization);
  await eventually(() => member(world, leia.id), 5_000, 'the waiting row');
  const caughtUp = await eventually(async () => {
    const s = await status(world);
    return s.waiting === 0 && s.lastAppliedCommit === leiaCreated.timestamp ? s : undefined;
  }, 5_000);
  assert.is(caughtUp.lagMessages, 0);
  assert.is(caughtUp.lagSeconds, 0);
  assert.is(caughtUp.oldestWaitingSeconds, null);

  // Stopped, the app falls behind: queued messages, and the lag from the last applied commit.
  await world.subscriber?.stop();
  const later = [newUser('Luke'), newUser('Han'), newUser('Chewie')];
  for (const user of later) await world.manual.transaction(async (tx) => void (await tx.User.create(user)));
  // Published one by one: three broker messages, the count the broker reports.
  for (const envelope of await takeOutbox(world)) await deliver(world, envelope);
  const before = Date.now();
  const behind = await eventually(async () => {
    const s = await status(world);
    return s.ready === 3 ? s : undefined;
  }, 5_000);
  assert.is(behind.consumers, 0);
  assert.is(behind.lagMessages, 3);
  assert.is(behind.lagOperations, 3, 'every message so far carried one operation');
  assert.ok(
    (behind.lagSeconds ?? -1) * 1_000 >= before - leiaCreated.timestamp - 1,
    `the lag counts from the last applied commit: ${behind.lagSeconds} s`,
  );

  await startSubscriber(world);
  await eventually(async () => ((await status(world)).lagMessages === 0 ? true : undefined), 10_000, 'catching up');
  // A lag of 0 counts no queued message; those being applied land right after.
  for (const user of later) await eventually(() => member(world, user.id), 5_000, `${user.name} to arrive`);

  // What the workers received, by which the status scales the broker's count: the two
  // messages of the first test, the two of this one, these three; each alone in its broker
  // message, of one operation. Then a frame of two: two messages in one broker message.
  await world.subscriber?.stop();
  assert.equal(await world.coordinator.received(), { brokerMessages: 7, messages: 7, operations: 7 });
  await startSubscriber(world);
  const pair = [newUser('Rey'), newUser('Finn')];
  for (const user of pair) await world.manual.transaction(async (tx) => void (await tx.User.create(user)));
  await deliver(world, ...(await takeOutbox(world)));
  for (const user of pair) await eventually(() => member(world, user.id), 5_000, `${user.name} to arrive`);
  await world.subscriber?.stop();
  assert.equal(await world.coordinator.received(), { brokerMessages: 8, messages: 9, operations: 9 });
  await startSubscriber(world);
});

test('`promiscuous status --json` reports subscribers from the broker and Redis, publishers from their outbox', async (world) => {
  const dir = mkdtempSync(join(tmpdir(), 'promiscuous-status-'));
  const { rows } = (await world.pub.knex.raw('select current_schema() as schema')) as { rows: { schema: string }[] };
  const schema = rows[0]?.schema;
  const config = join(dir, 'promiscuous.config.ts');
  writeFileSync(
    config,
    `export default {
  apps: {
    crowdtap: { publish: [{ table: 'users', as: 'User', fields: { id: 'uuid primary', name: 'string' } }] },
    sniper: { subscribe: [{ type: 'User', from: 'crowdtap/user', attributes: ['name'] }] },
  },
  database: () => ({ client: 'pg', connection: { host: '127.0.0.1', user: 'postgres', database: 'test' }, searchPath: [${JSON.stringify(schema)}] }),
};
`,
  );
  // Left in the outbox: the manual publisher has no relay.
  const committed = Date.now();
  await world.manual.transaction(async (tx) => void (await tx.User.create(newUser('Rey'))));
  const previous = process.env.PROMISCUOUS_NAMESPACE;
  process.env.PROMISCUOUS_NAMESPACE = world.namespace;
  const out: string[] = [];
  const err: string[] = [];
  const cli = (...args: string[]) =>
    runCli(['node', 'promiscuous', 'status', '--config', config, ...args], {
      info: (line) => void out.push(line),
      error: (line) => void err.push(line),
    });
  try {
    assert.is(await cli('--json'), 0, err.join('\n'));
    const report = JSON.parse(out.join('\n')) as {
      subscribers: SubscriberStatus[];
      publishers: { app: string; outbox: number; oldestRowSeconds: number | null }[];
    };
    const [sniperStatus] = report.subscribers;
    assert.is(sniperStatus?.app, 'sniper');
    assert.is(sniperStatus?.parked, 1);
    assert.is(sniperStatus?.waiting, 0);
    assert.is(sniperStatus?.consumers, 1);
    const [crowdtapStatus] = report.publishers;
    assert.is(crowdtapStatus?.app, 'crowdtap');
    assert.is(crowdtapStatus?.outbox, 1);
    assert.ok(
      (crowdtapStatus?.oldestRowSeconds ?? -1) >= 0 &&
        (crowdtapStatus?.oldestRowSeconds ?? Infinity) <= (Date.now() - committed) / 1_000 + 0.001,
    );

    out.length = 0;
    assert.is(await cli('--app', 'sniper'), 0, err.join('\n'));
    assert.match(out[0] ?? '', /^subscriber\s+workers\s+queued\s+retrying\s+parked\s+waiting/);
    assert.match(out[1] ?? '', /^sniper\s+1\s+0\s+0\s+1\s+0\s+-\s+0\s+0\s+0\.0 s$/);
    assert.is(out.length, 2, 'only the app asked for');
  } finally {
    if (previous === undefined) delete process.env.PROMISCUOUS_NAMESPACE;
    else process.env.PROMISCUOUS_NAMESPACE = previous;
    await takeOutbox(world);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
