/**
 * The messages a broker message carries, as the consumer's handler gets them, and how each is
 * settled: acknowledged, or first copied to a retry queue (retried, deferred) or to the parked
 * queue. The broker message is acknowledged once every message of it is settled, and not at
 * all when a copy is not known to be in a queue: the broker then delivers it again.
 */
import type { ConsumeMessage, Options } from 'amqplib';
import type { Delivery } from '../transport.js';
import type { Channels } from './connection.js';
import { frameHeader, signatureLineHeader, unframe } from './frames.js';
import {
  attemptHeader,
  parkedAtHeader,
  reasonHeader,
  returnTagHeader,
  signatureHeader,
  waitingHeader,
} from './headers.js';
import { persistentJson, sendToQueue } from './publish.js';
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
  const {
    [frameHeader]: _ids,
    [returnTagHeader]: _tag,
    [signatureHeader]: _signatures,
    [signatureLineHeader]: _line,
    ...headers
  } = message.properties.headers ?? {};
  const parts = unframe(message);
  const attempt = Number(headers[attemptHeader] ?? 0);
  const waiting = headers[waitingHeader];
  const countdown = new Countdown(parts.length, settled);
  const { app, topology } = context;
  return parts.map(({ body, messageId, signature }): Delivery => {
    const settle = countdown.once();
    // Each copy carries its own message's signature, so that it verifies wherever it goes next.
    const own = signature === undefined ? {} : { [signatureHeader]: signature };
    const copy = (queue: string, extra: Record<string, unknown>): Promise<void> =>
      copyTo(context, queue, body, { ...persistentJson(messageId), headers: { ...headers, ...own, ...extra } });
    return {
      body,
      messageId,
      signature,
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

/**
 * Writes a copy of a message to one of the app's retry or parked queues, and resolves only
 * once the broker confirmed it into that queue. A queue that is gone (deleted by an operator,
 * expired) returns the copy: the app's retry and parked queues are declared again and the copy
 * sent once more. Anything else rejects (a nack, a channel closed before the confirm, the
 * queue gone again), and then the original is not acknowledged.
 */
async function copyTo(
  context: DeliveryContext,
  queue: string,
  body: Buffer,
  properties: Options.Publish,
): Promise<void> {
  const { app, channels, topology } = context;
  if ((await sendToQueue(await channels.confirmChannel(), queue, body, properties)) === 'queued') return;
  await topology.redeclareCopyQueues(await channels.channelFactory(), app);
  if ((await sendToQueue(await channels.confirmChannel(), queue, body, properties)) === 'queued') return;
  throw new Error(`RabbitMQ has no queue ${queue}, even after it was declared again`);
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
