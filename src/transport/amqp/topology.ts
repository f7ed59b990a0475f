/**
 * Every exchange, queue and binding, named and declared here. One durable topic exchange
 * carries all apps' messages; each subscribing app has its own durable queue (so a change fans
 * out to every app), retry queues that dead-letter back to it after a delay, and a parked
 * queue. A declaration the broker refuses closes its channel, so declarations run on channels
 * of their own, never on the publishing one.
 */
import type { Channel, Replies } from 'amqplib';
import { TopologyError } from '../../common/errors.js';
import type { QueueStats } from '../transport.js';
import { type ChannelFactory, openChannel } from './connection.js';
import type { AmqpOptions } from './options.js';

/** The delay of each retry queue, shortest first, unless the options say otherwise. */
export const defaultRetryDelaysMs: readonly number[] = [200, 1_000, 5_000, 30_000, 120_000, 600_000];

export interface Names {
  readonly exchange: string;
  queue(app: string): string;
  retry(app: string, level: number): string;
  /** An app's retry queues, one per delay (by default, one per default delay). */
  retries(app: string, levels?: number): string[];
  parked(app: string): string;
}

export function names(namespace: string): Names {
  return {
    exchange: namespace,
    queue: (app) => `${namespace}.${app}`,
    retry: (app, level) => `${namespace}.${app}.retry.${level}`,
    retries: (app, levels = defaultRetryDelaysMs.length) =>
      Array.from({ length: levels }, (_, level) => `${namespace}.${app}.retry.${level}`),
    parked: (app) => `${namespace}.${app}.parked`,
  };
}

export class Topology {
  readonly names: Names;
  /** The delay of each retry queue, shortest first. */
  readonly retryDelays: readonly number[];

  constructor(private readonly options: AmqpOptions) {
    this.names = names(options.namespace ?? 'promiscuous');
    this.retryDelays = options.retryDelaysMs ?? defaultRetryDelaysMs;
  }

  async declareExchange(channel: Channel): Promise<void> {
    await channel
      .assertExchange(this.names.exchange, 'topic', {
        durable: true,
        ...(this.options.expiresMs === undefined ? {} : { autoDelete: true }),
      })
      .catch(rethrowRefused('exchange', this.names.exchange));
  }

  /** Declares an app's queues and bindings, on a channel of their own. */
  async declareApp(model: ChannelFactory, app: string, bindings: readonly string[]): Promise<void> {
    const queue = this.names.queue(app);
    let channel = await openChannel(model);
    try {
      await this.declareExchange(channel);
      channel = await this.declareQueue(model, channel, queue, this.options.quorum ? { 'x-queue-type': 'quorum' } : {});
      for (const binding of bindings) await channel.bindQueue(queue, this.names.exchange, binding);
      channel = await this.declareCopyQueues(model, channel, app);
    } finally {
      // Not awaited: amqplib settles a close only on the broker's answer, which a connection
      // lost meanwhile never brings, and the reconnection's setup runs this.
      void channel.close().catch(() => {});
    }
  }

  /**
   * Declares an app's retry and parked queues again, on a channel of their own: an operator
   * may have deleted one, or its expiry (`expiresMs`) removed it, since the app's consumer
   * declared them.
   */
  async redeclareCopyQueues(model: ChannelFactory, app: string): Promise<void> {
    let channel = await openChannel(model);
    try {
      channel = await this.declareCopyQueues(model, channel, app);
    } finally {
      void channel.close().catch(() => {});
    }
  }

  /** The queues a delivery's copies go to: the retry queues and the parked queue. */
  private async declareCopyQueues(model: ChannelFactory, channel: Channel, app: string): Promise<Channel> {
    for (const [level, delay] of this.retryDelays.entries()) {
      // A retry waits out its TTL in a queue nobody consumes, then dead-letters back to the app's queue.
      channel = await this.declareQueue(model, channel, this.names.retry(app, level), {
        'x-message-ttl': delay,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': this.names.queue(app),
      });
    }
    return this.declareQueue(model, channel, this.names.parked(app), {});
  }

