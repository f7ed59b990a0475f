import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PublisherStatus, SubscriberStatus } from './status.js';

/** Labels stay few and bounded: app names, never message or object ids. */
type App = 'app';
type AppPublisher = 'app' | 'publisher';
type AppSink = 'app' | 'sink';
/** A publishing app, and a subscriber app asked to acknowledge its messages. */
type AppSubscriber = 'app' | 'subscriber';
type AppPublisherReason = 'app' | 'publisher' | 'reason';
type Labels<L extends string> = Partial<Record<L, string>>;

/** What a collected gauge's `fill` sets its values through. */
interface Setter<L extends string> {
  set(labels: Labels<L>, value: number): void;
}

/** What the status gauges read at a scrape: the figures of `promiscuous status`. */
interface Snapshot {
  readonly subscribers: readonly SubscriberStatus[];
  readonly publishers: readonly Pick<PublisherStatus, 'app' | 'outbox' | 'oldestRowSeconds'>[];
}

/** The readers of one app's status, one per worker: the first still running is read. */
type Sources<T> = Map<string, Set<() => Promise<T>>>;

/** A status read is shared by the gauges of one scrape, and by scrapes closer together than this. */
const snapshotMs = 1_000;

/**
 * The runtime's Prometheus metrics, in a registry of their own (not prom-client's global
 * one, so that they never clash with an application's). Subscribers, publishers and relays
 * use {@link defaultMetrics} unless given another; serve `metrics.registry` yourself, or run
 * the commands with `--metrics-port`.
 *
 * ```ts
 * app.get('/metrics', async (_req, res) => {
 *   res.type(defaultMetrics().registry.contentType).send(await defaultMetrics().registry.metrics());
 * });
 * ```
 */
export class Metrics {
  readonly registry: Registry;
  /** Messages applied and acknowledged (whether or not an operation in them was new). */
  readonly messagesApplied: Counter<App>;
  /** Messages parked: malformed, failing their schemas, or failing `maxAttempts` times. */
  readonly messagesParked: Counter<App>;
  /** Failed attempts sent to a retry queue to be tried again after a backoff. */
  readonly messagesRetried: Counter<App>;
  /** Messages sent to a retry queue to wait: for a dependency, or for an object another worker holds. */
  readonly messagesDeferred: Counter<App>;
  /** Times a transaction found a message's dependency missing (the message is held, then waits or is deferred). */
  readonly dependencyMisses: Counter<App>;
  /** Operations written to the subscriber's database (newer than what it held). */
  readonly operationsApplied: Counter<AppPublisher>;
  /** Operations already applied or older than what the subscriber held: duplicates and late arrivals. */
  readonly operationsSkipped: Counter<AppPublisher>;
  /** Re-sync requests a subscriber sent to a publisher (`app` asks `publisher`). */
  readonly resyncRequested: Counter<AppPublisher>;
  /** Re-sync requests a publisher answered. */
  readonly resyncAnswered: Counter<App>;
  /**
   * Messages parked because they failed verification, by the app they claim to come from (a
   * publisher, or for a re-sync request the asking subscriber) and the reason: `unsigned`,
   * `unknown-key`, `tampered`, `not-owner`.
   */
  readonly signatureFailures: Counter<AppPublisherReason>;
  /** The database transaction that applied a message, callbacks included. */
  readonly applyDuration: Histogram<App>;
  /** From the publisher's commit (`envelope.timestamp`) to the subscriber's; includes the hosts' clock skew. */
  readonly commitToApplied: Histogram<AppPublisher>;
  /** Payloads a sink sent (its `send` resolved), by the sink's local name. */
  readonly sinkSent: Counter<AppSink>;
  /** Operations a sink sent nothing for: the payload it would send is the one it last sent. */
  readonly sinkSkipped: Counter<AppSink>;
  /** Sends that threw or outlived the sink's timeout (the message is retried, then parked). */
  readonly sinkFailures: Counter<AppSink>;
  /** A sink's send, whether it succeeded or not. */
  readonly sinkDuration: Histogram<AppSink>;
  /** From a transaction's commit to each required subscriber's acknowledgement, at the publisher. */
  readonly ackLatency: Histogram<AppSubscriber>;
  /** Transactions whose required subscriber did not acknowledge within the timeout, per subscriber. */
  readonly ackTimeouts: Counter<AppSubscriber>;
  /** Acknowledgements the publisher was not waiting for: a subscriber not asked, a repeat, one late. */
  readonly acksIgnored: Counter<AppSubscriber>;
  /** Acknowledgements a subscriber app sent, by the publisher it sent them to (`app` is the subscriber). */
  readonly acksSent: Counter<AppPublisher>;
  /** Outbox rows the relay published and the broker confirmed. */
  readonly relayPublished: Counter<App>;
  /** Relay rounds that failed (the rows stay in the outbox and are published again). */
  readonly relayFailures: Counter<App>;
  /** From writing a batch of rows to the broker to its last confirm. */
  readonly relayConfirmDuration: Histogram<App>;

