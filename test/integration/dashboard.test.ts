/**
 * `promiscuous dashboard` over HTTP while crowdtap replicates to sniper through the real
 * RabbitMQ and Redis: its figures, its live updates, and the parked messages, which only the
 * token retries or drops.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Snapshot } from '../../src/cli/dashboard-figures.js';
import { openDashboard, parkOne, type ReplicatingWorld, replicatingWorld } from '../helpers/dashboard-world.js';
import { eventually } from '../helpers/services.js';
import { openEventStream } from '../helpers/sse.js';
import { newUser } from '../helpers/users-app.js';
import { member } from '../helpers/world.js';

const test = suite<{ world: ReplicatingWorld }>('dashboard', {} as { world: ReplicatingWorld });

test.before(async (context) => {
  context.world = await replicatingWorld();
});

test.after((context) => context.world?.close());

type Subscriber = Extract<Snapshot['subscribers'][number], { ready: number }>;

test('shows each app, its applied rate and latency, and retries or drops parked messages with the token', async ({
  world,
}) => {
  const users = Array.from({ length: 10 }, (_, i) => newUser(`User${i}`));
  for (const user of users) await world.publisher.transaction(async (tx) => void (await tx.User.create(user)));
  for (const user of users) await eventually(() => member(world, user.id));
  await parkOne(world, 'unreadable-1');
  await parkOne(world, 'unreadable-2');
  const dashboard = await openDashboard(world, 's3cret');
  try {
    const page = await fetch(dashboard.url);
    assert.match(await page.text(), /<title>Promiscuous dashboard<\/title>/);
    const sniper = await eventually(async () => {
      const snapshot = (await (await fetch(`${dashboard.url}status`)).json()) as Snapshot;
      const found = snapshot.subscribers.find((s) => s.app === 'sniper') as Subscriber | undefined;
      const applied = found?.rate?.reduce((sum, r) => sum + r.perSecond * 5, 0);
      // The rate's last bucket is a finished one: wait until the ten operations' bucket is.
      return found && found.parked === 2 && applied === 10 ? found : undefined;
    }, 20_000);
    assert.is(sniper.consumers, 1);
    const [latency] = sniper.latency ?? [];
    assert.is(latency?.publisher, 'crowdtap');
    assert.is(latency?.messages, 10);
    assert.ok((latency?.p50Ms ?? 0) > 0 && (latency?.p50Ms ?? 0) <= (latency?.p99Ms ?? 0));

    const stream = await openEventStream(`${dashboard.url}events`);
    await eventually(async () => (stream.events.length >= 2 ? true : undefined), 10_000, 'two snapshots');
    stream.close();
    const pushed = JSON.parse(stream.events[1]?.data ?? '{}') as Snapshot;
    assert.equal(
      pushed.publishers.map((p) => p.app),
      ['crowdtap'],
    );
    assert.ok(pushed.writable);

    const parked = (await (await fetch(`${dashboard.url}parked?app=sniper`)).json()) as { messageId: string }[];
    assert.equal(parked.map((m) => m.messageId).sort(), ['unreadable-1', 'unreadable-2']);
    const post = (action: string, authorization?: string) =>
      fetch(`${dashboard.url}parked/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ app: 'sniper', ids: ['unreadable-1'] }),
      });
    assert.is((await post('drop')).status, 401);
    assert.is((await post('drop', 'Bearer wrong')).status, 401);
    assert.equal(await (await post('drop', 'Bearer s3cret')).json(), { dropped: 1 });
    const left = (await (await fetch(`${dashboard.url}parked?app=sniper`)).json()) as { messageId: string }[];
    assert.equal(
      left.map((m) => m.messageId),
      ['unreadable-2'],
    );
  } finally {
    await dashboard.close();
  }
});

test('without a token the dashboard is read-only', async ({ world }) => {
  const dashboard = await openDashboard(world);
  try {
    const snapshot = (await (await fetch(`${dashboard.url}status`)).json()) as Snapshot;
    assert.not.ok(snapshot.writable);
    const response = await fetch(`${dashboard.url}parked/retry`, {
      method: 'POST',
      headers: { authorization: 'Bearer anything' },
      body: JSON.stringify({ app: 'sniper' }),
    });
    assert.is(response.status, 403);
    const parked = (await (await fetch(`${dashboard.url}parked?app=sniper`)).json()) as unknown[];
    assert.is(parked.length, 1, 'nothing moved');
  } finally {
    await dashboard.close();
  }
});

test.run();
