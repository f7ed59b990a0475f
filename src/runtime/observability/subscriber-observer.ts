import type { Span } from '@opentelemetry/api';
import type { Knex } from 'knex';
import { countApplied, emptyTally } from '../../transport/redis/activity.js';
import type { RedisCoordinator } from '../../transport/redis/coordinator.js';
import type { Delivery, Transport } from '../../transport/transport.js';
import type { Envelope } from '../envelope.js';
import type { Metrics } from './metrics.js';
import { subscriberStatus } from './status.js';
import { markFailed, type SinkSpanAttributes, withApplySpan, withSinkSpan } from './tracing.js';

/** How often a worker records in Redis the commit time of the newest message it applied, and what it received. */
const recordIntervalMs = 1_000;

/**
 * What a subscriber reports of itself: its metrics, the span of each apply, and in Redis
 * (through the coordinator, when it has one) the messages waiting for a dependency and the
 * commit time of the newest message applied, for `promiscuous status`. Nothing here may fail
 * a message: Redis errors are ignored, the next report repairs what one missed.
 */
export class SubscriberObserver {
  /** Messages this worker holds waiting for a dependency, with when each started waiting. */
  private readonly held = new Map<Delivery, number>();
  /** Deliveries recorded in Redis as waiting, with their id there, to remove their entry once settled. */
  private readonly marked = new WeakMap<Delivery, string>();
  private readonly spans = new WeakMap<Delivery, Span>();
  /** The apply span of each message, for the spans of its sinks' sends. */
  private readonly applySpans = new WeakMap<Envelope, Span>();
  private readonly counters: {
    readonly applied: { inc(value?: number): void };
    readonly parked: { inc(value?: number): void };
    readonly retried: { inc(value?: number): void };
    readonly deferred: { inc(value?: number): void };
    readonly missed: { inc(value?: number): void };
  };
  private newestCommit = 0;
  /** Received since last recorded in Redis. */
  private tally = { brokerMessages: 0, messages: 0, operations: 0 };
  /** Applied since last recorded in Redis, for the dashboard. */
  private activity = emptyTally();
  /** Verification failures since last recorded in Redis, by `<claimed sender> <reason>`. */
  private failures = new Map<string, number>();
  private recordedCommit = 0;
  private timer: NodeJS.Timeout | undefined;
  private unwatch: (() => void)[] = [];

  constructor(
    private readonly app: string,
    private readonly metrics: Metrics,
    private readonly coordinator: RedisCoordinator | undefined,
  ) {
    // Children bound once: a label lookup per message would cost more than the increment.
    this.counters = {
      applied: metrics.messagesApplied.labels(app),
      parked: metrics.messagesParked.labels(app),
      retried: metrics.messagesRetried.labels(app),
      deferred: metrics.messagesDeferred.labels(app),
      missed: metrics.dependencyMisses.labels(app),
    };
    // Exported at 0 from the start, so that a rate over the first message is not lost.
    for (const counter of Object.values(this.counters)) counter.inc(0);
  }

