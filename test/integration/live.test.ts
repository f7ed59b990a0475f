/**
 * Applied changes streamed to browsers: two subscriber workers (each with its own Redis
 * connections, as two processes) apply crowdtap's users into PostgreSQL, and `liveChanges`
 * serves them as server-sent events through Node's `http`.
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import type { Hooks, Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import {
  type LiveChange,
  type LiveChangesHandler,
  liveChanges,
  listeningPort,
  Publisher,
  RedisCoordinator,
  Subscriber,
} from '../../src/runtime/index.js';
import { LiveFeedWriter, liveKeys } from '../../src/transport/redis/live-feed.js';
import { eventually, randomName, redisUrl } from '../helpers/services.js';
import { openEventStream, type ServerEvent } from '../helpers/sse.js';
import { crowdtap, newUser, sniper, virtuals } from '../helpers/users-app.js';
import { closeWorld, member, openWorld, removeNamespace, type World as Fixture } from '../helpers/world.js';

interface World extends Fixture {
  publisher: Publisher<Hooks, Virtuals>;
  workers: Subscriber[];
  coordinators: RedisCoordinator[];
  handler: LiveChangesHandler;
  server: Server;
  url: string;
}

const test = suite<World>('live changes', {} as World);

test.before(async (world) => {
  Object.assign(world, await openWorld({ pub: 'postgres', sub: 'postgres' }));
  world.coordinators = [];
  world.workers = [];
  for (let i = 0; i < 2; i++) {
    const coordinator = await RedisCoordinator.connect(redisUrl, `${world.namespace}:sniper`);
    world.coordinators.push(coordinator);
    const worker = new Subscriber({
      schema: sniper,
      knex: world.sub.knex,
      transport: world.transport,
      coordinator,
      live: true,
    });
    await worker.start();
    world.workers.push(worker);
  }
  world.publisher = new Publisher({ schema: crowdtap, knex: world.pub.knex, transport: world.transport, virtuals });
  world.handler = await liveChanges({ app: 'sniper', redisUrl, namespace: world.namespace, heartbeatMs: 100 });
  world.server = createServer(world.handler);
  await new Promise<void>((resolve) => world.server.listen(0, '127.0.0.1', resolve));
  world.url = `http://127.0.0.1:${listeningPort(world.server)}/live`;
});

test.after(async (world) => {
  await world.handler?.close();
  await new Promise((resolve) => world.server?.close(resolve));
  await closeWorld(world, world.publisher, ...world.workers, ...world.coordinators);
  await removeNamespace(world.namespace, 'sniper');
});

const changeOf = (event: ServerEvent) => JSON.parse(event.data) as LiveChange;

async function createUsers(world: World, names: readonly string[], extra: object = {}): Promise<string[]> {
  const ids: string[] = [];
  for (const name of names) {
    const user = newUser(name, extra);
    ids.push(user.id);
    await world.publisher.transaction(async (tx) => void (await tx.User.create(user)));
  }
  return ids;
}

const count = (n: number, events: readonly ServerEvent[]) => async () => (events.length >= n ? true : undefined);

test('each change applied by either worker is streamed once, after its commit', async (world) => {
  const committed: Promise<boolean>[] = [];
  // On receipt, the row must already be readable from outside the apply transaction.
  const stream = await openEventStream(world.url, undefined, (event) => {
    const { id } = changeOf(event);
    committed.push(world.sub.knex('members').where('crowdtap_id', id).first().then(Boolean));
  });
  assert.is(stream.status, 200);
  const ids = await createUsers(
    world,
    Array.from({ length: 30 }, (_, i) => `User${i}`),
  );
  await eventually(count(30, stream.events), 20_000, '30 events');
  await new Promise((resolve) => setTimeout(resolve, 200));
  stream.close();
  const changes = stream.events.map(changeOf);
  assert.equal(changes.map((c) => c.id).sort(), [...ids].sort(), 'every user once, nothing else');
  assert.ok(changes.every((c) => c.operation === 'create' && c.types[0] === 'User' && c.publisher === 'crowdtap'));
  assert.ok(changes.every((c) => c.appliedAt >= c.committedAt));
  assert.equal(
    await Promise.all(committed),
    ids.map(() => true),
    'each row was committed before its event',
  );
});

test('a stream resumes after its last event id, without a gap or a duplicate', async (world) => {
  const whole = await openEventStream(world.url);
  const first = await openEventStream(world.url);
  await createUsers(world, ['A1', 'A2', 'A3', 'A4', 'A5']);
  await eventually(count(5, first.events));
  first.close();
  const seen = first.events.length;
  await createUsers(world, ['B1', 'B2', 'B3', 'B4', 'B5']);
  await eventually(count(10, whole.events));
  const resumed = await openEventStream(world.url, first.lastEventId);
  await eventually(count(10 - seen, resumed.events));
  await createUsers(world, ['C1']);
  await eventually(count(11, whole.events));
  await eventually(count(11 - seen, resumed.events));
  await new Promise((resolve) => setTimeout(resolve, 200));
  whole.close();
  resumed.close();
  const ids = (events: readonly ServerEvent[]) => events.map((e) => e.id);
  assert.equal([...ids(first.events), ...ids(resumed.events)], ids(whole.events));
});

test('a query keeps the changes of a type, an id or an attribute value', async (world) => {
  const members = await openEventStream(`${world.url}?type=Member`);
  const luke = await openEventStream(`${world.url}?attribute.name=Luke`);
  const all = await openEventStream(world.url);
  const [yodaId] = await createUsers(world, ['Yoda']);
  await eventually(count(1, all.events));
  all.close();
  const byId = await openEventStream(`${world.url}?id=${yodaId}`);
  const [lukeId] = await createUsers(world, ['Luke']);
  await world.publisher.transaction(async (tx) => {
    await tx.Member.create({ ...newUser('Leia'), points: 3 });
    await tx.User.update(yodaId as string, { name: 'Master Yoda' });
  });
  await eventually(count(1, members.events));
  await eventually(count(1, byId.events));
  await eventually(count(1, luke.events));
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const stream of [members, luke, byId]) stream.close();
  assert.equal(
    members.events.map((e) => changeOf(e).attributes?.name),
    ['Leia'],
  );
  assert.equal(
    luke.events.map((e) => changeOf(e).id),
    [lukeId],
  );
  assert.equal(
    byId.events.map((e) => changeOf(e).attributes?.name),
    ['Master Yoda'],
  );
  const wrong = await liveChanges({ app: 'sniper', redisUrl, namespace: world.namespace, types: ['Member'] });
  try {
    const server = createServer(wrong);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const refused = await openEventStream(`http://127.0.0.1:${listeningPort(server)}/?type=User`);
    assert.is(refused.status, 400, 'a type the handler does not stream');
    server.close();
  } finally {
    await wrong.close();
  }
});

test('an id the feed no longer reaches, or of an earlier feed, starts with a reset', async (world) => {
  const stream = await openEventStream(world.url);
  await createUsers(world, ['Old']);
  await eventually(count(1, stream.events));
  stream.close();
  const old = stream.lastEventId as string;
  const newer = await createUsers(world, ['New1', 'New2']);
  for (const id of newer) await eventually(() => member(world, id));
  const redis = new Redis(redisUrl);
  const key = liveKeys(`${world.namespace}:sniper`).stream;
  // Appended right after the commit: the newest entry is New2's once its event is out.
  const watcher = await openEventStream(world.url, old);
  await eventually(count(2, watcher.events));
  watcher.close();
  await redis.xtrim(key, 'MAXLEN', 1);
  redis.disconnect();
  // A handler started now: what Redis no longer holds is in no memory either.
  const handler = await liveChanges({ app: 'sniper', redisUrl, namespace: world.namespace });
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${listeningPort(server)}/`;
  try {
    const late = await openEventStream(url, old);
    const other = await openEventStream(url, `ffffffff.${old.split('.')[1]}`);
    await eventually(count(1, late.events));
    await eventually(count(1, other.events));
    await createUsers(world, ['After']);
    await eventually(count(2, late.events));
    late.close();
    other.close();
    assert.is(late.events[0]?.event, 'reset');
    assert.is(other.events[0]?.event, 'reset');
    assert.is(changeOf(late.events[1] as ServerEvent).attributes?.name, 'After', 'then on from now');
  } finally {
    await handler.close();
    server.close();
  }
});

test('a connection that does not read is closed, and the feed goes on', async () => {
  const namespace = randomName('prom');
  const handler = await liveChanges({ app: 'sniper', redisUrl, namespace, pageSize: 20, drainTimeoutMs: 300 });
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const redis = new Redis(redisUrl);
  try {
    const socket = connect(listeningPort(server), '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(async () => (handler.connections === 1 ? true : undefined));
    socket.pause();
    const writer = new LiveFeedWriter(redis, `${namespace}:sniper`);
    const big = { name: 'x'.repeat(10_000) };
    const change = { publisher: 'p', endpoint: 'e', types: ['T'], operation: 'update', version: 1, attributes: big };
    for (let i = 0; i < 100; i++) {
      writer.append(
        Array.from({ length: 20 }, (_, j) => ({ ...change, id: `${i}-${j}`, committedAt: 0, appliedAt: 0 })),
      );
    }
    await eventually(async () => (handler.connections === 0 ? true : undefined), 10_000, 'the stuck connection closed');
    socket.destroy();
    const fresh = await openEventStream(`http://127.0.0.1:${listeningPort(server)}/`);
    writer.append([{ ...change, id: 'last', committedAt: 0, appliedAt: 0 }]);
    await eventually(count(1, fresh.events));
    fresh.close();
    assert.is(changeOf(fresh.events[0] as ServerEvent).id, 'last');
  } finally {
    await handler.close();
    server.close();
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

test.run();