  /**
   * Declares a durable queue; a classic one as version 2 (RabbitMQ 3.10 and later: its newer
   * index and store, which cost the broker about a quarter less CPU a persistent message and
   * confirm it sooner). A queue that an earlier release declared without a version is kept as
   * it is: the broker refuses to declare it with other arguments and closes the channel, so
   * the queue is declared again as it was, on a new channel, which is returned. That happens
   * at every start; a policy (`queue-version`) converts such a queue's storage in place.
   */
  async declareQueue(
    model: ChannelFactory,
    channel: Channel,
    queue: string,
    args: Record<string, unknown>,
  ): Promise<Channel> {
    const declared: Record<string, unknown> = {
      ...args,
      ...(this.options.expiresMs === undefined ? {} : { 'x-expires': this.options.expiresMs }),
    };
    const refused = rethrowRefused('queue', queue);
    if (declared['x-queue-type'] !== undefined) {
      await channel.assertQueue(queue, { durable: true, arguments: declared }).catch(refused);
      return channel;
    }
    try {
      await channel.assertQueue(queue, { durable: true, arguments: { ...declared, 'x-queue-version': 2 } });
      return channel;
    } catch (error) {
      if (!/inequivalent arg 'x-queue-version'/.test((error as Error).message)) refused(error);
      const again = await openChannel(model);
      try {
        await again.assertQueue(queue, { durable: true, arguments: declared });
      } catch (error) {
        void again.close().catch(() => {});
        refused(error);
      }
      return again;
    }
  }

  /** The retry queue whose delay is the shortest at least `delayMs` (the longest when none is). */
  retryQueue(app: string, delayMs: number): string {
    const level = this.retryDelays.findIndex((d) => d >= delayMs);
    return this.names.retry(app, level === -1 ? this.retryDelays.length - 1 : level);
  }

  /** The depths of an app's queues, read without declaring anything; `undefined` when its queue does not exist. */
  async stats(model: ChannelFactory, app: string): Promise<QueueStats | undefined> {
    const retries = this.retryDelays.map((_, level) => this.names.retry(app, level));
    const [main, parked, ...retrying] = await checkQueues(model, [
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
}

/**
 * Reads queues passively (never declaring them): `undefined` for a queue that does not
 * exist. The broker closes the channel on a missing queue, so the next check opens another.
 */
async function checkQueues(
  model: ChannelFactory,
  queues: readonly string[],
): Promise<(Replies.AssertQueue | undefined)[]> {
  const found: (Replies.AssertQueue | undefined)[] = [];
  let channel: Channel | undefined;
  try {
    for (const queue of queues) {
      channel ??= await openChannel(model);
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

/** The option of the transport that sets each argument a declaration may find different. */
const optionOf: Record<string, string> = {
  'x-queue-type': '`quorum`',
  'x-message-ttl': '`retryDelaysMs`',
  'x-expires': '`expiresMs` (PROMISCUOUS_QUEUE_EXPIRES_MS)',
  auto_delete: '`expiresMs` (PROMISCUOUS_QUEUE_EXPIRES_MS)',
};

/**
 * Rethrows a declaration's failure; a refusal because the queue or exchange exists with other
 * arguments (PRECONDITION_FAILED, which retrying never cures) as a TopologyError that names
 * it, the argument that differs, and the two ways out.
 */
function rethrowRefused(kind: 'queue' | 'exchange', name: string): (error: unknown) => never {
  return (error) => {
    const found =
      /inequivalent arg '([^']+)' for \w+ '[^']*' in vhost '([^']*)': received (.+) but current is (.+?)"?$/.exec(
        (error as Error).message,
      );
    if (!found) throw error;
    const [, arg = '', vhost = '', ours = '', theirs = ''] = found;
    const value = (v: string) => v.replace(/^the value /, '').replace(/ of type '[^']*'$/, '');
    const remove =
      kind === 'queue'
        ? `\`rabbitmqctl delete_queue ${vhost === '/' ? '' : `-p ${vhost} `}${name}\`; its messages go with it`
        : 'in the management UI, or with rabbitmqadmin; each consumer binds its queue again as it starts';
    const option = optionOf[arg];
    const fix = option
      ? `Delete it (${remove}), or declare it with the same arguments: ${option} must be the same in every process of the namespace.`
      : `Delete it (${remove}) and start again, so that it is declared as this process declares it.`;
    throw new TopologyError(
      `RabbitMQ already has the ${kind} \`${name}\` with other arguments (PRECONDITION_FAILED): its ${arg} is ${value(theirs)}, this process declares ${value(ours)}. ${fix}`,
      { cause: error },
    );
  };
}
