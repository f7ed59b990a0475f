/**
 * The suite's own hands on RabbitMQ: a tap that sees every message published to the run's
 * exchange (to count them, to prove none carries a rolled-back row, and to keep copies), the
 * duplication and reordering of those copies, queue depths for quiescence, and restarts.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { promisify } from 'node:util';
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { Envelope, OperationMessage } from '../../src/runtime/index.js';
import { unframe } from '../../src/transport/amqp/frames.js';
import { names } from '../../src/transport/amqp/topology.js';
import type { Random } from './random.js';
import { rollbackMarker } from './world.js';

const copyHeader = 'x-chaos-copy';

/**
 * Every call of the orchestrator's on the broker ends within this time: a connection opened
 * while RabbitMQ stops or starts can hang in its handshake, and a hung call would stop the
 * fault scheduler or the back-pressure loop for good.
 */
const brokerCallMs = 15_000;

/** `work`, or a rejection after `ms`. */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Copy {
  readonly routingKey: string;
  readonly content: Buffer;
  readonly properties: ConsumeMessage['properties'];
}

/**
 * Copies of published messages, sent again later: a duplicate arrives after newer messages of
 * the same objects, and a reordered burst arrives shuffled. The copies go to the exchange
 * under the original's routing key and `CC` keys, as the relay sent them, so every queue the
 * original reached gets one. The tap is an exclusive queue: it disappears with its
 * connection and comes back on reconnection; what is published meanwhile it does not see.
 * Every message it sees it writes to its log, with the operations it carries, so that a row
 * that ends up differing can be followed from the exchange through the workers' traces.
 */
export class Tap {
  private connection: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private readonly recent: Copy[] = [];
  private closed = false;
  /** Messages seen on the exchange. */
  seen = 0;
  /** Of those, by kind: `change`, `resync` (requests), `sync` (answers). */
  readonly kinds = new Map<string, number>();
  /** Messages seen that carry a row of a rolled-back transaction. */
  rolledBack = 0;
  copies = 0;
  private readonly log: WriteStream;

