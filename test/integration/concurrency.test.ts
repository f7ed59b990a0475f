/** Concurrent writers on one publisher database; every increment reaches the subscriber, in order. */

import { Redis } from 'ioredis';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AmqpTransport, Publisher, RedisCoordinator, Subscriber } from '../../src/runtime/index.js';
import { amqpUrl, queueExpiresMs, database, eventually, randomName, redisUrl } from '../helpers/services.js';
import { crowdtap, crowdtapTables, newUser, sniper, sniperTables, virtuals } from '../helpers/users-app.js';

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

test('ten concurrent writers incrementing the same three rows end with every increment applied in order', async () => {
  const pub = await database('postgres');
  const sub = await database('sqlite');
  await crowdtapTables(pub.knex);
  await sniperTables(sub.knex);
  const transport = await AmqpTransport.connect({
    url: amqpUrl,
    expiresMs: queueExpiresMs,
    namespace: randomName('prom'),
  });
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
    await eventually(
      async () => ((await sub.knex('members').where('crowdtap_id', m.id).first())?.points === total ? true : undefined),
      30_000,
    );
    assert.equal(
      seen.get(m.id),
      Array.from({ length: total + 1 }, (_, i) => i),
      `${m.name} saw every increment in order`,
    );
    const row = await pub.knex('users').where('id', m.id).first();
    assert.is(Number(row._v), total + 1);
  }
  await publisher.close();
  await subscriber.stop();
  await transport.close();
  await pub.drop();
  await sub.drop();
});

test('two workers on one queue, coordinated through Redis, apply every increment in order, even when Redis is flushed', async () => {
  const pub = await database('postgres');
  const sub = await database('postgres');
  await crowdtapTables(pub.knex);
  await sniperTables(sub.knex);
  const namespace = randomName('prom');
  const seen = new Map<string, number[]>();
  const workers = await Promise.all(
    [1, 2].map(async () => {
      const transport = await AmqpTransport.connect({ url: amqpUrl, expiresMs: queueExpiresMs, namespace });
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
  const publishing = await AmqpTransport.connect({ url: amqpUrl, expiresMs: queueExpiresMs, namespace });
  const publisher = new Publisher({ schema: crowdtap, knex: pub.knex, transport: publishing, virtuals });
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
    await eventually(
      async () => ((await sub.knex('members').where('crowdtap_id', m.id).first())?.points === total ? true : undefined),
      30_000,
    );
    assert.equal(
      seen.get(m.id),
      Array.from({ length: total + 1 }, (_, i) => i),
      `${m.name} saw every increment, in order, once`,
    );
  }
  await redis.quit();
  await publisher.close();
  for (const w of workers) {
    await w.subscriber.stop();
    await w.coordinator.close();
    await w.transport.close();
  }
  await publishing.close();
  await pub.drop();
  await sub.drop();
});

test.run();
