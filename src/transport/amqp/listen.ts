/**
 * A process's own queue for replies addressed to it (acknowledgements): server-named,
 * exclusive and deleted with its connection, so that nothing is left behind by a process that
 * died. Every reconnection declares a new one, under a new address: replies sent to the old
 * one are lost, which their senders' callers are told to expect.
 */
import type { Channel } from 'amqplib';
import type { Listener } from '../transport.js';
import { type ChannelFactory, openChannel } from './connection.js';
import { unframe } from './frames.js';

export class AmqpListener implements Listener {
  private channel: Channel | undefined;
  private queue: string | undefined;
  /** Not to be started again: stopped, or its transport closed. */
  stopped = false;

  constructor(private readonly handle: (body: Buffer, signature: string | undefined) => void) {}

  async start(model: ChannelFactory): Promise<void> {
    const channel = await openChannel(model);
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await channel.consume(
      queue,
      (message) => {
        if (!message) return;
        for (const { body, signature } of unframe(message)) this.handle(body, signature);
      },
      { noAck: true },
    );
    this.channel = channel;
    this.queue = queue;
    // The queue goes with its channel: until the next start, there is no address to give.
    channel.once('close', () => {
      if (this.channel === channel) this.queue = undefined;
    });
  }

  address(): string | undefined {
    return this.stopped ? undefined : this.queue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.channel?.close().catch(() => {});
  }
}
