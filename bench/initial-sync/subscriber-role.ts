/**
 * The initial-sync benchmark's subscriber process: a `Subscriber` with its defaults (causal
 * mode, prefetch 5), and which of the loaded rows it holds, second by second.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';
import {
  AmqpTransport,
  type Delivery,
  type Logger,
  silentLogger,
  Subscriber,
  type Transport,
} from '../../src/runtime/index.js';
import {
  connect,
  type DeliveredOperation,
  deliveredOperations,
  now,
  percentile,
  QueryStats,
  type Role,
  services,
  type ShapeStat,
  shape,
  wrapConsume,
} from '../lib/index.js';
import { bulkPrefix, type SubscriberInit } from './settings.js';

/** Deliveries of one kind (sync or live messages), and how long they held a prefetch slot. */
export interface SlotUse {
  deliveries: number;
  /** Database transactions run for them: more than one for a delivery that waited for a dependency. */
  transactions: number;
  ms: number;
  /** Deliveries that found a dependency missing (more than one transaction, or deferred), and their time. */
  waited: number;
  waitedMs: number;
}

export interface SubscriberStats {
  readonly slots: Record<'sync' | 'live', SlotUse>;
  /** Loaded rows (users and organizations) the subscriber holds. */
  readonly held: number;
  /** [held, at] every second since the subscriber started (at `startedAt` on the monotonic clock). */
  readonly timeline: [number, number][];
  readonly startedAt: number;
  readonly syncMessages: number;
  readonly liveMessages: number;
  /** Delivery to acknowledgement of sync messages, ms. */
  readonly syncP50: number;
  readonly syncP99: number;
  readonly deferred: number;
  readonly resyncRequests: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Statements the database rolled back to break a deadlock, by table. */
  readonly deadlocks: Record<string, number>;
  readonly queries: Record<string, ShapeStat>;
}

export async function subscriberRole(init: SubscriberInit): Promise<Role> {
  const db: Knex = connect(init.db);
  const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  const side = new SubscriberSide(init, db, transport);
  const subscriber = new Subscriber({
    schema: sniper,
    knex: db,
    transport: side.recording,
    errorNotifier: side.noteError,
    logger: side.counting,
  });
  await subscriber.start();
  const started = now();
  const ticker = setInterval(() => side.timeline.push([side.holdings.held, now() - started]), 1000);
  ticker.unref();
  return {
    commands: {
      until: ({ timeoutMs }: { timeoutMs: number }) => side.holdings.until(timeoutMs),
      stats: () => side.stats(started),
    },
    async close() {
      clearInterval(ticker);
      await subscriber.stop();
      await transport.close();
      await db.destroy();
    },
  };
}

/** Which of the loaded rows (users and organizations) the subscriber holds, with waiters for all of them. */
class Holdings {
  private readonly users: Uint8Array;
  private readonly orgs: Uint8Array;
  held = 0;
  private heldAt: number | undefined;
  private readonly waiters: ((at: number) => void)[] = [];

  constructor(private readonly init: SubscriberInit) {
    this.users = new Uint8Array(init.rows + 1);
    this.orgs = new Uint8Array(init.orgs + 1);
  }

  hold(operations: readonly DeliveredOperation[]): void {
    for (const op of operations) {
      if (op.endpoint === 'crowdtap/organization') {
        const i = Number(op.id);
        if (i >= 1 && i <= this.init.orgs && this.orgs[i] === 0) {
          this.orgs[i] = 1;
          this.held += 1;
        }
      } else if (op.id.startsWith(bulkPrefix)) {
        const i = Number.parseInt(op.id.slice(bulkPrefix.length), 16);
        if (i >= 1 && i <= this.init.rows && this.users[i] === 0) {
          this.users[i] = 1;
          this.held += 1;
        }
      }
    }
    if (this.held >= this.init.rows + this.init.orgs && this.heldAt === undefined) {
      const at = now();
      this.heldAt = at;
      for (const wake of this.waiters.splice(0)) wake(at);
    }
  }

