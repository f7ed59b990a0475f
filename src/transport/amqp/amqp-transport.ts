import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { ConnectionError, PublisherError } from '../../common/errors.js';
import { redact } from '../../common/redact.js';
import type {
  ConsumeOptions,
  Consumer,
  Delivery,
  OutgoingMessage,
  ParkedMessage,
  QueueStats,
  Transport,
} from '../transport.js';
import { type Names, names } from './topology.js';

export interface AmqpOptions {
  readonly url: string;
  /** Prefix of the exchange and queue names (default `promiscuous`); tests use a random one. */
  readonly namespace?: string;
  /** Quorum queues for the apps' queues (replicated; needs a RabbitMQ cluster to matter). */
  readonly quorum?: boolean;
  /** How long `publish` waits for a connection before it fails (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Delays of the retry queues, in ms (default 0.2 s, 1 s, 5 s, 30 s, 2 min, 10 min). */
  readonly retryDelaysMs?: readonly number[];
  /** Connection attempts before the first connection fails (default 3). */
  readonly initialRetries?: number;
  /** The name RabbitMQ shows for the connection (default `promiscuous`). */
  readonly connectionName?: string;
  /**
   * Let RabbitMQ delete the namespace's queues once unused for this long (`x-expires`), and its
   * exchange with its last queue: for tests and short-lived environments, never production.
   * Every process of a namespace must pass the same value.
   */
  readonly expiresMs?: number;
  /**
   * The most messages one broker message carries (default 50; 1 turns framing off). Messages
   * published together under the same routing keys travel as one broker message, a frame,
   * and are handed to the consumer one by one again: see {@link frameHeader}.
   */
  readonly frameSize?: number;
}

interface ChannelFactory {
  createChannel(): Promise<Channel>;
}

interface ConsumerState {
  readonly app: string;
  readonly options: ConsumeOptions;
  readonly handle: (delivery: Delivery) => Promise<void>;
  channel?: Channel;
  tag?: string;
  inFlight: number;
  stopped: boolean;
  onIdle?: () => void;
}

const attemptHeader = 'x-promiscuous-attempt';
const reasonHeader = 'x-promiscuous-reason';
const parkedAtHeader = 'x-promiscuous-parked-at';
const waitingHeader = 'x-promiscuous-waiting-since';
/**
 * A frame: several messages published together under the same routing keys, their bodies
 * joined by newlines (JSON text holds none), their ids in this header, in order. One frame
 * costs the broker, the publisher confirms and the consumer's prefetch what one message
 * costs; the consumer acknowledges it once each of its messages is settled, and a message of
 * it that is retried, deferred or parked travels on alone.
 */
const frameHeader = 'x-promiscuous-frame';
/** A frame stops growing at this many bytes, whatever its count. */
const frameBytes = 512 * 1024;

/**
 * RabbitMQ through amqplib, with amqplib's own connection recovery (exponential backoff with
 * jitter). Every (re)connection recreates the publishing confirm channel, the topology and
 * the consumers. Publisher confirms are pipelined: a batch is written at once and its confirms
 * awaited together, never one by one.
 */
export class AmqpTransport implements Transport {
  private readonly names: Names;
  private connection: Awaited<ReturnType<typeof connectRecovering>> | undefined;
  private publishChannel: ConfirmChannel | undefined;
  private connected = false;
  private readonly waiting = new Set<() => void>();
  private readonly consumers: ConsumerState[] = [];
  private readonly retryDelays: readonly number[];
  private closed = false;

  private constructor(private readonly options: AmqpOptions) {
    this.names = names(options.namespace ?? 'promiscuous');
    this.retryDelays = options.retryDelaysMs ?? [200, 1_000, 5_000, 30_000, 120_000, 600_000];
  }

