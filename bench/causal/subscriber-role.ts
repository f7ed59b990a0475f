/**
 * The causal benchmark's subscriber process: one queue and database, a `Subscriber` in the mode
 * the coordinator asks for (stopped and a new one started between phases).
 */
import type { Knex } from 'knex';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';
import { AmqpTransport, type Delivery, Metrics, Subscriber, type Transport } from '../../src/runtime/index.js';
import {
  AppliedKeys,
  connect,
  deliveredOperations,
  now,
  QueryStats,
  type Role,
  services,
  type ShapeStat,
  wrapConsume,
} from '../lib/index.js';
import type { Mode, SubscriberInit } from './settings.js';

export interface Applied {
  readonly applied: [string, number][];
  readonly total: number;
  readonly messages: number;
  /** Times a transaction found a message's dependency missing (the subscriber's own metric). */
  readonly misses: number;
  /** Delivery to acknowledgement, ms, of each message applied. */
  readonly handledMs: number[];
  readonly deferred: number;
  /** Database transactions the subscriber ran to apply messages. */
  readonly attempts: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly queries: Record<string, ShapeStat>;
}

export async function subscriberRole(init: SubscriberInit): Promise<Role> {
  const db: Knex = connect(init.db);
  const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  const side = new SubscriberSide(db, transport, init.prefetch);
  return {
    commands: {
      mode: (args: { mode: Mode | null }) => side.setMode(args.mode),
      until: (args: { count: number; timeoutMs: number }) => side.keys.until(args.count, args.timeoutMs),
      take: () => side.take(),
    },
    async close() {
      await side.setMode(null);
      await transport.close();
      await db.destroy();
    },
  };
}

class SubscriberSide {
  readonly keys = new AppliedKeys();
  private readonly stats = new QueryStats();
  /** The subscriber's own metrics, for its count of dependency misses. */
  private readonly metrics = new Metrics();
  private readonly recording: Transport;
  private subscriber: Subscriber | undefined;
  private missesTaken = 0;
  private messages = 0;
  private deferred = 0;
  private attempts = 0;
  private errors = 0;
  private firstError: string | undefined;
  /** How long each message took from delivery to acknowledgement. */
  private handledMs: number[] = [];

  constructor(
    private readonly db: Knex,
    transport: Transport,
    private readonly prefetch: number | undefined,
  ) {
    this.stats.attach(db, (shape) => {
      if (shape === 'BEGIN') this.attempts += 1;
    });
    // The transport, with every delivery counted at its end.
    this.recording = wrapConsume(transport, (d, handle) => {
      const keys = deliveredOperations(d.body).map((op) => `${op.id}:${op.version}`);
      const at = now();
      const delivery: Delivery = {
        ...d,
        ack: () => {
          this.handledMs.push(now() - at);
          this.messages += 1;
          this.keys.add(keys, now());
          return d.ack();
        },
        defer: (delayMs, since) => {
          this.deferred += 1;
          return d.defer(delayMs, since);
        },
      };
      return handle(delivery);
    });
  }

  /** Stops the subscriber and starts one in `mode` (none: stopped); returns when it started. */
  async setMode(mode: Mode | null): Promise<number> {
    await this.subscriber?.stop();
    this.subscriber = undefined;
    if (mode === null) return now();
    this.subscriber = new Subscriber({
      schema: sniper,
      knex: this.db,
      transport: this.recording,
      mode,
      metrics: this.metrics,
      ...(this.prefetch ? { prefetch: this.prefetch } : {}),
      errorNotifier: (error) => {
        this.errors += 1;
        this.firstError ??= error.message;
      },
    });
    const at = now();
    await this.subscriber.start();
    return at;
  }

  async take(): Promise<Applied> {
    const misses = (await this.metrics.dependencyMisses.get()).values.reduce((n, v) => n + v.value, 0);
    const out: Applied = {
      applied: this.keys.take(),
      total: this.keys.total,
      messages: this.messages,
      misses: misses - this.missesTaken,
      handledMs: this.handledMs,
      deferred: this.deferred,
      attempts: this.attempts,
      errors: this.errors,
      ...(this.firstError ? { firstError: this.firstError } : {}),
      queries: this.stats.snapshot(),
    };
    this.messages = 0;
    this.missesTaken = misses;
    this.handledMs = [];
    this.deferred = 0;
    this.attempts = 0;
    this.errors = 0;
    this.firstError = undefined;
    this.stats.reset();
    return out;
  }
}