  /** When the subscriber held every loaded row, or null if it did not within `timeoutMs`. */
  async until(timeoutMs: number): Promise<number | null> {
    if (this.heldAt !== undefined) return this.heldAt;
    return new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      this.waiters.push((at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }
}

class SubscriberSide {
  readonly holdings: Holdings;
  readonly recording: Transport;
  readonly timeline: [number, number][] = [];
  resyncRequests = 0;
  /** Counts the re-sync requests the subscriber logs. */
  readonly counting: Logger = {
    ...silentLogger,
    warn: (_fields: unknown, message?: string) => {
      if (message?.startsWith('asking the publisher to re-sync')) this.resyncRequests += 1;
    },
    child: () => this.counting,
  };
  private readonly queries = new QueryStats();
  private readonly handling = new AsyncLocalStorage<{ begins: number }>();
  /** Deliveries handled, the transactions they ran, and the time they held one of the prefetch slots. */
  private readonly slots: Record<'sync' | 'live', SlotUse> = {
    sync: { deliveries: 0, transactions: 0, ms: 0, waited: 0, waitedMs: 0 },
    live: { deliveries: 0, transactions: 0, ms: 0, waited: 0, waitedMs: 0 },
  };
  private syncMessages = 0;
  private liveMessages = 0;
  private readonly syncMs: number[] = [];
  private deferred = 0;
  private errors = 0;
  private firstError: string | undefined;
  private readonly deadlocks: Record<string, number> = {};

  constructor(init: SubscriberInit, db: Knex, transport: Transport) {
    this.holdings = new Holdings(init);
    // Counted as the driver reports them, whatever the subscriber then does with them.
    db.on('query-error', (error: { code?: string }, q: { sql: string }) => {
      if (error.code !== 'ER_LOCK_DEADLOCK' && error.code !== '40P01') return;
      const table = shape(q.sql).split(' ')[1] ?? '?';
      this.deadlocks[table] = (this.deadlocks[table] ?? 0) + 1;
    });
    this.queries.attach(db, (shape) => {
      const h = shape === 'BEGIN' ? this.handling.getStore() : undefined;
      if (h) h.begins += 1;
    });
    this.recording = wrapConsume(transport, (d, handle) => this.observe(d, handle));
  }

  readonly noteError = (error: Error): void => {
    this.errors += 1;
    this.firstError ??= error.message;
  };

  private observe(d: Delivery, handle: (d: Delivery) => Promise<void>): Promise<void> {
    const operations = deliveredOperations(d.body);
    const at = now();
    const sync = operations.some((op) => op.operation === 'sync');
    const h = { begins: 0, deferred: false };
    const delivery: Delivery = {
      ...d,
      ack: () => {
        this.holdings.hold(operations);
        if (sync) {
          this.syncMessages += 1;
          this.syncMs.push(now() - at);
        } else this.liveMessages += 1;
        return d.ack();
      },
      defer: (delayMs, since) => {
        this.deferred += 1;
        h.deferred = true;
        return d.defer(delayMs, since);
      },
    };
    return this.handling
      .run(h, () => handle(delivery))
      .finally(() => {
        const ms = now() - at;
        const kind = sync ? this.slots.sync : this.slots.live;
        kind.deliveries += 1;
        kind.transactions += h.begins;
        kind.ms += ms;
        if (h.begins > 1 || h.deferred) {
          kind.waited += 1;
          kind.waitedMs += ms;
        }
      });
  }

  stats(startedAt: number): SubscriberStats {
    const sorted = [...this.syncMs].sort((a, b) => a - b);
    return {
      slots: structuredClone(this.slots),
      held: this.holdings.held,
      timeline: [...this.timeline],
      startedAt,
      syncMessages: this.syncMessages,
      liveMessages: this.liveMessages,
      syncP50: percentile(sorted, 0.5),
      syncP99: percentile(sorted, 0.99),
      deferred: this.deferred,
      resyncRequests: this.resyncRequests,
      errors: this.errors,
      ...(this.firstError ? { firstError: this.firstError } : {}),
      deadlocks: { ...this.deadlocks },
      queries: this.queries.snapshot(),
    };
  }
}
