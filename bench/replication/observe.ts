/**
 * What the replication benchmark's pipelines note as a write passes: when each operation was
 * published, delivered and applied, and what the subscriber spent.
 */
import type { Delivery, Envelope, Transport } from '../../src/runtime/index.js';
import { AppliedKeys, now, type QueryStats, type ShapeStat } from '../lib/index.js';

/** When each key first passed a point (published, delivered); `take` hands them over. */
export class Stamps {
  private entries = new Map<string, number>();
  /** Publisher confirms awaited: how many messages each wait covered, and how long it took. */
  confirms: [messages: number, ms: number][] = [];

  note(key: string, at: number): void {
    if (!this.entries.has(key)) this.entries.set(key, at);
  }

  take(): [string, number][] {
    const out = [...this.entries];
    this.entries = new Map();
    return out;
  }

  takeConfirms(): [number, number][] {
    const out = this.confirms;
    this.confirms = [];
    return out;
  }
}

/** The keys (object id and version) of the operations an envelope carries. */
function envelopeKeys(body: Buffer): string[] {
  const envelope = JSON.parse(body.toString('utf8')) as Envelope;
  return envelope.operations.map((op) => `${op.id}:${op.version}`);
}

/** A transport that notes when the relay hands each operation to the broker. */
export function stamping(transport: Transport, published: Stamps): Transport {
  return {
    publish: async (messages) => {
      const at = now();
      for (const message of messages) for (const key of envelopeKeys(message.body)) published.note(key, at);
      await transport.publish(messages);
      published.confirms.push([messages.length, now() - at]);
    },
    consume: (app, options, handle) => transport.consume(app, options, handle),
    listen: (handle) => transport.listen(handle),
    reply: (address, message) => transport.reply(address, message),
    parked: (app) => transport.parked(app),
    retryParked: (app, ids) => transport.retryParked(app, ids),
    dropParked: (app, ids) => transport.dropParked(app, ids),
    healthy: () => transport.healthy(),
    close: () => transport.close(),
  };
}

/**
 * A transport that notes when each operation is delivered to the subscriber and when it is
 * applied: at its acknowledgement, which follows the commit.
 */
export function recording(
  transport: Transport,
  delivered: (keys: readonly string[]) => void,
  applied: (keys: readonly string[]) => void,
  deferred: () => void,
): Transport {
  return {
    publish: (messages) => transport.publish(messages),
    listen: (handle) => transport.listen(handle),
    reply: (address, message) => transport.reply(address, message),
    consume: (app, options, handle) =>
      transport.consume(app, options, (d) => {
        let keys: string[] = [];
        try {
          keys = envelopeKeys(d.body);
        } catch {
          // Malformed: the subscriber parks it.
        }
        delivered(keys);
        return handle({
          body: d.body,
          messageId: d.messageId,
          signature: d.signature,
          ...(d.framed === undefined ? {} : { framed: d.framed }),
          attempt: d.attempt,
          waitingSince: d.waitingSince,
          redelivered: d.redelivered,
          ack: () => {
            applied(keys);
            return d.ack();
          },
          retry: (error, delayMs) => d.retry(error, delayMs),
          defer: (delayMs, since) => {
            deferred();
            return d.defer(delayMs, since);
          },
          park: (reason) => d.park(reason),
        } satisfies Delivery);
      }),
    parked: (app) => transport.parked(app),
    retryParked: (app, ids) => transport.retryParked(app, ids),
    dropParked: (app, ids) => transport.dropParked(app, ids),
    healthy: () => transport.healthy(),
    close: () => transport.close(),
  };
}

/** What a subscriber process reports: when each key was applied, and what it cost. */
export interface Applied {
  readonly applied: [string, number][];
  /** When each key was first handed to the subscriber by the broker. */
  readonly delivered: [string, number][];
  /** Distinct keys applied since the start. */
  readonly total: number;
  readonly deferred: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly messages: number;
  readonly queries: Record<string, ShapeStat>;
}

/**
 * What a subscriber applied and noted since the previous `take`; every key applied so far counts
 * toward `until`. Shared by both subscribers.
 */
export class AppliedLog {
  readonly keys = new AppliedKeys();
  readonly delivered = new Stamps();
  messages = 0;
  deferred = 0;
  errors = 0;
  firstError: string | undefined;

  readonly noteError = (error: Error): void => {
    this.errors += 1;
    this.firstError ??= error.message;
  };

  take(stats: QueryStats): Applied {
    const out: Applied = {
      applied: this.keys.take(),
      delivered: this.delivered.take(),
      total: this.keys.total,
      deferred: this.deferred,
      errors: this.errors,
      ...(this.firstError ? { firstError: this.firstError } : {}),
      messages: this.messages,
      queries: stats.snapshot(),
    };
    this.messages = 0;
    this.deferred = 0;
    this.errors = 0;
    this.firstError = undefined;
    stats.reset();
    return out;
  }

  /** The commands of a subscriber process. */
  commands(stats: QueryStats): Record<'until' | 'take', (args: never) => unknown> {
    return {
      until: (args: { count: number; timeoutMs: number }) => this.keys.until(args.count, args.timeoutMs),
      take: () => this.take(stats),
    };
  }
}
