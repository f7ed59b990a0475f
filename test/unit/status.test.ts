/** How `promiscuous status` turns the broker's counts and the workers' tallies into a lag. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RedisCoordinator, Transport, WaitingMessage } from '../../src/runtime/index.js';
import { subscriberStatus } from '../../src/runtime/index.js';

const now = 1_000_000;

function sources(
  queue: { ready: number; retrying: number },
  received: { brokerMessages: number; messages: number; operations: number } | undefined,
  waiting: WaitingMessage[] = [],
) {
  const transport = {
    stats: async () => ({ ...queue, parked: 0, consumers: 1 }),
  } as unknown as Transport;
  const coordinator = {
    waitingMessages: async () => waiting,
    lastAppliedCommit: async () => now - 4_000,
    received: async () => received,
    signatureFailures: async () => [],
  } as unknown as RedisCoordinator;
  return [transport, coordinator] as const;
}

test('queued broker messages count as the messages and operations they carried on average', async () => {
  const held: WaitingMessage = { messageId: 'm', since: now - 500, committed: now - 600, seen: now, state: 'held' };
  // Frames of three messages on average, of 2.5 operations each.
  const [transport, coordinator] = sources(
    { ready: 2, retrying: 1 },
    { brokerMessages: 4, messages: 12, operations: 30 },
    [held],
  );
  const status = await subscriberStatus(transport, 'app', coordinator, now);
  assert.is(status.ready, 2);
  assert.is(
    status.lagMessages,
    2 * 3 + 1 + 1,
    'the ready broker messages scaled, the retrying and the held one as they are',
  );
  assert.is(status.lagOperations, 20);
  assert.is(status.lagSeconds, 4, 'from the last applied commit, older than the waiting message');
});

test('without a tally, a broker message counts as one message and the operations are unknown', async () => {
  const [transport, coordinator] = sources({ ready: 5, retrying: 0 }, undefined);
  const status = await subscriberStatus(transport, 'app', coordinator, now);
  assert.is(status.lagMessages, 5);
  assert.is(status.lagOperations, null);
});

test('nothing queued or waiting is no lag', async () => {
  const [transport, coordinator] = sources(
    { ready: 0, retrying: 0 },
    { brokerMessages: 1, messages: 3, operations: 9 },
  );
  const status = await subscriberStatus(transport, 'app', coordinator, now);
  assert.equal([status.lagMessages, status.lagOperations, status.lagSeconds], [0, 0, 0]);
});

test.run();
