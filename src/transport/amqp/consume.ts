/**
 * One app's consumer: it declares the app's queues, consumes the app's queue on a channel of
 * its own with the app's prefetch, and hands the handler each message (see delivery.ts). The
 * transport starts it again on every reconnection until it is stopped.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import type { ConsumeOptions, Consumer, Delivery } from '../transport.js';
import { type ChannelFactory, type Channels, openChannel } from './connection.js';
import { type DeliveryContext, deliveries } from './delivery.js';
import type { Topology } from './topology.js';

export class AmqpConsumer implements Consumer {
  private channel: Channel | undefined;
  private tag: string | undefined;
  private inFlight = 0;
  private onIdle: (() => void) | undefined;
  /** Where this app's copies go: the same for every delivery. */
  private readonly context: DeliveryContext;
  /** Not to be started again: stopped, or its transport closed. */
  stopped = false;

  constructor(
    private readonly app: string,
    private readonly options: ConsumeOptions,
    private readonly handle: (delivery: Delivery) => Promise<void>,
    private readonly topology: Topology,
    channels: Channels,
  ) {
    this.context = { app, topology, channels };
  }

  async start(model: ChannelFactory): Promise<void> {
    await this.topology.declareApp(model, this.app, this.options.bindings);
    const channel = await openChannel(model);
    await channel.prefetch(this.options.prefetch);
    this.channel = channel;
    const reply = await channel.consume(this.topology.names.queue(this.app), (message) => {
      if (message) void this.deliver(channel, message);
    });
    this.tag = reply.consumerTag;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.channel && this.tag) await this.channel.cancel(this.tag).catch(() => {});
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    await this.channel?.close().catch(() => {});
  }

  /** Hands the handler each message of a broker message (one, or a frame's), and acks it once all are settled. */
  private async deliver(channel: Channel, message: ConsumeMessage): Promise<void> {
    this.inFlight += 1;
    const settled = (failed: boolean): void => {
      try {
        // Acknowledged only once each of its messages was acknowledged or confirmed into a
        // queue (delivery.ts). A copy that is not known to be in a queue leaves it
        // unacknowledged, and the broker delivers it again once this channel closes (a
        // reconnection, the consumer's stop). So does a channel closed meanwhile (the ack throws).
        if (!failed) channel.ack(message);
      } finally {
        this.inFlight -= 1;
        if (this.inFlight === 0) this.onIdle?.();
      }
    };
    await Promise.all(
      deliveries(message, this.context, settled).map(async (delivery) => {
        try {
          await this.handle(delivery);
        } catch (error) {
          await delivery.retry(error as Error, this.topology.retryDelays[0] ?? 1_000).catch(() => {});
        }
      }),
    );
  }
}