  /** The subscriber started: its waiting messages and its app's status are reported from now on. */
  start(transport: Transport): void {
    this.unwatch.push(
      this.metrics.watchWaiting(this.app, () => this.held.values()),
      this.metrics.watchSubscriber(this.app, () => subscriberStatus(transport, this.app, this.coordinator)),
    );
    if (this.coordinator) {
      this.timer = setInterval(() => void this.record(), recordIntervalMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    for (const unwatch of this.unwatch.splice(0)) unwatch();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.record();
  }

  /** Runs the apply of a message in its span. */
  traced(delivery: Delivery, envelope: Envelope, fn: () => Promise<void>): Promise<void> {
    return withApplySpan(this.app, envelope, async (span) => {
      this.spans.set(delivery, span);
      this.applySpans.set(envelope, span);
      await fn();
    });
  }

  /** A valid message arrived (whether this app applies anything of it or not). */
  received(delivery: Delivery, envelope: Envelope): void {
    this.tally.brokerMessages += 1 / Math.max(1, delivery.framed ?? 1);
    this.tally.messages += 1;
    this.tally.operations += envelope.operations.length;
  }

  /** A transaction found a dependency of a message missing (counted each time). */
  missed(): void {
    this.counters.missed.inc();
  }

  /** A dependency of the message is missing: it waits, in this worker's memory for now. */
  waiting(delivery: Delivery, envelope: Envelope, since: number): void {
    if (this.held.has(delivery)) return;
    this.held.set(delivery, since);
    this.mark(delivery, envelope, since, 'held');
  }

  /** The message goes to a retry queue to wait there. */
  deferred(delivery: Delivery, envelope: Envelope, since: number): void {
    this.counters.deferred.inc();
    if (this.held.delete(delivery)) this.mark(delivery, envelope, since, 'deferred');
  }

  /** The message was applied and acknowledged; `started` is when its successful database transaction began. */
  applied(delivery: Delivery, envelope: Envelope, started: number): void {
    const now = performance.now();
    this.counters.applied.inc();
    this.metrics.applyDuration.observe({ app: this.app }, (now - started) / 1_000);
    const latency = Math.max(0, Date.now() - envelope.timestamp) / 1_000;
    this.metrics.commitToApplied.observe({ app: this.app, publisher: envelope.app }, latency);
    if (this.coordinator) {
      countApplied(this.activity, envelope.app, latency * 1_000, envelope.operations.length, Date.now());
    }
    if (envelope.timestamp > this.newestCommit) this.newestCommit = envelope.timestamp;
    this.settle(delivery);
  }

  /**
   * The operations of a message: how many it wrote and how many it skipped (already applied,
   * or older than what was stored), counted once the transaction commits.
   */
  committing(trx: Knex.Transaction, publisher: string, written: number, skipped: number): void {
    trx.executionPromise.then(
      () => {
        const labels = { app: this.app, publisher };
        if (written > 0) this.metrics.operationsApplied.inc(labels, written);
        if (skipped > 0) this.metrics.operationsSkipped.inc(labels, skipped);
      },
      () => {},
    );
  }

  parked(delivery: Delivery, reason: string): void {
    this.counters.parked.inc();
    const span = this.spans.get(delivery);
    if (span) markFailed(span, new Error(`parked: ${reason}`));
    this.settle(delivery);
  }

  /** A message failed verification (it is parked next). */
  rejected(publisher: string, reason: string): void {
    this.metrics.signatureFailures.inc({ app: this.app, publisher, reason });
    const field = `${publisher} ${reason}`;
    this.failures.set(field, (this.failures.get(field) ?? 0) + 1);
  }

  retried(delivery: Delivery, error: Error): void {
    this.counters.retried.inc();
    const span = this.spans.get(delivery);
    if (span) markFailed(span, error);
    this.settle(delivery);
  }

  /**
   * Runs a sink's send in its span, the child of the message's apply span, and counts it as
   * sent or failed with its duration.
   */
  async sinkSpan<T>(
    envelope: Envelope,
    sink: string,
    attributes: SinkSpanAttributes,
    send: () => Promise<T>,
  ): Promise<T> {
    const labels = { app: this.app, sink };
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1_000;
    try {
      const sent = await withSinkSpan(sink, this.applySpans.get(envelope), attributes, send);
      this.metrics.sinkSent.inc(labels);
      this.metrics.sinkDuration.observe(labels, seconds());
      return sent;
    } catch (error) {
      this.metrics.sinkFailures.inc(labels);
      this.metrics.sinkDuration.observe(labels, seconds());
      throw error;
    }
  }

  /** A sink had nothing to send: its target's payload is the one it last sent. */
  sinkSkipped(sink: string): void {
    this.metrics.sinkSkipped.inc({ app: this.app, sink });
  }

  resyncRequested(publisher: string): void {
    this.metrics.resyncRequested.inc({ app: this.app, publisher });
  }

  /** The message no longer waits here; its Redis entry, if it had one, goes. */
  private settle(delivery: Delivery): void {
    this.held.delete(delivery);
    if (!this.coordinator) return;
    // A message deferred earlier comes back with `waitingSince`, possibly to another worker.
    const id = this.marked.get(delivery) ?? (delivery.waitingSince === undefined ? undefined : delivery.messageId);
    if (id !== undefined) this.coordinator.unmarkWaiting(id).catch(() => {});
  }

  private mark(delivery: Delivery, envelope: Envelope, since: number, state: 'held' | 'deferred'): void {
    if (!this.coordinator) return;
    const messageId = delivery.messageId ?? envelope.id;
    this.marked.set(delivery, messageId);
    this.coordinator.markWaiting({ messageId, since, committed: envelope.timestamp, state }).catch(() => {});
  }

  private async record(): Promise<void> {
    const coordinator = this.coordinator;
    if (!coordinator) return;
    const tally = this.tally;
    if (tally.messages > 0) {
      this.tally = { brokerMessages: 0, messages: 0, operations: 0 };
      await coordinator.recordReceived(tally).catch(() => {});
    }
    const activity = this.activity;
    if (activity.latencies.size > 0) {
      this.activity = emptyTally();
      await coordinator.recordActivity(activity).catch(() => {});
    }
    if (this.failures.size > 0) {
      const failures = this.failures;
      this.failures = new Map();
      await coordinator.recordSignatureFailures(failures).catch(() => {});
    }
    const newest = this.newestCommit;
    if (newest <= this.recordedCommit) return;
    this.recordedCommit = newest;
    await coordinator.recordAppliedCommit(newest).catch(() => {});
  }
}
