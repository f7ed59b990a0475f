import type { Knex } from 'knex';
import type { RedisCoordinator, SignatureFailureCount } from '../../transport/redis/coordinator.js';
import type { Transport } from '../../transport/transport.js';
import { outboxBacklog } from '../publisher/outbox.js';
import { resyncQueueApp } from '../resync.js';

/**
 * What `promiscuous status` and the `promiscuous_status_*` gauges report of a subscribing app:
 * the broker's counts, and from Redis (when the app's workers have a coordinator) the
 * messages waiting for a dependency and the commit time of the newest message applied.
 */
export interface SubscriberStatus {
  readonly app: string;
  /** Whether the app's queue exists: it is declared when a subscriber of the app first starts. */
  readonly declared: boolean;
  /**
   * Broker messages in the app's queue not yet delivered to a worker. One broker message may
   * carry several messages (a frame of transactions the relay published together).
   */
  readonly ready: number;
  /** Messages in the app's retry queues: retries waiting out their backoff, and deferred waiting messages (each alone). */
  readonly retrying: number;
  readonly parked: number;
  readonly consumers: number;
  /** Messages waiting for a dependency, held by a worker or deferred; `null` without Redis. */
  readonly waiting: number | null;
  /** How long the oldest waiting message has waited, in seconds; `null` when none waits or without Redis. */
  readonly oldestWaitingSeconds: number | null;
  /** The commit time (ms since the epoch) of the newest message applied; `null` when unknown. */
  readonly lastAppliedCommit: number | null;
  /**
   * Messages (publisher transactions) not applied yet: the ready broker messages times the
   * messages a broker message carried on average so far (from what the app's workers
   * received, in Redis; 1 when unknown), plus the retrying ones and those waiting in a
   * worker's memory (a deferred one is in `retrying` or `ready`), and never fewer than
   * `waiting`. Messages a worker is applying right now are not counted: the broker does not
   * report them apart. Exact when every broker message carries one message.
   */
  readonly lagMessages: number;
  /**
   * Operations not applied yet: `lagMessages` times the operations a message carried on
   * average so far; `null` when the workers recorded nothing yet (or there is no Redis).
   */
  readonly lagOperations: number | null;
  /**
   * How far behind its publishers the app is, in seconds: 0 when nothing is queued or
   * waiting; otherwise the age (now minus commit time) of the oldest waiting message, or,
   * when messages are queued, of the newest message applied if that is older: every queued
   * message was committed after it (give or take the order in which relays publish), so this
   * bounds the oldest queued message's age from above. `null` when neither is known (no
   * Redis, or nothing applied yet).
   */
  readonly lagSeconds: number | null;
  /**
   * Messages the app's workers parked for failing verification, by the app each claimed to come
   * from and the reason (`unsigned`, `unknown-key`, `tampered`, `not-owner`), over the last 7
   * days they recorded any; `null` without Redis.
   */
  readonly signatureFailures: readonly SignatureFailureCount[] | null;
}

/** What the status reports of a publishing app: its outbox, read from its database, and its re-sync requests. */
export interface PublisherStatus {
  readonly app: string;
  /** Committed rows the relay has not yet published (and had confirmed). */
  readonly outbox: number;
  /** The age of the oldest of them, in seconds; `null` when the outbox is empty. */
  readonly oldestRowSeconds: number | null;
  /** Re-sync requests of subscribers waiting for an answer; `null` when the app never answered one (no queue). */
  readonly resyncRequests: number | null;
}

/** Reads a subscribing app's status from the broker and, when given, its workers' Redis. */
export async function subscriberStatus(
  transport: Transport,
  app: string,
  coordinator?: RedisCoordinator,
  now = Date.now(),
): Promise<SubscriberStatus> {
  const [queue, waiting, lastApplied, received, failures] = await Promise.all([
    transport.stats?.(app),
    coordinator?.waitingMessages(now),
    coordinator?.lastAppliedCommit(),
    coordinator?.received(),
    coordinator?.signatureFailures(),
  ]);
  const ready = queue?.ready ?? 0;
  const retrying = queue?.retrying ?? 0;
  const held = waiting?.filter((m) => m.state === 'held').length ?? 0;
  const perBrokerMessage = received && received.brokerMessages > 0 ? received.messages / received.brokerMessages : 1;
  // A deferred message is in a queue, or back in a worker before it reports itself held again.
  const lagMessages = Math.max(Math.round(ready * perBrokerMessage) + retrying + held, waiting?.length ?? 0);
  const lagOperations = received ? Math.round((lagMessages * received.operations) / received.messages) : null;
  const oldest = waiting?.[0];
  const ages: number[] = [];
  if (waiting && waiting.length > 0) ages.push(now - Math.min(...waiting.map((m) => m.committed)));
  if (ready + retrying > 0 && lastApplied !== undefined) ages.push(now - lastApplied);
  const lagSeconds = lagMessages === 0 ? 0 : ages.length === 0 ? null : seconds(Math.max(0, ...ages));
  return {
    app,
    declared: queue !== undefined,
    ready,
    retrying,
    parked: queue?.parked ?? 0,
    consumers: queue?.consumers ?? 0,
    waiting: waiting ? waiting.length : null,
    oldestWaitingSeconds: oldest ? seconds(Math.max(0, now - oldest.since)) : null,
    lastAppliedCommit: lastApplied ?? null,
    lagMessages,
    lagOperations,
    lagSeconds,
    signatureFailures: failures ?? null,
  };
}

/** Reads a publishing app's outbox from its database and its re-sync requests from the broker. */
export async function publisherStatus(
  knex: Knex,
  transport: Transport,
  app: string,
  now = Date.now(),
): Promise<PublisherStatus> {
  const [outbox, requests] = await Promise.all([outboxBacklog(knex), transport.stats?.(resyncQueueApp(app))]);
  return {
    app,
    outbox: outbox.rows,
    oldestRowSeconds: outbox.oldest === null ? null : seconds(Math.max(0, now - outbox.oldest)),
    resyncRequests: requests ? requests.ready + requests.retrying : null,
  };
}

/** Milliseconds as seconds, to the millisecond. */
export function seconds(ms: number): number {
  return Math.round(ms) / 1_000;
}
