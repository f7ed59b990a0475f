/**
 * The live feed of an app: every operation its workers applied, in one Redis stream that all
 * of them append to after their commits. The stream's ids give one order that readers resume
 * from; it keeps the newest entries only (a reader further behind is told so, never served a
 * gap). Like everything in Redis here, it can be lost: the databases hold the state, the feed
 * only shows it moving.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connectRedis } from './connection.js';

/** One applied operation, as the feed carries it. */
export interface LiveChange {
  readonly publisher: string;
  readonly endpoint: string;
  /** The published type first, then its ancestors. */
  readonly types: readonly string[];
  readonly id: string;
  readonly operation: string;
  readonly version: number;
  /** `null` for a destroy. */
  readonly attributes: Readonly<Record<string, unknown>> | null;
  /** The publisher's commit time (ms since the epoch). */
  readonly committedAt: number;
  /** The subscriber's commit time (ms since the epoch). */
  readonly appliedAt: number;
}

/** An entry of the feed: its stream id and its change as JSON. */
export interface LiveEntry {
  readonly id: string;
  readonly json: string;
}

/** Entries kept by default: at about 300 bytes each, some 3 MB of Redis memory. */
export const defaultLiveLength = 10_000;

export function liveKeys(namespace: string) {
  return {
    /** The stream of applied changes. */
    stream: `${namespace}:live`,
    /** A random name for the stream's lifetime: a reader's id of a lost stream must not be taken for one of its successor. */
    epoch: `${namespace}:live-epoch`,
  };
}

/** Appends changes to an app's feed; what it appends is never awaited by the apply that made it. */
export class LiveFeedWriter {
  private readonly keys: ReturnType<typeof liveKeys>;

  constructor(
    private readonly client: Redis,
    namespace: string,
    private readonly maxLength = defaultLiveLength,
    private readonly failed: (error: Error) => void = () => {},
  ) {
    this.keys = liveKeys(namespace);
  }

  /** Appends each change, in order, in one round trip; the stream is trimmed to about `maxLength`. */
  append(changes: readonly LiveChange[]): void {
    if (changes.length === 0) return;
    const pipeline = this.client.pipeline();
    pipeline.set(this.keys.epoch, newEpoch(), 'NX');
    for (const change of changes) {
      pipeline.xadd(this.keys.stream, 'MAXLEN', '~', this.maxLength, '*', 'c', JSON.stringify(change));
    }
    pipeline.exec().then(
      (results) => {
        const error = results?.find(([e]) => e)?.[0];
        if (error) this.failed(error);
      },
      (error: Error) => this.failed(error),
    );
  }
}

/** Reads an app's feed: the newest entries as they come, or from an id on. */
export class LiveFeedReader {
  private readonly keys: ReturnType<typeof liveKeys>;

  private constructor(
    private readonly client: Redis,
    /** A blocking read holds its connection: it gets one of its own. */
    private readonly blocking: Redis,
    namespace: string,
  ) {
    this.keys = liveKeys(namespace);
  }

  static async connect(url: string, namespace: string): Promise<LiveFeedReader> {
    const { client, subscriber } = await connectRedis(url);
    return new LiveFeedReader(client, subscriber, namespace);
  }

  /** The stream's epoch, made now if the stream has none yet. */
  async epoch(): Promise<string> {
    await this.client.set(this.keys.epoch, newEpoch(), 'NX');
    return (await this.client.get(this.keys.epoch)) ?? '';
  }

  /** The id of the newest entry, `0-0` when there is none. */
  async last(): Promise<string> {
    const [entry] = await this.client.xrevrange(this.keys.stream, '+', '-', 'COUNT', 1);
    return entry?.[0] ?? '0-0';
  }

  /**
   * Whether entries after `id` were trimmed away: a reader resuming from it would miss them.
   * Trimming takes the oldest entries, so none is missing when the stream still holds `id` or
   * the entries after it; when `id` itself is gone, whether anything came between it and the
   * first entry held cannot be known, and the answer is yes.
   */
  async trimmedAfter(id: string): Promise<boolean> {
    let info: unknown[];
    try {
      info = (await this.client.xinfo('STREAM', this.keys.stream)) as unknown[];
    } catch {
      return compareIds(id, '0-0') !== 0; // No stream: every entry after a real id is gone.
    }
    const field = (name: string) => info[info.indexOf(name) + 1];
    if (Number(field('entries-added')) === Number(field('length'))) return false;
    if (compareIds(id, String(field('last-generated-id'))) >= 0) return false;
    if (Number(field('length')) === 0) return true;
    return compareIds(id, String(field('recorded-first-entry-id'))) < 0;
  }

  /** Up to `count` entries after `id`, oldest first. */
  async after(id: string, count: number): Promise<LiveEntry[]> {
    const entries = await this.client.xrange(this.keys.stream, `(${id}`, '+', 'COUNT', count);
    return entries.map(toEntry);
  }

  /** Entries after `id`, waiting up to `blockMs` for the first one. */
  async next(id: string, count: number, blockMs: number): Promise<LiveEntry[]> {
    const result = await this.blocking.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.keys.stream, id);
    return result?.[0]?.[1].map(toEntry) ?? [];
  }

  async close(): Promise<void> {
    // A blocking read would hold `quit` until it returns.
    this.blocking.disconnect();
    await this.client.quit().catch(() => {});
  }
}

/** Compares two stream ids (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

/** Whether a string is a stream id. */
export function isStreamId(value: string): boolean {
  return /^\d{1,20}-\d{1,20}$/.test(value);
}

function toEntry([id, fields]: [string, string[]]): LiveEntry {
  return { id, json: fields[1] ?? 'null' };
}

function newEpoch(): string {
  return randomBytes(4).toString('hex');
}
