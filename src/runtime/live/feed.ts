/**
 * One reader of an app's live feed per handler, whatever the number of connections: it
 * follows the stream with a blocking read and keeps the newest entries in memory, parsed
 * once, so that connections at the tail cost Redis nothing. A connection further behind
 * reads Redis itself, a page at a time.
 */
import { compareIds, type LiveChange, type LiveEntry, LiveFeedReader } from '../../transport/redis/live-feed.js';

/** An entry of the feed with its change parsed. */
export interface FeedEntry extends LiveEntry {
  readonly change: LiveChange;
}

export interface FeedOptions {
  readonly redisUrl: string;
  readonly namespace: string;
  /** Entries kept in memory for connections at or near the tail. */
  readonly memoryEntries: number;
  /** Called when the stream was lost (Redis restarted or emptied): every connection starts again. */
  readonly lost: () => void;
}

/** How long a blocking read waits before it looks at the epoch again. */
const blockMs = 1_000;

export class Feed {
  /** The id after which `recent` holds every entry, in order. */
  private from = '0-0';
  private readonly recent: FeedEntry[] = [];
  private waiters: (() => void)[] = [];
  private closed = false;
  private loop: Promise<void> | undefined;

  private constructor(
    readonly reader: LiveFeedReader,
    private readonly options: FeedOptions,
    public epoch: string,
    /** The newest id read. */
    public tail: string,
  ) {
    this.from = tail;
  }

  static async open(options: FeedOptions): Promise<Feed> {
    const reader = await LiveFeedReader.connect(options.redisUrl, options.namespace);
    const feed = new Feed(reader, options, await reader.epoch(), await reader.last());
    feed.loop = feed.follow();
    return feed;
  }

  /**
   * The entries after `id` if memory holds all of them (none when `id` is the tail), or
   * `undefined` when the caller must read them from Redis.
   */
  entriesAfter(id: string, limit: number): readonly FeedEntry[] | undefined {
    if (compareIds(id, this.from) < 0) return undefined;
    let low = 0;
    let high = this.recent.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (compareIds((this.recent[middle] as FeedEntry).id, id) <= 0) low = middle + 1;
      else high = middle;
    }
    return this.recent.slice(low, low + limit);
  }

  /** Resolves once new entries came, or the feed closes. */
  changed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await this.reader.close();
    await this.loop;
  }

  private async follow(): Promise<void> {
    let checked = Date.now();
    while (!this.closed) {
      try {
        const entries = await this.reader.next(this.tail, 1_000, blockMs);
        if (entries.length > 0) this.add(entries);
        if (entries.length === 0 || Date.now() - checked > 5 * blockMs) {
          checked = Date.now();
          await this.checkEpoch();
        }
      } catch {
        if (this.closed) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private add(entries: readonly LiveEntry[]): void {
    for (const entry of entries) this.recent.push({ ...entry, change: JSON.parse(entry.json) as LiveChange });
    this.tail = (entries[entries.length - 1] as LiveEntry).id;
    const excess = this.recent.length - this.options.memoryEntries;
    if (excess > 0) this.from = (this.recent.splice(0, excess).pop() as FeedEntry).id;
    this.wake();
  }

  /** A new epoch means a new stream: its ids say nothing of the old one's. */
  private async checkEpoch(): Promise<void> {
    const epoch = await this.reader.epoch();
    if (epoch === this.epoch) return;
    this.epoch = epoch;
    this.recent.length = 0;
    this.tail = await this.reader.last();
    this.from = this.tail;
    this.options.lost();
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
