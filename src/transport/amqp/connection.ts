/**
 * The connection to RabbitMQ, with amqplib's own recovery (exponential backoff with jitter),
 * and the confirm channel everything is published on. Every (re)connection recreates that
 * channel and runs the transport's {@link ConnectionSetup}; whoever needs the broker while it
 * is away waits here for it, up to `connectTimeoutMs`.
 */
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { ConnectionError, CredentialsError, TopologyError } from '../../common/errors.js';
import { guardedLogger, type Logger, silentLogger } from '../../common/logger.js';
import { redact } from '../../common/redact.js';
import type { AmqpOptions } from './options.js';

/** What opens channels: the recovering connection, or, during a reconnection's setup, the new one. */
export interface ChannelFactory {
  createChannel(): Promise<Channel>;
}

/** What the consumers and the parked queue need of the connection. */
export interface Channels {
  /** The publishing confirm channel; waits for a connection, and rejects once the transport is closed. */
  confirmChannel(): Promise<ConfirmChannel>;
  /** What opens channels of their own, once there is a connection (it waits as {@link confirmChannel} does). */
  channelFactory(): Promise<ChannelFactory>;
}

/** What the transport does at every (re)connection, in this order, before anyone waiting is woken. */
export interface ConnectionSetup {
  /** Declares on the new confirm channel what publishing needs (the exchange), before anything is published on it. */
  prepare(channel: ConfirmChannel): Promise<void>;
  /** Starts the consumers again on the new connection. */
  resume(model: ChannelFactory): Promise<void>;
}

type RecoveringModel = Awaited<ReturnType<typeof connectRecovering>>;

export class AmqpConnection implements Channels {
  private model: RecoveringModel | undefined;
  private publishChannel: ConfirmChannel | undefined;
  private up = false;
  private closed = false;
  /** Lost since the last (re)connection: the next one says it is back. */
  private lost = false;
  private readonly waiting = new Set<() => void>();
  private readonly log: Logger;

  private constructor(
    private readonly options: AmqpOptions,
    private readonly setup: ConnectionSetup,
  ) {
    this.log = guardedLogger(options.logger ?? silentLogger).child({ component: 'amqp', url: redact(options.url) });
  }

  /**
   * Connects, retrying a few times; rejects with a ConnectionError naming the URL (without its
   * password), or with the setup's TopologyError.
   */
  static async open(options: AmqpOptions, setup: ConnectionSetup): Promise<AmqpConnection> {
    const connection = new AmqpConnection(options, setup);
    try {
      connection.model = await connectRecovering(options, (model) => connection.reconnected(model));
    } catch (error) {
      // The exchange exists with other arguments: a reconnection would be refused as well.
      if (error instanceof TopologyError) throw error;
      const message = (error as Error).message;
      if (/ACCESS.REFUSED/.test(message)) {
        const user = decodeURIComponent(new URL(options.url).username) || 'guest';
        throw new CredentialsError(
          `RabbitMQ at ${redact(options.url)} refused the user \`${user}\` (ACCESS_REFUSED): check the user and password of the URL`,
          { cause: error },
        );
      }
      throw new ConnectionError(`cannot reach RabbitMQ at ${redact(options.url)}: ${message}`, { cause: error });
    }
    connection.model.on('disconnect', (error?: Error) => {
      connection.up = false;
      connection.publishChannel = undefined;
      if (connection.closed || connection.lost) return;
      connection.lost = true;
      connection.log.warn({ ...(error ? { err: error } : {}) }, 'lost the connection to RabbitMQ; reconnecting');
    });
    connection.model.on('error', () => {});
    connection.model.on('blocked', (reason: string) =>
      connection.log.warn({ reason }, 'RabbitMQ blocks publishing (a memory or disk alarm)'),
    );
    connection.model.on('unblocked', () => connection.log.info('RabbitMQ takes messages again'));
    return connection;
  }

  /** Whether the last (re)connection's setup completed, and no disconnection came since. */
  get connected(): boolean {
    return this.up;
  }

  /** The recovering connection, to open channels on without waiting (when {@link connected}). */
  get factory(): ChannelFactory {
    return this.model as ChannelFactory;
  }

  /** amqplib's recovery calls it after every successful (re)connection, with the new connection. */
  async reconnected(model: ChannelModel): Promise<void> {
    // amqplib listens to a new connection's errors only once this setup succeeded: a socket
    // that fails meanwhile (the broker restarting) would otherwise throw at the process. The
    // failure reaches the reconnection anyway, through the setup's own rejection.
    model.on('error', () => {});
    const channel = await model.createConfirmChannel();
    channel.on('error', () => {});
    channel.on('close', () => {
      if (this.publishChannel === channel) this.publishChannel = undefined;
    });
    await this.setup.prepare(channel);
    this.publishChannel = channel;
    await this.setup.resume(model);
    this.up = true;
    if (this.lost) this.log.info('reconnected to RabbitMQ');
    this.lost = false;
    for (const wake of this.waiting) wake();
    this.waiting.clear();
  }

  async confirmChannel(): Promise<ConfirmChannel> {
    if (this.closed) throw new ConnectionError('the transport is closed');
    if (this.publishChannel) return this.publishChannel;
    const timeout = this.options.connectTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(wake);
        reject(new ConnectionError(`RabbitMQ at ${redact(this.options.url)} has been unreachable for ${timeout} ms`));
      }, timeout);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiting.add(wake);
    });
    if (!this.publishChannel) throw new ConnectionError(`RabbitMQ at ${redact(this.options.url)} is unreachable`);
    return this.publishChannel;
  }

  async channelFactory(): Promise<ChannelFactory> {
    await this.confirmChannel();
    return this.factory;
  }

  healthy(): boolean {
    return this.up && this.publishChannel !== undefined && !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.model?.close().catch(() => {});
  }
}

/** A channel whose errors (a refused declaration, say) reach its callers as rejections, never the process. */
export async function openChannel(model: ChannelFactory): Promise<Channel> {
  const channel = await model.createChannel();
  channel.on('error', () => {});
  return channel;
}

function connectRecovering(options: AmqpOptions, setup: (model: ChannelModel) => Promise<void>) {
  return amqp.connect(options.url, {
    clientProperties: { connection_name: options.connectionName ?? 'promiscuous' },
    // Without it, Nagle's algorithm holds the tail of a large frame until the broker's delayed
    // ACK (about 40 ms), and every publish confirm waits that long.
    noDelay: true,
    recovery: {
      initialDelay: 200,
      maxDelay: 5_000,
      initialMaxRetries: options.initialRetries ?? 3,
      maxRetries: Number.POSITIVE_INFINITY,
      setup,
    },
  });
}
