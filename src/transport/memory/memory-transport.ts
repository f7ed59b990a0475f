import { topicMatches } from '../../common/topic.js';
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

interface Stored {
  readonly messageId: string;
  readonly body: Buffer;
  readonly signature?: string | undefined;
  readonly attempt: number;
  readonly waitingSince?: number;
}

interface Queue {
  bindings: readonly string[];
  readonly ready: Stored[];
  readonly parked: ParkedMessage[];
  /** Messages waiting out a retry or defer delay. */
  delayed: number;
  consumer?: {
    prefetch: number;
    inFlight: number;
    stopped: boolean;
    handle: (d: Delivery) => Promise<void>;
    idle: () => void;
  };
}

/**
 * An in-process broker with the AMQP transport's behaviour: topic bindings, one copy per
 * queue, prefetch, delayed retries and a parked queue. For users' unit tests and the
 * factories of `promiscuous generate mocks`; never a stand-in for RabbitMQ in our own tests.
 */
export class MemoryTransport implements Transport {
  private readonly queues = new Map<string, Queue>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly listeners = new Map<string, (body: Buffer, signature: string | undefined) => void>();

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    for (const message of messages) {
      for (const [app, queue] of this.queues) {
        if (queue.bindings.some((b) => message.routingKeys.some((k) => topicMatches(b, k)))) {
          const { messageId, body, signature } = message;
          queue.ready.push({ messageId, body, signature, attempt: 0 });
          this.deliverReady(app);
        }
      }
    }
  }

  /** Declares an app's queue before anything consumes it, so that messages published meanwhile wait. */
  declare(app: string, bindings: readonly string[]): void {
    const queue = this.queues.get(app);
    if (queue) queue.bindings = bindings;
    else this.queues.set(app, { bindings, ready: [], parked: [], delayed: 0 });
  }

  async consume(app: string, options: ConsumeOptions, handle: (d: Delivery) => Promise<void>): Promise<Consumer> {
    this.declare(app, options.bindings);
    const queue = this.queues.get(app) as Queue;
    let idle: () => void = () => {};
    const consumer = { prefetch: options.prefetch, inFlight: 0, stopped: false, handle, idle: () => idle() };
    queue.consumer = consumer;
    this.deliverReady(app);
    return {
      stop: () =>
        new Promise<void>((resolve) => {
          consumer.stopped = true;
          idle = () => consumer.inFlight === 0 && resolve();
          idle();
        }),
    };
  }

  /** Resolves once every queue is empty and nothing is in flight or waiting to be retried. */
  async drained(): Promise<void> {
    for (;;) {
      const busy =
        this.timers.size > 0 ||
        [...this.queues.values()].some((q) => q.ready.length > 0 || (q.consumer?.inFlight ?? 0) > 0);
      if (!busy) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private deliverReady(app: string): void {
    const queue = this.queues.get(app);
    const consumer = queue?.consumer;
    if (!queue || !consumer || consumer.stopped) return;
    while (consumer.inFlight < consumer.prefetch && queue.ready.length > 0) {
      const stored = queue.ready.shift() as Stored;
      consumer.inFlight += 1;
      let settled = false;
      const settle = async (action: () => void): Promise<void> => {
        if (settled) return;
        settled = true;
        action();
        consumer.inFlight -= 1;
        consumer.idle();
        queueMicrotask(() => this.deliverReady(app));
      };
      const delivery: Delivery = {
        body: stored.body,
        messageId: stored.messageId,
        signature: stored.signature,
        attempt: stored.attempt,
        redelivered: false,
        ack: () => settle(() => {}),
        waitingSince: stored.waitingSince,
        retry: (_error, delayMs) =>
          settle(() => this.requeueAfter(app, { ...stored, attempt: stored.attempt + 1 }, delayMs)),
        defer: (delayMs, waitingSince) => settle(() => this.requeueAfter(app, { ...stored, waitingSince }, delayMs)),
        park: (reason) =>
          settle(() =>
            queue.parked.push({
              messageId: stored.messageId,
              reason,
              attempts: stored.attempt,
              parkedAt: Date.now(),
              body: stored.body,
              signature: stored.signature,
            }),
          ),
      };
      void consumer.handle(delivery).catch(() => delivery.retry(new Error('handler failed'), 0));
    }
  }

  /** Puts a message back in the app's queue after `delayMs` (a retry queue's wait, in one process). */
  private requeueAfter(app: string, stored: Stored, delayMs: number): void {
    const queue = this.queues.get(app);
    if (queue) queue.delayed += 1;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (queue) queue.delayed -= 1;
      queue?.ready.push(stored);
      this.deliverReady(app);
    }, delayMs);
    this.timers.add(timer);
  }

  async parked(app: string): Promise<ParkedMessage[]> {
    return [...(this.queues.get(app)?.parked ?? [])];
  }

  async stats(app: string): Promise<QueueStats | undefined> {
    const queue = this.queues.get(app);
    if (!queue) return undefined;
    const consumers = queue.consumer && !queue.consumer.stopped ? 1 : 0;
    return { ready: queue.ready.length, retrying: queue.delayed, parked: queue.parked.length, consumers };
  }

  async retryParked(app: string, messageIds?: readonly string[]): Promise<number> {
    return this.takeParked(app, messageIds, (m, queue) =>
      queue.ready.push({ messageId: m.messageId ?? '', body: m.body, signature: m.signature, attempt: 0 }),
    );
  }

  async dropParked(app: string, messageIds?: readonly string[]): Promise<number> {
    return this.takeParked(app, messageIds, () => {});
  }

  private takeParked(
    app: string,
    ids: readonly string[] | undefined,
    take: (m: ParkedMessage, q: Queue) => void,
  ): number {
    const queue = this.queues.get(app);
    if (!queue) return 0;
    const keep: ParkedMessage[] = [];
    let taken = 0;
    for (const m of queue.parked.splice(0)) {
      if (ids === undefined || ids.includes(m.messageId ?? '')) {
        take(m, queue);
        taken += 1;
      } else keep.push(m);
    }
    queue.parked.push(...keep);
    this.deliverReady(app);
    return taken;
  }

  async listen(handle: (body: Buffer, signature: string | undefined) => void): Promise<Listener> {
    const address = `listener-${(this.listeners.size + 1).toString()}-${Math.random().toString(36).slice(2)}`;
    this.listeners.set(address, handle);
    return {
      address: () => (this.listeners.has(address) ? address : undefined),
      stop: async () => void this.listeners.delete(address),
    };
  }

  async reply(address: string, message: Omit<OutgoingMessage, 'routingKeys'>): Promise<void> {
    const handle = this.listeners.get(address);
    // As on the broker: a reply reaches its listener later, never inside the sender's call.
    if (handle) setImmediate(() => handle(message.body, message.signature));
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/** The `null` backend: publishing succeeds and goes nowhere; nothing is ever consumed. */
export class NullTransport implements Transport {
  async publish(): Promise<void> {}
  async listen(): Promise<Listener> {
    return { address: () => undefined, stop: async () => {} };
  }
  async reply(): Promise<void> {}
  async consume(): Promise<Consumer> {
    return { stop: async () => {} };
  }
  async parked(): Promise<ParkedMessage[]> {
    return [];
  }
  async retryParked(): Promise<number> {
    return 0;
  }
  async dropParked(): Promise<number> {
    return 0;
  }
  async stats(): Promise<QueueStats | undefined> {
    return undefined;
  }
  healthy(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}
