/**
 * RabbitMQ through amqplib: the {@link Transport} the runtime uses in production. It wires the
 * pieces that each have a file: the connection and its recovery (connection.ts), the
 * exchanges, queues and bindings (topology.ts), publishing in frames (publish.ts, frames.ts),
 * consuming and settling (consume.ts, delivery.ts) and the parked queue (parked.ts).
 */
import { runtimeSettings } from '../../common/settings.js';
import type {
  ConsumeOptions,
  Consumer,
  Delivery,
  Listener,
  OutgoingMessage,
  ParkedMessage,
  QueueStats,
  Transport,
} from '../transport.js';
import { AmqpConnection } from './connection.js';
import { AmqpConsumer } from './consume.js';
import { AmqpListener } from './listen.js';
import type { AmqpOptions } from './options.js';
import { ParkedQueue } from './parked.js';
import { publishFrames, sendToQueue } from './publish.js';
import { signatureHeader } from './headers.js';
import { Topology } from './topology.js';

/**
 * Every (re)connection declares the exchange on a new publishing confirm channel and starts
 * the consumers again, before anyone waiting for the broker goes on.
 */
export class AmqpTransport implements Transport {
  private readonly parkedQueue: ParkedQueue;

  private constructor(
    private readonly options: AmqpOptions,
    private readonly topology: Topology,
    private readonly connection: AmqpConnection,
    private readonly consumers: AmqpConsumer[],
    private readonly listeners: AmqpListener[],
  ) {
    this.parkedQueue = new ParkedQueue(topology, connection);
  }

  /** Connects, retrying a few times; rejects with a ConnectionError naming the URL (without its password). */
  static async connect(given: Partial<AmqpOptions> = {}): Promise<AmqpTransport> {
    // What is not given comes from the environment, as for the CLI: a program on the API and
    // the CLI's processes then agree on the broker and the namespace.
    const environment = runtimeSettings({});
    const options: AmqpOptions = {
      ...given,
      url: given.url ?? environment.amqpUrl,
      namespace: given.namespace ?? environment.namespace,
    };
    const topology = new Topology(options);
    const consumers: AmqpConsumer[] = [];
    const listeners: AmqpListener[] = [];
    const connection = await AmqpConnection.open(options, {
      prepare: (channel) => topology.declareExchange(channel),
      resume: async (model) => {
        for (const listener of listeners) if (!listener.stopped) await listener.start(model);
        for (const consumer of consumers) if (!consumer.stopped) await consumer.start(model);
      },
    });
    return new AmqpTransport(options, topology, connection, consumers, listeners);
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const channel = await this.connection.confirmChannel();
    await publishFrames(channel, this.topology.names.exchange, messages, this.options.frameSize ?? 50);
  }

  async consume(app: string, options: ConsumeOptions, handle: (d: Delivery) => Promise<void>): Promise<Consumer> {
    const consumer = new AmqpConsumer(app, options, handle, this.topology, this.connection);
    this.consumers.push(consumer);
    // Away: every reconnection starts the consumers, this one too.
    if (this.connection.connected) {
      try {
        await consumer.start(this.connection.factory);
      } catch (error) {
        // The broker refused (a queue declared with other arguments, say): the caller hears it.
        // A connection lost meanwhile is the reconnection's to mend.
        if (this.connection.connected) {
          this.consumers.splice(this.consumers.indexOf(consumer), 1);
          throw error;
        }
      }
    }
    return { stop: () => consumer.stop() };
  }

  async listen(handle: (body: Buffer, signature: string | undefined) => void): Promise<Listener> {
    const listener = new AmqpListener(handle);
    this.listeners.push(listener);
    await listener.start(await this.connection.channelFactory());
    return listener;
  }

  async reply(address: string, { body, messageId, signature }: Omit<OutgoingMessage, 'routingKeys'>): Promise<void> {
    const channel = await this.connection.confirmChannel();
    const headers = signature === undefined ? {} : { [signatureHeader]: signature };
    // A reply to a listener gone (its process died) is dropped: its sender's caller was told.
    await sendToQueue(channel, address, body, { contentType: 'application/json', messageId, headers });
  }

  /** Declares an app's queues and bindings without consuming, so that messages wait for it. */
  async declare(app: string, bindings: readonly string[]): Promise<void> {
    await this.topology.declareApp(await this.connection.channelFactory(), app, bindings);
  }

  parked(app: string): Promise<ParkedMessage[]> {
    return this.parkedQueue.list(app);
  }

  retryParked(app: string, messageIds?: readonly string[]): Promise<number> {
    return this.parkedQueue.retry(app, messageIds);
  }

  dropParked(app: string, messageIds?: readonly string[]): Promise<number> {
    return this.parkedQueue.drop(app, messageIds);
  }

  async stats(app: string): Promise<QueueStats | undefined> {
    return this.topology.stats(await this.connection.channelFactory(), app);
  }

  healthy(): boolean {
    return this.connection.healthy();
  }

  async close(): Promise<void> {
    for (const consumer of this.consumers) consumer.stopped = true;
    for (const listener of this.listeners) listener.stopped = true;
    await this.connection.close();
  }
}
