/**
 * An app's parked queue: listed, moved back to the app's queue, or dropped. The broker cannot
 * read a queue in place, so the queue is read through, each message taken (acknowledged) or
 * kept (requeued at the end, in order).
 */
import type { GetMessage } from 'amqplib';
import type { ParkedMessage } from '../transport.js';
import { type Channels, openChannel } from './connection.js';
import { attemptHeader, parkedAtHeader, reasonHeader, signatureHeader } from './headers.js';
import { persistentJson, sendToQueue } from './publish.js';
import type { Topology } from './topology.js';

export class ParkedQueue {
  constructor(
    private readonly topology: Topology,
    private readonly channels: Channels,
  ) {}

  list(app: string): Promise<ParkedMessage[]> {
    return this.browse(app, async () => 'keep');
  }

  /**
   * Moves the parked messages (all, or those with these ids) back to the app's queue; returns
   * how many. Each is taken off the parked queue only once the broker confirmed its copy into
   * the app's queue: when that queue is gone, it stays parked, and this rejects saying so.
   */
  async retry(app: string, messageIds?: readonly string[]): Promise<number> {
    const channel = await this.channels.confirmChannel();
    const queue = this.topology.names.queue(app);
    let moved = 0;
    await this.browse(app, async (m) => {
      if (!chosen(m, messageIds)) return 'keep';
      if ((await sendToQueue(channel, queue, m.body, persistentJson(m.messageId, m.signature))) === 'no queue') {
        throw new Error(`the queue ${queue} does not exist: start the app's subscriber once to declare it, then retry`);
      }
      moved += 1;
      return 'take';
    });
    return moved;
  }

  /** Deletes the parked messages (all, or those with these ids); returns how many. */
  async drop(app: string, messageIds?: readonly string[]): Promise<number> {
    let dropped = 0;
    await this.browse(app, async (m) => {
      if (!chosen(m, messageIds)) return 'keep';
      dropped += 1;
      return 'take';
    });
    return dropped;
  }

  /** Reads the parked queue through; each message is kept (requeued at the end) or taken (acked). */
  private async browse(app: string, decide: (m: ParkedMessage) => Promise<'keep' | 'take'>): Promise<ParkedMessage[]> {
    const model = await this.channels.channelFactory();
    let channel = await openChannel(model);
    try {
      const queue = this.topology.names.parked(app);
      channel = await this.topology.declareQueue(model, channel, queue, {});
      const { messageCount } = await channel.checkQueue(queue);
      const seen: ParkedMessage[] = [];
      const held: GetMessage[] = [];
      for (let i = 0; i < messageCount; i++) {
        const message = await channel.get(queue, { noAck: false });
        if (!message) break;
        const parked = readParked(message);
        seen.push(parked);
        if ((await decide(parked)) === 'take') channel.ack(message);
        else held.push(message);
      }
      // Requeued together at the end, so that they keep their order and are not read twice.
      // Should a decision fail, closing the channel requeues them, and the message at hand.
      for (const message of held) channel.nack(message, false, true);
      return seen;
    } finally {
      await channel.close().catch(() => {});
    }
  }
}

function chosen(message: ParkedMessage, messageIds: readonly string[] | undefined): boolean {
  return !messageIds || messageIds.includes(message.messageId ?? '');
}

function readParked(message: GetMessage): ParkedMessage {
  const headers = message.properties.headers ?? {};
  const signature: unknown = headers[signatureHeader];
  return {
    ...(typeof signature === 'string' && signature !== '' ? { signature } : {}),
    messageId: message.properties.messageId as string | undefined,
    reason: String(headers[reasonHeader] ?? ''),
    attempts: Number(headers[attemptHeader] ?? 0),
    parkedAt: Number(headers[parkedAtHeader] ?? 0),
    body: message.content,
  };
}
