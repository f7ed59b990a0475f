/** Concurrent writers on one publisher database; every increment reaches the subscriber, in order. */

import { Redis } from 'ioredis';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Publisher, RedisCoordinator, Subscriber } from '../../src/runtime/index.js';
import { eventually, redisUrl, type TestDatabase } from '../helpers/services.js';
import { crowdtap, newUser, sniper, virtuals } from '../helpers/users-app.js';
import { closeWorld, connectTransport, openWorld } from '../helpers/world.js';

/** Callbacks that record, per member, the points of every version applied. */
function pointsSeen(seen: Map<string, number[]>): Callbacks {
  return {
    Member: {
      afterSave: (e) => {
        const list = seen.get(e.id) ?? [];
        list.push(e.attributes?.points ?? -1);
        seen.set(e.id, list);
      },
    },
  };
}

/** Waits until the subscriber's member holds `points`. */
const untilPoints = (sub: TestDatabase, id: string, points: number) =>
  eventually(
    async () => ((await sub.knex('members').where('crowdtap_id', id).first())?.points === points ? true : undefined),
    30_000,
  );

/** 0, 1, ... n: every value a counter took on its way to n. */
const upTo = (n: number): number[] => Array.from({ length: n + 1 }, (_, i) => i);

test('ten concurrent writers incrementing the same three rows end with every increment applied in order', async () => {
  const world = await openWorld({ pub: 'postgres', sub: 'sqlite' });
  const { pub, sub, transport } = world;
  const seen = new Map<string, number[]>();
  const subscriber = new Subscriber({
    schema: sniper,
    knex: sub.knex,
    transport,
    prefetch: 10,
    callbacks: pointsSeen(seen),
  });
  await subscriber.start();
  const publisher = new Publisher({ schema: crowdtap, knex: pub.knex, transport, virtuals });
  const members = [newUser('A', { points: 0 }), newUser('B', { points: 0 }), newUser('C', { points: 0 })];
  await publisher.transaction(async (tx) => {
    for (const m of members) await tx.Member.create(m);
  });
  const rounds = 5;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let i = 0; i < rounds; i++) {
        for (const m of members) {
          await publisher.transaction(async (tx) => {
            const current = await tx.Member.find(m.id, { lock: true });
            await tx.Member.update(m.id, { points: Number(current?.points) + 1 });
          });
        }
      }
    }),
  );
  const total = 10 * rounds;
  for (const m of members) {
    await untilPoints(sub, m.id, total);
    assert.equal(seen.get(m.id), upTo(total), `${m.name} saw every increment in order`);
    const row = await pub.knex('users').where('id', m.id).first();
    assert.is(Number(row._v), total + 1);
  }
  await closeWorld(world, publisher, subscriber);
});

test('two workers on one queue, coordinated through Redis, apply every increment in order, even when Redis is flushed', async () => {
  const world = await openWorld({ pub: 'postgres', sub: 'postgres' });
  const { pub, sub, namespace } = world;
  const seen = new Map<string, number[]>();
  const workers = await Promise.all(
    [1, 2].map(async () => {
      const transport = await connectTransport(namespace);
      const coordinator = await RedisCoordinator.connect(redisUrl, namespace);
      const subscriber = new Subscriber({
        schema: sniper,
        knex: sub.knex,
        transport,
        coordinator,
        prefetch: 5,
        callbacks: pointsSeen(seen),
      });
      await subscriber.start();
      return { transport, coordinator, subscriber };
    }),
  );
  const publisher = new Publisher({ schema: crowdtap, knex: pub.knex, transport: world.transport, virtuals });
  const members = [newUser('D', { points: 0 }), newUser('E', { points: 0 })];
  await publisher.transaction(async (tx) => {
    for (const m of members) await tx.Member.create(m);
  });
  const redis = new Redis(redisUrl);
  const total = 30;
  await Promise.all(
    Array.from({ length: 6 }, async (_, writer) => {
      for (let i = 0; i < total / 6; i++) {
        for (const m of members) {
          await publisher.transaction(async (tx) => {
            const current = await tx.Member.find(m.id, { lock: true });
            await tx.Member.update(m.id, { points: Number(current?.points) + 1 });
          });
        }
        // Mid-stream, every key of this namespace disappears: locks are lost, nothing else is.
        if (writer === 0 && i === 2) {
          const keys = await redis.keys(`${namespace}:*`);
          if (keys.length > 0) await redis.del(...keys);
        }
      }
    }),
  );
  for (const m of members) {
    await untilPoints(sub, m.id, total);
    assert.equal(seen.get(m.id), upTo(total), `${m.name} saw every increment, in order, once`);
  }
  await redis.quit();
  await closeWorld(world, publisher, ...workers.flatMap((w) => [w.subscriber, w.coordinator, w.transport]));
});

test.run();
