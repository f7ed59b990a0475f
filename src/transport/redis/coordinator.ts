import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/logger.js';
import { connectRedis } from './connection.js';
import { redisKeys } from './keys.js';
import { type ActivityTally, keptMs, type LatencySummary, latencySummaries, rateBucketMs } from './activity.js';
import { defaultLiveLength, LiveFeedWriter } from './live-feed.js';
import { defineScripts, ScriptCode, type Scripts } from './scripts.js';

/** A message waiting for a dependency, as `promiscuous status` sees it. */
export interface WaitingMessage {
  readonly messageId: string;
  /** When it first found a dependency missing (ms since the epoch). */
  readonly since: number;
  /** Its publisher's commit time. */
  readonly committed: number;
  /** When a worker last reported it. */
  readonly seen: number;
  /** Held in a worker's memory (unacknowledged), or deferred to a retry queue. */
  readonly state: 'held' | 'deferred';
}

/**
 * How long a waiting message's entry lives without a worker reporting it again. A worker
 * that dies leaves its entries behind; readers ignore and remove them after this. A deferred
 * message comes back within a second on an idle queue, but behind the backlog on a busy one.
 */
export const waitingTtlMs = 10 * 60_000;

/** Messages received by an app's workers: from the broker messages that carried them, with their operations. */
export interface ReceivedTally {
  /** Each message counted as its share of its broker message (a third for one of a frame of three). */
  readonly brokerMessages: number;
  readonly messages: number;
  readonly operations: number;
}

/** Messages parked for failing verification, from one claimed sender for one reason. */
export interface SignatureFailureCount {
  readonly publisher: string;
  readonly reason: string;
  readonly count: number;
}

/** How long the last applied commit time and the received tally are kept once nothing more is recorded. */
const recordTtlMs = 7 * 24 * 3_600_000;

/**
 * Coordinates the workers of one subscribing app through Redis: a lock per object while it is
 * applied, and a channel that wakes the messages waiting for an object's next version. Redis
 * holds nothing the databases cannot rebuild: a lock expires on its own, and a lost wake-up
 * only means a waiting message looks again a little later.
 */
export class RedisCoordinator {
  private readonly token = randomUUID();
  private readonly keys: ReturnType<typeof redisKeys>;
  private readonly listeners = new Set<(object: string) => void>();

  private constructor(
    private readonly client: Redis & Scripts,
    private readonly subscriber: Redis,
    private readonly namespace: string,
  ) {
    this.keys = redisKeys(namespace);
  }

  /** `logger` hears when a connection is lost and back (default: nowhere). */
  static async connect(url: string, namespace: string, options: { logger?: Logger } = {}): Promise<RedisCoordinator> {
    const { client, subscriber } = await connectRedis(url, options.logger);
    const coordinator = new RedisCoordinator(defineScripts(client), subscriber, namespace);
    await subscriber.subscribe(coordinator.keys.applied);
    subscriber.on('message', (_channel: string, message: string) => coordinator.wake(message));
    return coordinator;
  }

  /** Tells the listeners of the objects a worker announced, one message (a JSON array) for each message it applied. */
  private wake(message: string): void {
    let objects: unknown;
    try {
      objects = JSON.parse(message);
    } catch {
      return;
    }
    if (!Array.isArray(objects)) return;
    for (const object of objects) for (const listener of this.listeners) listener(String(object));
  }

  /**
   * Takes the locks on every object, all or none, in one script call: a try, so no worker
   * ever waits on another.
   */
  async lockAll(objects: readonly string[], ttlMs: number): Promise<boolean> {
    const keys = [...new Set(objects)].map((object) => this.keys.lock(object));
    if (keys.length === 0) return true;
    return (await this.client.lockAll(keys.length, ...keys, this.token, ttlMs)) !== ScriptCode.HeldByAnother;
  }

  /**
   * Gives the locks back, and when `applied`, tells every worker that these objects moved on
   * (one message for them all): one script call.
   */
  async release(objects: readonly string[], applied = false): Promise<void> {
    const unique = [...new Set(objects)];
    if (unique.length === 0) return;
    const keys = unique.map((object) => this.keys.lock(object));
    const publish = applied ? [this.keys.applied, JSON.stringify(unique)] : [];
    await this.client.unlockAll(keys.length, ...keys, this.token, ...publish);
  }

  /** Records that a message waits for a dependency (for `promiscuous status`). */
  async markWaiting(message: Omit<WaitingMessage, 'seen'>, now = Date.now()): Promise<void> {
    const value = `${message.since} ${message.committed} ${now} ${message.state}`;
    await this.client
      .multi()
      .hset(this.keys.waiting, message.messageId, value)
      .pexpire(this.keys.waiting, waitingTtlMs)
      .exec();
  }

  /** The message no longer waits: applied, parked or retried. */
  async unmarkWaiting(messageId: string): Promise<void> {
    await this.client.hdel(this.keys.waiting, messageId);
  }

  /** The messages waiting for a dependency in any worker, oldest first; entries nobody reported for a while are removed. */
  async waitingMessages(now = Date.now()): Promise<WaitingMessage[]> {
    const entries = await this.client.hgetall(this.keys.waiting);
    const fresh: WaitingMessage[] = [];
    const stale: string[] = [];
    for (const [messageId, value] of Object.entries(entries)) {
      const [since, committed, seen, state] = value.split(' ');
      const entry = { messageId, since: Number(since), committed: Number(committed), seen: Number(seen) };
      if (!(now - entry.seen < waitingTtlMs) || (state !== 'held' && state !== 'deferred')) stale.push(messageId);
      else fresh.push({ ...entry, state });
    }
    if (stale.length > 0) await this.client.hdel(this.keys.waiting, ...stale);
    return fresh.sort((a, b) => a.since - b.since);
  }