  constructor(
    private readonly url: string,
    private readonly namespace: string,
    logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    while (!this.closed) {
      try {
        const connection = await amqp.connect(this.url, { clientProperties: { connection_name: 'chaos tap' } });
        connection.on('error', () => {});
        connection.on('close', () => {
          this.channel = undefined;
          if (!this.closed) setTimeout(() => void this.connect(), 500);
        });
        const channel = await connection.createConfirmChannel();
        channel.on('error', () => {});
        const exchange = names(this.namespace).exchange;
        await channel.assertExchange(exchange, 'topic', { durable: true });
        const { queue } = await channel.assertQueue('', { exclusive: true, arguments: { 'x-max-length': 10_000 } });
        await channel.bindQueue(queue, exchange, '#');
        await channel.consume(queue, (message) => message && this.observe(message), { noAck: true });
        this.connection = connection;
        this.channel = channel;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private observe(message: ConsumeMessage): void {
    if (message.properties.headers?.[copyHeader]) return;
    // A frame carries several messages (see the AMQP transport).
    const parts = unframe(message);
    const lines = parts.map((m) => m.body.toString('utf8'));
    const count = lines.length;
    const time = new Date().toISOString().slice(11, 23);
    parts.forEach(({ messageId }, i) =>
      this.log.write(`${time} ${messageId} ${message.fields.routingKey} ${describeMessage(lines[i] as string)}\n`),
    );
    this.seen += count;
    // `resync.<publisher>` requests, `sync.<subscriber>` answers, `<app>.<type>.<operation>` changes.
    const words = message.fields.routingKey.split('.');
    const kind = words.length === 2 ? (words[0] as string) : 'change';
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + count);
    this.rolledBack += lines.filter((line) => line.includes(rollbackMarker)).length;
    this.recent.push({
      routingKey: message.fields.routingKey,
      content: message.content,
      properties: message.properties,
    });
    if (this.recent.length > 500) this.recent.shift();
  }

  /** Sends again one message published earlier, seconds ago or just now. */
  async duplicate(rng: Random): Promise<boolean> {
    if (this.recent.length === 0) return false;
    return this.send([rng.pick(this.recent)]);
  }

  /** Sends again a few messages of the last hundred, in a shuffled order. */
  async reorder(rng: Random): Promise<number> {
    const window = this.recent.slice(-100);
    if (window.length < 2) return 0;
    const burst = rng.shuffle(window).slice(0, rng.int(2, Math.min(8, window.length)));
    return (await this.send(burst)) ? burst.length : 0;
  }

  private async send(messages: readonly Copy[]): Promise<boolean> {
    const channel = this.channel;
    if (!channel) return false;
    try {
      for (const m of messages) {
        channel.publish(names(this.namespace).exchange, m.routingKey, m.content, {
          persistent: true,
          contentType: m.properties.contentType as string | undefined,
          messageId: m.properties.messageId as string | undefined,
          headers: { ...m.properties.headers, [copyHeader]: 1 },
        });
      }
      await within(brokerCallMs, "the tap's confirms", channel.waitForConfirms());
      this.copies += messages.length;
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connection?.close().catch(() => {});
    await new Promise((resolve) => this.log.end(resolve));
  }
}

/** A message's operations as the workers' traces name them: `destroy Customer 41 v2`. */
export function describeOperations(operations: readonly OperationMessage[]): string[] {
  return operations.map((op) => `${op.operation} ${op.types[0]} ${op.id} v${op.version}`);
}

function describeMessage(body: string): string {
  try {
    // A change or a sync answer has operations; a re-sync request does not.
    const message = JSON.parse(body) as Partial<Envelope>;
    if (message.operations) return JSON.stringify(describeOperations(message.operations));
    return body.slice(0, 300);
  } catch {
    return `(not JSON) ${body.slice(0, 100)}`;
  }
}

/** Messages waiting in the app's queue, its retry queues and its parked queue. */
export async function queueDepths(
  url: string,
  namespace: string,
  apps: readonly string[],
): Promise<Map<string, number>> {
  const n = names(namespace);
  let connection: ChannelModel | undefined;
  const work = async () => {
    connection = await amqp.connect(url, { timeout: brokerCallMs });
    connection.on('error', () => {});
    return depthsOn(connection, n, apps);
  };
  try {
    return await within(brokerCallMs, 'queue depths', work());
  } finally {
    // Not awaited: closing a connection to a broker that stopped answering can hang as well.
    void connection?.close().catch(() => {});
  }
}

async function depthsOn(
  connection: ChannelModel,
  n: ReturnType<typeof names>,
  apps: readonly string[],
): Promise<Map<string, number>> {
  const depths = new Map<string, number>();
  for (const app of apps) {
    for (const queue of [n.queue(app), ...[0, 1, 2, 3, 4, 5].map((l) => n.retry(app, l)), n.parked(app)]) {
      // A channel per check: checking a queue that does not exist closes the channel.
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      try {
        depths.set(queue, (await channel.checkQueue(queue)).messageCount);
        await channel.close();
      } catch (error) {
        // A queue nobody declared yet holds nothing; any other failure means the depth is unknown.
        if ((error as { code?: number }).code !== 404) throw error;
        depths.set(queue, 0);
      }
    }
  }
  return depths;
}

/** Deletes the run's exchange and every queue named under its namespace. */
export async function deleteTopology(url: string, namespace: string, apps: readonly string[]): Promise<void> {
  const n = names(namespace);
  const connection = await amqp.connect(url);
  connection.on('error', () => {});
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    for (const app of apps) {
      for (const queue of [n.queue(app), ...[0, 1, 2, 3, 4, 5].map((l) => n.retry(app, l)), n.parked(app)]) {
        await channel.deleteQueue(queue);
      }
    }
    await channel.deleteExchange(n.exchange);
    await channel.close();
  } finally {
    await connection.close().catch(() => {});
  }
}

const run = promisify(execFile);

/**
 * Stops and starts the RabbitMQ application (the node keeps running): every connection drops,
 * durable queues and persistent messages survive. Resolves to how long RabbitMQ was away.
 */
export async function restartRabbitMq(): Promise<number> {
  const started = Date.now();
  await run('rabbitmqctl', ['stop_app'], { timeout: 60_000 });
  await run('rabbitmqctl', ['start_app'], { timeout: 120_000 });
  return Date.now() - started;
}