  private readonly waiting = new Map<string, Set<() => Iterable<number>>>();
  private readonly subscribers: Sources<SubscriberStatus> = new Map();
  private readonly publishers: Sources<Omit<Snapshot['publishers'][number], 'app'>> = new Map();
  private snapshot: { readonly at: number; readonly value: Promise<Snapshot> } | undefined;

  // A flat list of the metrics, one declaration per field: longer than a function should be,
  // but read as a table.
  // eslint-disable-next-line max-lines-per-function
  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers });
    const app = ['app'] as const;
    const appPublisher = ['app', 'publisher'] as const;
    const appSink = ['app', 'sink'] as const;
    const fast = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    this.messagesApplied = counter('promiscuous_messages_applied_total', 'Messages applied and acknowledged', app);
    this.messagesParked = counter('promiscuous_messages_parked_total', 'Messages parked', app);
    this.messagesRetried = counter('promiscuous_messages_retried_total', 'Failed attempts sent to be retried', app);
    this.messagesDeferred = counter(
      'promiscuous_messages_deferred_total',
      'Messages deferred to a retry queue to wait for a dependency or a busy object',
      app,
    );
    this.dependencyMisses = counter(
      'promiscuous_dependency_misses_total',
      "Times a transaction found a message's dependency missing (the message is held for the next, waits or is deferred)",
      app,
    );
    this.operationsApplied = counter(
      'promiscuous_operations_applied_total',
      'Operations written to the subscriber database',
      appPublisher,
    );
    this.operationsSkipped = counter(
      'promiscuous_operations_skipped_total',
      'Operations already applied or older than the stored version',
      appPublisher,
    );
    this.resyncRequested = counter(
      'promiscuous_resync_requests_sent_total',
      'Re-sync requests sent by a subscriber app to a publisher app',
      appPublisher,
    );
    this.resyncAnswered = counter(
      'promiscuous_resync_requests_answered_total',
      'Re-sync requests answered by a publisher app',
      app,
    );
    this.signatureFailures = counter(
      'promiscuous_signature_failures_total',
      'Messages parked because they failed verification, by claimed sender and reason',
      ['app', 'publisher', 'reason'] as const,
    );
    this.applyDuration = histogram(
      'promiscuous_apply_duration_seconds',
      'Duration of the database transaction that applied a message',
      app,
      fast,
    );
    this.commitToApplied = histogram(
      'promiscuous_commit_to_applied_seconds',
      "From the publisher's commit to the subscriber's",
      appPublisher,
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    );
    this.sinkSent = counter('promiscuous_sink_sent_total', 'Payloads a sink sent', appSink);
    this.sinkSkipped = counter(
      'promiscuous_sink_skipped_total',
      'Operations a sink sent nothing for, its payload unchanged',
      appSink,
    );
    this.sinkFailures = counter('promiscuous_sink_failures_total', 'Sends that failed or timed out', appSink);
    this.sinkDuration = histogram('promiscuous_sink_duration_seconds', "Duration of a sink's send", appSink, fast);
    const appSubscriber = ['app', 'subscriber'] as const;
    this.ackLatency = histogram(
      'promiscuous_ack_latency_seconds',
      "From a transaction's commit to a required subscriber's acknowledgement",
      appSubscriber,
      fast,
    );
    this.ackTimeouts = counter(
      'promiscuous_ack_timeouts_total',
      'Transactions a required subscriber did not acknowledge in time',
      appSubscriber,
    );
    this.acksIgnored = counter(
      'promiscuous_acks_ignored_total',
      'Acknowledgements no transaction waited for: an app not asked, a repeat, one late',
      appSubscriber,
    );
    this.acksSent = counter('promiscuous_acks_sent_total', 'Acknowledgements a subscriber app sent', appPublisher);
    this.relayPublished = counter('promiscuous_relay_published_total', 'Outbox rows published and confirmed', app);
    this.relayFailures = counter('promiscuous_relay_failures_total', 'Relay rounds that failed', app);
    this.relayConfirmDuration = histogram(
      'promiscuous_relay_confirm_duration_seconds',
      'From writing a batch of outbox rows to the broker to its last confirm',
      app,
      fast,
    );

    collectedGauge(
      registers,
      'promiscuous_waiting_messages',
      'Messages this process holds waiting for a dependency',
      app,
      (g) => {
        for (const [name, since] of this.waitingSince()) g.set({ app: name }, since.length);
      },
    );
    collectedGauge(
      registers,
      'promiscuous_oldest_waiting_seconds',
      'How long the oldest message this process holds has waited for a dependency',
      app,
      (g) => {
        const now = Date.now();
        for (const [name, since] of this.waitingSince()) {
          if (since.length > 0) g.set({ app: name }, (now - Math.min(...since)) / 1_000);
        }
      },
    );
    this.statusGauges(registers);
  }

  /**
   * The figures of `promiscuous status`, read from the broker, Redis and the outbox when
   * scraped, for the apps this process runs. Every worker of an app reports the same: take
   * their max, not their sum.
   */
  private statusGauges(registers: Registry[]): void {
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      fill: (gauge: Setter<L>, snapshot: Snapshot) => void,
    ) => collectedGauge(registers, name, help, labelNames, async (g) => fill(g, await this.read()));
    const each = (name: string, help: string, value: (s: SubscriberStatus) => number | null): Gauge<App> =>
      gauge(name, help, ['app'], (g, snapshot) => {
        for (const s of snapshot.subscribers) {
          const v = value(s);
          if (v !== null) g.set({ app: s.app }, v);
        }
      });
    gauge('promiscuous_status_queue_messages', "Messages in an app's queues", ['app', 'queue'], (g, snapshot) => {
      for (const s of snapshot.subscribers) {
        g.set({ app: s.app, queue: 'ready' }, s.ready);
        g.set({ app: s.app, queue: 'retrying' }, s.retrying);
        g.set({ app: s.app, queue: 'parked' }, s.parked);
      }
    });
    each('promiscuous_status_waiting_messages', 'Messages waiting for a dependency in any worker', (s) => s.waiting);
    each(
      'promiscuous_status_oldest_waiting_seconds',
      'How long the oldest message waiting for a dependency has waited',
      (s) => s.oldestWaitingSeconds,
    );
    each('promiscuous_status_lag_messages', 'Messages (transactions) not applied yet', (s) => s.lagMessages);
    each('promiscuous_status_lag_operations', 'Operations not applied yet (estimated)', (s) => s.lagOperations);
    each('promiscuous_status_lag_seconds', 'How far behind its publishers the app is', (s) => s.lagSeconds);
    gauge('promiscuous_status_outbox_rows', 'Outbox rows not yet published', ['app'], (g, snapshot) => {
      for (const p of snapshot.publishers) g.set({ app: p.app }, p.outbox);
    });
    gauge('promiscuous_status_outbox_oldest_seconds', 'Age of the oldest outbox row', ['app'], (g, snapshot) => {
      for (const p of snapshot.publishers) if (p.oldestRowSeconds !== null) g.set({ app: p.app }, p.oldestRowSeconds);
    });
  }

  /** Reports what a process holds waiting for an app, as the times each message started waiting. */
  watchWaiting(app: string, since: () => Iterable<number>): () => void {
    const set = this.waiting.get(app) ?? new Set();
    set.add(since);
    this.waiting.set(app, set);
    return () => {
      set.delete(since);
      if (set.size === 0) this.waiting.delete(app);
    };
  }

  /** Reports a subscribing app's status in the status gauges; workers of one app share one reader. */
  watchSubscriber(app: string, read: () => Promise<SubscriberStatus>): () => void {
    return watch(this.subscribers, app, read);
  }

  /** Reports a publishing app's outbox in the status gauges. */
  watchPublisher(app: string, read: () => Promise<Omit<Snapshot['publishers'][number], 'app'>>): () => void {
    return watch(this.publishers, app, read);
  }

  /** The registry's text, for a scrape. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private *waitingSince(): Iterable<[string, number[]]> {
    for (const [app, sources] of this.waiting) yield [app, [...sources].flatMap((since) => [...since()])];
  }

  private read(): Promise<Snapshot> {
    const now = Date.now();
    if (this.snapshot && now - this.snapshot.at < snapshotMs) return this.snapshot.value;
    const value = (async (): Promise<Snapshot> => {
      // An app whose broker, Redis or database cannot be read is left out of this scrape.
      const first = <T>(readers: Set<() => Promise<T>>) => [...readers][0]?.().catch(() => undefined);
      const subscribers = await Promise.all([...this.subscribers.values()].map(first));
      const publishers = await Promise.all(
        [...this.publishers].map(async ([app, readers]) => {
          const status = await first(readers);
          return status && { app, ...status };
        }),
      );
      return {
        subscribers: subscribers.filter((s) => s !== undefined),
        publishers: publishers.filter((p) => p !== undefined),
      };
    })();
    this.snapshot = { at: now, value };
    return value;
  }
}

/**
 * A gauge whose values are set when it is scraped: `fill` sets the values of every label set
 * that exists now, and the label sets it does not set vanish (an app no longer running).
 */
function collectedGauge<L extends string>(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: readonly L[],
  fill: (gauge: Setter<L>) => void | Promise<void>,
): Gauge<L> {
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers,
    async collect() {
      const values: [Labels<L>, number][] = [];
      await fill({ set: (labels, value) => void values.push([labels, value]) });
      this.reset();
      for (const [labels, value] of values) this.set(labels, value);
    },
  });
}

function watch<T>(sources: Sources<T>, app: string, read: () => Promise<T>): () => void {
  const readers = sources.get(app) ?? new Set();
  // A function of its own, so that two workers passing the same reader are told apart.
  const reader = () => read();
  readers.add(reader);
  sources.set(app, readers);
  return () => {
    readers.delete(reader);
    if (readers.size === 0 && sources.get(app) === readers) sources.delete(app);
  };
}

let processMetrics: Metrics | undefined;

/** The metrics of this process: what subscribers, publishers and relays record unless given their own. */
export function defaultMetrics(): Metrics {
  processMetrics ??= new Metrics();
  return processMetrics;
}