  /** Connects, retrying a few times; rejects with a ConnectionError naming the URL (without its password). */
  static async connect(options: AmqpOptions): Promise<AmqpTransport> {
    const transport = new AmqpTransport(options);
    try {
      transport.connection = await connectRecovering(options, (model) => transport.setup(model));
    } catch (error) {
      throw new ConnectionError(`cannot reach RabbitMQ at ${redact(options.url)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    transport.connection.on('disconnect', () => {
      transport.connected = false;
      transport.publishChannel = undefined;
    });
    transport.connection.on('error', () => {});
    return transport;
  }

  /** Runs after every successful (re)connection. */
  private async setup(model: ChannelModel): Promise<void> {
    // amqplib listens to a new connection's errors only once this setup succeeded: a socket
    // that fails meanwhile (the broker restarting) would otherwise throw at the process. The
    // failure reaches the reconnection anyway, through the setup's own rejection.
    model.on('error', () => {});
    const channel = await model.createConfirmChannel();
    channel.on('error', () => {});
    channel.on('close', () => {
      if (this.publishChannel === channel) this.publishChannel = undefined;
    });
    await channel.assertExchange(this.names.exchange, 'topic', this.exchangeOptions());
    this.publishChannel = channel;
    for (const consumer of this.consumers) if (!consumer.stopped) await this.startConsumer(model, consumer);
    this.connected = true;
    for (const wake of this.waiting) wake();
    this.waiting.clear();
  }

  private async channel(): Promise<ConfirmChannel> {
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

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const channel = await this.channel();
    const confirms: Promise<void>[] = [];
    for (const frame of frames(messages, this.options.frameSize ?? 50)) {
      const [first, ...others] = frame.routingKeys;
      if (first === undefined) continue;
      const ids = frame.messages.map((m) => m.messageId);
      const single = frame.messages.length === 1;
      let written = true;
      confirms.push(
        new Promise<void>((resolve, reject) => {
          written = channel.publish(
            this.names.exchange,
            first,
            single ? (frame.messages[0] as OutgoingMessage).body : joinLines(frame.messages.map((m) => m.body)),
            {
              persistent: true,
              contentType: 'application/json',
              messageId: single ? (ids[0] as string) : `${ids[0]}+${ids.length - 1}`,
              ...(single ? {} : { headers: { [frameHeader]: ids } }),
              // Sender-selected distribution: one copy per queue, whichever keys match.
              ...(others.length > 0 ? { CC: others } : {}),
            },
            (error: unknown) =>
              error
                ? reject(new PublisherError(`RabbitMQ did not confirm message ${ids.join(', ')}`, { cause: error }))
                : resolve(),
          );
        }),
      );
      // The socket buffer is full: wait for it to drain before writing more (or for the channel
      // to close, which fails the confirms awaited below).
      if (!written) await drainedOrClosed(channel);
    }
    await Promise.all(confirms);
  }

  async consume(app: string, options: ConsumeOptions, handle: (d: Delivery) => Promise<void>): Promise<Consumer> {
    const state: ConsumerState = { app, options, handle, inFlight: 0, stopped: false };
    this.consumers.push(state);
    // Away: every reconnection starts the consumers (see setup), this one too.
    if (this.connected) {
      try {
        await this.startConsumer(this.connection as ChannelFactory, state);
      } catch (error) {
        // The broker refused (a queue declared with other arguments, say): the caller hears it.
        // A connection lost meanwhile is the reconnection's to mend.
        if (this.connected) {
          this.consumers.splice(this.consumers.indexOf(state), 1);
          throw error;
        }
      }
    }
    return {
      stop: async () => {
        state.stopped = true;
        if (state.channel && state.tag) await state.channel.cancel(state.tag).catch(() => {});
        if (state.inFlight > 0) await new Promise<void>((resolve) => (state.onIdle = resolve));
        await state.channel?.close().catch(() => {});
      },
    };
  }

  /** Declares an app's queues and bindings without consuming, so that messages wait for it. */
  async declare(app: string, bindings: readonly string[]): Promise<void> {
    await this.channel();
    await this.assertQueues(this.connection as ChannelFactory, app, bindings);
  }

  /**
   * Declares an app's queues and bindings on a channel of their own: a declaration the broker
   * refuses closes its channel, never the publishing one.
   */
  private async assertQueues(model: ChannelFactory, app: string, bindings: readonly string[]): Promise<void> {
    const queue = this.names.queue(app);
    let channel = await openChannel(model);
    try {
      await channel.assertExchange(this.names.exchange, 'topic', this.exchangeOptions());
      channel = await this.assertQueue(model, channel, queue, this.options.quorum ? { 'x-queue-type': 'quorum' } : {});
      for (const binding of bindings) await channel.bindQueue(queue, this.names.exchange, binding);
      for (const [level, delay] of this.retryDelays.entries()) {
        // A retry waits out its TTL in a queue nobody consumes, then dead-letters back to the app's queue.
        channel = await this.assertQueue(model, channel, this.names.retry(app, level), {
          'x-message-ttl': delay,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': queue,
        });
      }
      channel = await this.assertQueue(model, channel, this.names.parked(app), {});
    } finally {
      // Not awaited: amqplib settles a close only on the broker's answer, which a connection
      // lost meanwhile never brings, and the reconnection's setup runs this.
      void channel.close().catch(() => {});
    }
  }

  /**
   * Declares a durable queue; a classic one as version 2 (RabbitMQ 3.10 and later: its newer
   * index and store, which cost the broker about a quarter less CPU a persistent message and
   * confirm it sooner). A queue that an earlier release declared without a version is kept as
   * it is: the broker refuses to declare it with other arguments and closes the channel, so
   * the queue is declared again as it was, on a new channel, which is returned. That happens
   * at every start; a policy (`queue-version`) converts such a queue's storage in place.
   */
  private async assertQueue(
    model: ChannelFactory,
    channel: Channel,
    queue: string,
    args: Record<string, unknown>,
  ): Promise<Channel> {
    const declared: Record<string, unknown> = {
      ...args,
      ...(this.options.expiresMs === undefined ? {} : { 'x-expires': this.options.expiresMs }),
    };
    if (declared['x-queue-type'] !== undefined) {
      await channel.assertQueue(queue, { durable: true, arguments: declared });
      return channel;
    }
    try {
      await channel.assertQueue(queue, { durable: true, arguments: { ...declared, 'x-queue-version': 2 } });
      return channel;
    } catch (error) {
      if (!/inequivalent arg 'x-queue-version'/.test((error as Error).message)) throw error;
      const again = await openChannel(model);
      try {
        await again.assertQueue(queue, { durable: true, arguments: declared });
      } catch (refused) {
        void again.close().catch(() => {});
        throw refused;
      }
      return again;
    }
  }

  private exchangeOptions(): amqp.Options.AssertExchange {
    return { durable: true, ...(this.options.expiresMs === undefined ? {} : { autoDelete: true }) };
  }

  private async startConsumer(model: ChannelFactory, state: ConsumerState): Promise<void> {
    await this.assertQueues(model, state.app, state.options.bindings);
    const channel = await openChannel(model);
    await channel.prefetch(state.options.prefetch);
    state.channel = channel;
    const reply = await channel.consume(this.names.queue(state.app), (message) => {
      if (message) void this.deliver(channel, state, message);
    });
    state.tag = reply.consumerTag;
  }

  /** Hands the consumer each message of a broker message (one, or a frame's), and acks it once all are settled. */
  private async deliver(channel: Channel, state: ConsumerState, message: ConsumeMessage): Promise<void> {
    state.inFlight += 1;
    const { [frameHeader]: _ids, ...headers } = message.properties.headers ?? {};
    const parts = unframe(message);
    const attempt = Number(headers[attemptHeader] ?? 0);
    const waiting = headers[waitingHeader];
    let unsettled = parts.length;
    let failed = false;
    const done = (): void => {
      unsettled -= 1;
      if (unsettled > 0) return;
      try {
        // A copy that failed leaves the message unacknowledged: the broker delivers it again.
        // So does a channel closed meanwhile (the ack then throws).
        if (!failed) channel.ack(message);
      } finally {
        state.inFlight -= 1;
        if (state.inFlight === 0) state.onIdle?.();
      }
    };
    const deliveries = parts.map(({ body, messageId }): Delivery => {
      let settled = false;
      const settle = async (work: () => Promise<void> | void): Promise<void> => {
        if (settled) return;
        settled = true;
        try {
          await work();
        } catch (error) {
          failed = true;
          throw error;
        } finally {
          done();
        }
      };
      const copy = async (queue: string, extra: Record<string, unknown>): Promise<void> => {
        // Written on the confirm channel, so the copy is safe before the original is acked.
        const publisher = await this.channel();
        await new Promise<void>((resolve, reject) =>
          publisher.sendToQueue(
            queue,
            body,
            {
              persistent: true,
              contentType: 'application/json',
              ...(messageId ? { messageId } : {}),
              headers: { ...headers, ...extra },
            },
            (error: unknown) => (error ? reject(error) : resolve()),
          ),
        );
      };
      return {
        body,
        messageId,
        attempt,
        waitingSince: waiting === undefined ? undefined : Number(waiting),
        redelivered: message.fields.redelivered,
        framed: parts.length,
        ack: () => settle(() => {}),
        retry: (_error, delayMs) =>
          settle(() => copy(this.names.retry(state.app, this.retryLevel(delayMs)), { [attemptHeader]: attempt + 1 })),
        defer: (delayMs, since) =>
          settle(() => copy(this.names.retry(state.app, this.retryLevel(delayMs)), { [waitingHeader]: since })),
        park: (reason) =>
          settle(() =>
            copy(this.names.parked(state.app), {
              [reasonHeader]: reason,
              [parkedAtHeader]: Date.now(),
              [attemptHeader]: attempt,
            }),
          ),
      };
    });
    await Promise.all(
      deliveries.map(async (delivery) => {
        try {
          await state.handle(delivery);
        } catch (error) {
          await delivery.retry(error as Error, this.retryDelays[0] ?? 1_000).catch(() => {});
        }
      }),
    );
  }

  private retryLevel(delayMs: number): number {
    const level = this.retryDelays.findIndex((d) => d >= delayMs);
    return level === -1 ? this.retryDelays.length - 1 : level;
  }

  async parked(app: string): Promise<ParkedMessage[]> {
    return this.browseParked(app, () => 'keep');
  }

  async retryParked(app: string, messageIds?: readonly string[]): Promise<number> {
    const channel = await this.channel();
    let moved = 0;
    await this.browseParked(app, (m) => {
      if (messageIds && !messageIds.includes(m.messageId ?? '')) return 'keep';
      channel.sendToQueue(this.names.queue(app), m.body, {
        persistent: true,
        contentType: 'application/json',
        ...(m.messageId ? { messageId: m.messageId } : {}),
      });
      moved += 1;
      return 'take';
    });
    await channel.waitForConfirms();
    return moved;
  }

  async dropParked(app: string, messageIds?: readonly string[]): Promise<number> {
    let dropped = 0;
    await this.browseParked(app, (m) => {
      if (messageIds && !messageIds.includes(m.messageId ?? '')) return 'keep';
      dropped += 1;
      return 'take';
    });
    return dropped;
  }

  /** Reads the parked queue through; each message is kept (requeued at the end) or taken (acked). */
  private async browseParked(app: string, decide: (m: ParkedMessage) => 'keep' | 'take'): Promise<ParkedMessage[]> {
    await this.channel();
    const model = this.connection as ChannelFactory;
    let channel = await openChannel(model);
    try {
      const queue = this.names.parked(app);
      channel = await this.assertQueue(model, channel, queue, {});
      const { messageCount } = await channel.checkQueue(queue);
      const seen: ParkedMessage[] = [];
      const held: amqp.GetMessage[] = [];
      for (let i = 0; i < messageCount; i++) {
        const message = await channel.get(queue, { noAck: false });
        if (!message) break;
        const headers = message.properties.headers ?? {};
        const parked: ParkedMessage = {
          messageId: message.properties.messageId as string | undefined,
          reason: String(headers[reasonHeader] ?? ''),
          attempts: Number(headers[attemptHeader] ?? 0),
          parkedAt: Number(headers[parkedAtHeader] ?? 0),
          body: message.content,
        };
        seen.push(parked);
        if (decide(parked) === 'take') channel.ack(message);
        else held.push(message);
      }
      // Requeued together at the end, so that they keep their order and are not read twice.
      for (const message of held) channel.nack(message, false, true);
      return seen;
    } finally {
      await channel.close().catch(() => {});
    }
  }

  async stats(app: string): Promise<QueueStats | undefined> {
    const retries = this.retryDelays.map((_, level) => this.names.retry(app, level));
    const [main, parked, ...retrying] = await this.checkQueues([
      this.names.queue(app),
      this.names.parked(app),
      ...retries,
    ]);
    if (!main) return undefined;
    return {
      ready: main.messageCount,
      retrying: retrying.reduce((sum, q) => sum + (q?.messageCount ?? 0), 0),
      parked: parked?.messageCount ?? 0,
      consumers: main.consumerCount,
    };
  }

  /**
   * Reads queues passively (never declaring them): `undefined` for a queue that does not
   * exist. The broker closes the channel on a missing queue, so the next check opens another.
   */
  private async checkQueues(queues: readonly string[]): Promise<(amqp.Replies.AssertQueue | undefined)[]> {
    await this.channel();
    const found: (amqp.Replies.AssertQueue | undefined)[] = [];
    let channel: Channel | undefined;
    try {
      for (const queue of queues) {
        channel ??= await openChannel(this.connection as ChannelFactory);
        try {
          found.push(await channel.checkQueue(queue));
        } catch {
          found.push(undefined);
          channel = undefined;
        }
      }
    } finally {
      await channel?.close().catch(() => {});
    }
    return found;
  }

  healthy(): boolean {
    return this.connected && this.publishChannel !== undefined && !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const consumer of this.consumers) consumer.stopped = true;
    await this.connection?.close().catch(() => {});
  }
}

interface Frame {
  readonly routingKeys: readonly string[];
  readonly messages: OutgoingMessage[];
}

/**
 * Groups messages under the same routing keys into frames of at most `size` messages (and
 * {@link frameBytes}), in their order: each queue then gets exactly the messages it would
 * have got one by one.
 */
export function frames(messages: readonly OutgoingMessage[], size: number): Frame[] {
  const open = new Map<string, Frame & { bytes: number }>();
  const out: Frame[] = [];
  for (const message of messages) {
    const routingKeys = [...message.routingKeys].sort();
    // A body with a newline of its own (not one the runtime wrote) travels alone.
    const signature = message.body.includes(newline) ? undefined : routingKeys.join(' ');
    let frame = signature === undefined ? undefined : open.get(signature);
    if (
      signature === undefined ||
      !frame ||
      frame.messages.length >= size ||
      frame.bytes + message.body.length > frameBytes
    ) {
      frame = { routingKeys, messages: [], bytes: 0 };
      if (signature !== undefined) open.set(signature, frame);
      out.push(frame);
    }
    frame.messages.push(message);
    frame.bytes += message.body.length + 1;
  }
  return out;
}

const newline = 0x0a;

/** A channel whose errors (a refused declaration, say) reach its callers as rejections, never the process. */
async function openChannel(model: ChannelFactory): Promise<Channel> {
  const channel = await model.createChannel();
  channel.on('error', () => {});
  return channel;
}

function drainedOrClosed(channel: Channel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.once('drain', done);
    channel.once('close', done);
  });
}

function joinLines(bodies: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const body of bodies) {
    if (parts.length > 0) parts.push(Buffer.of(newline));
    parts.push(body);
  }
  return Buffer.concat(parts);
}

/** The messages a broker message carries, with their ids: one, or a frame's. */
export function unframe(message: Pick<ConsumeMessage, 'content' | 'properties'>): {
  body: Buffer;
  messageId: string | undefined;
}[] {
  const ids = message.properties.headers?.[frameHeader];
  if (!Array.isArray(ids))
    return [{ body: message.content, messageId: message.properties.messageId as string | undefined }];
  return splitLines(message.content).map((body, i) => ({ body, messageId: String(ids[i] ?? '') || undefined }));
}

function splitLines(content: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let end = content.indexOf(newline); end !== -1; end = content.indexOf(newline, start)) {
    out.push(content.subarray(start, end));
    start = end + 1;
  }
  out.push(content.subarray(start));
  return out;
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