  /** Records the commit time of a message applied; the newest one recorded is kept. */
  async recordAppliedCommit(timestamp: number): Promise<void> {
    await this.client
      .multi()
      .zadd(this.keys.appliedCommit, 'GT', timestamp, 'last')
      .pexpire(this.keys.appliedCommit, recordTtlMs)
      .exec();
  }

  /** Adds to what the app's workers received (see {@link ReceivedTally}). */
  async recordReceived(tally: ReceivedTally): Promise<void> {
    await this.client
      .multi()
      .hincrbyfloat(this.keys.received, 'brokerMessages', tally.brokerMessages)
      .hincrby(this.keys.received, 'messages', tally.messages)
      .hincrby(this.keys.received, 'operations', tally.operations)
      .pexpire(this.keys.received, recordTtlMs)
      .exec();
  }

  /** What the app's workers received, summed, if anything was recorded. */
  async received(): Promise<ReceivedTally | undefined> {
    const hash = await this.client.hgetall(this.keys.received);
    if (!hash.messages) return undefined;
    return {
      brokerMessages: Number(hash.brokerMessages ?? 0),
      messages: Number(hash.messages),
      operations: Number(hash.operations ?? 0),
    };
  }

  /** Adds what a worker applied to the app's recent activity, and forgets what is older than 15 minutes. */
  async recordActivity(tally: ActivityTally, now = Date.now()): Promise<void> {
    const multi = this.client.multi();
    for (const [bucket, operations] of tally.operations)
      multi.hincrby(this.keys.appliedRate, String(bucket / 1_000), operations);
    for (const [field, messages] of tally.latencies) multi.hincrby(this.keys.latency, field, messages);
    multi.pexpire(this.keys.appliedRate, keptMs).pexpire(this.keys.latency, keptMs);
    await multi.exec();
    // Once a minute is enough to keep both hashes small.
    if (now % 60_000 < 1_000 || Math.random() < 0.02) await this.forgetActivity(now);
  }

  /**
   * The app's recent activity: operations applied per second in each 5-second bucket of the
   * last `spanMs` (oldest first, 0 where none was), and latency percentiles per publisher over
   * the last 5 minutes.
   */
  async activity(
    spanMs: number,
    now = Date.now(),
  ): Promise<{ rate: { at: number; perSecond: number }[]; latency: LatencySummary[] }> {
    const [rates, latencies] = await Promise.all([
      this.client.hgetall(this.keys.appliedRate),
      this.client.hgetall(this.keys.latency),
    ]);
    const last = now - (now % rateBucketMs) - rateBucketMs; // The current bucket is still filling.
    const rate = [];
    for (let at = last - spanMs + rateBucketMs; at <= last; at += rateBucketMs) {
      rate.push({ at, perSecond: Number(rates[String(at / 1_000)] ?? 0) / (rateBucketMs / 1_000) });
    }
    return { rate, latency: latencySummaries(latencies, now - 5 * 60_000) };
  }

  private async forgetActivity(now: number): Promise<void> {
    const [rates, latencies] = await Promise.all([
      this.client.hkeys(this.keys.appliedRate),
      this.client.hkeys(this.keys.latency),
    ]);
    const oldRates = rates.filter((second) => Number(second) * 1_000 < now - keptMs);
    const oldMinute = Math.floor((now - keptMs) / 60_000);
    const oldLatencies = latencies.filter((field) => Number(field.split(' ')[1]) < oldMinute);
    if (oldRates.length > 0) await this.client.hdel(this.keys.appliedRate, ...oldRates);
    if (oldLatencies.length > 0) await this.client.hdel(this.keys.latency, ...oldLatencies);
  }

  /** Adds to the messages the app's workers parked for failing verification, by `<claimed sender> <reason>`. */
  async recordSignatureFailures(counts: ReadonlyMap<string, number>): Promise<void> {
    const multi = this.client.multi();
    for (const [field, count] of counts) multi.hincrby(this.keys.signatureFailures, field, count);
    await multi.pexpire(this.keys.signatureFailures, recordTtlMs).exec();
  }

  /** The messages the app's workers parked for failing verification, summed by claimed sender and reason. */
  async signatureFailures(): Promise<SignatureFailureCount[]> {
    const hash = await this.client.hgetall(this.keys.signatureFailures);
    return Object.entries(hash)
      .map(([field, count]) => {
        const [publisher = '', reason = ''] = field.split(' ');
        return { publisher, reason, count: Number(count) };
      })
      .sort((a, b) => a.publisher.localeCompare(b.publisher) || a.reason.localeCompare(b.reason));
  }

  /** The commit time of the newest message applied, if one was recorded. */
  async lastAppliedCommit(): Promise<number | undefined> {
    const score = await this.client.zscore(this.keys.appliedCommit, 'last');
    return score === null ? undefined : Number(score);
  }

  /** A writer of the app's live feed on this coordinator's connection; `failed` hears of appends Redis refused. */
  liveFeed(maxLength = defaultLiveLength, failed?: (error: Error) => void): LiveFeedWriter {
    return new LiveFeedWriter(this.client, this.namespace, maxLength, failed);
  }

  onApplied(listener: (object: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether both connections to Redis are up: a lock taken now, and a wake-up sent now, would get through. */
  healthy(): boolean {
    return this.client.status === 'ready' && this.subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await Promise.allSettled([this.client.quit(), this.subscriber.quit()]);
  }
}
