/**
 * The messages a broker message carries, as the consumer's handler gets them, and how each is
 * settled: acknowledged, or first copied to a retry queue (retried, deferred) or to the parked
 * queue. The broker message is acknowledged once every message of it is settled, and not at
 * all when a copy failed: the broker then delivers it again.
 */
import type { ConsumeMessage } from 'amqplib';
import type { Delivery } from '../transport.js';
import type { Channels } from './connection.js';
import { frameHeader, unframe } from './frames.js';
import { attemptHeader, parkedAtHeader, reasonHeader, waitingHeader } from './headers.js';
import { persistentJson, sendConfirmed } from './publish.js';
import type { Topology } from './topology.js';

/** Where a consumed app's copies go, and the channel they are written on. */
export interface DeliveryContext {
  readonly app: string;
  readonly topology: Topology;
  readonly channels: Channels;
}

/**
 * One delivery for each message of `message`; `settled(failed)` runs once all of them are
 * settled, `failed` when any copy was not written.
 */
export function deliveries(
  message: ConsumeMessage,
  context: DeliveryContext,
  settled: (failed: boolean) => void,
): Delivery[] {
  const { [frameHeader]: _ids, ...headers } = message.properties.headers ?? {};
  const parts = unframe(message);
  const attempt = Number(headers[attemptHeader] ?? 0);
  const waiting = headers[waitingHeader];
  const countdown = new Countdown(parts.length, settled);
  const { app, topology } = context;
  return parts.map(({ body, messageId }): Delivery => {
    const settle = countdown.once();
    const copy = async (queue: string, extra: Record<string, unknown>): Promise<void> =>
      // Written on the confirm channel, so the copy is safe before the original is acked.
      sendConfirmed(await context.channels.confirmChannel(), queue, body, {
        ...persistentJson(messageId),
        headers: { ...headers, ...extra },
      });
    return {
      body,
      messageId,
      attempt,
      waitingSince: waiting === undefined ? undefined : Number(waiting),
      redelivered: message.fields.redelivered,
      framed: parts.length,
      ack: () => settle(() => {}),
      retry: (_error, delayMs) =>
        settle(() => copy(topology.retryQueue(app, delayMs), { [attemptHeader]: attempt + 1 })),
      defer: (delayMs, since) => settle(() => copy(topology.retryQueue(app, delayMs), { [waitingHeader]: since })),
      park: (reason) =>
        settle(() =>
          copy(topology.names.parked(app), {
            [reasonHeader]: reason,
            [parkedAtHeader]: Date.now(),
            [attemptHeader]: attempt,
          }),
        ),
    };
  });
}

/** Counts a broker message's messages down as they are settled, and remembers whether any settlement failed. */
class Countdown {
  private failed = false;

  constructor(
    private unsettled: number,
    private readonly done: (failed: boolean) => void,
  ) {}

  /** One message's settlement: the first call runs its work, later ones do nothing. */
  once(): (work: () => Promise<void> | void) => Promise<void> {
    let settled = false;
    return async (work) => {
      if (settled) return;
      settled = true;
      try {
        await work();
      } catch (error) {
        this.failed = true;
        throw error;
      } finally {
        this.unsettled -= 1;
        if (this.unsettled === 0) this.done(this.failed);
      }
    };
  }
}
