/**
 * One reader of an app's live feed per handler, whatever the number of connections: it
 * follows the stream with a blocking read and keeps the newest entries in memory, parsed
 * once, so that connections at the tail cost Redis nothing. A connection further behind
 * reads Redis itself, a page at a time.
 */
import { compareIds, type LiveChange, type LiveEntry, LiveFeedReader } from '../../transport/redis/live-feed.js';

/** An entry of the feed with its change parsed, and its event as sent. */
export interface FeedEntry extends LiveEntry {
  readonly change: LiveChange;
  readonly event: string;
}

/** Entries after a cursor as one text, for connections that keep them all. */
export interface Page {
  readonly bytes: Buffer;
  /** The id of the page's last entry. */
  readonly last: string;
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
  /** The last page made: the connections at the tail all ask for the same one. */
  private cached: { readonly key: string; readonly page: Page } | undefined;
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

  /**
   * The events after `id` as one buffer, made once for every connection that asks for the same
   * page; `undefined` when memory does not hold them, `null` when there is none yet.
   */
  pageAfter(id: string, limit: number): Page | undefined | null {
    const entries = this.entriesAfter(id, limit);
    if (entries === undefined) return undefined;
    if (entries.length === 0) return null;
    const last = (entries[entries.length - 1] as FeedEntry).id;
    const key = `${id} ${last}`;
    if (this.cached?.key !== key) {
      this.cached = { key, page: { bytes: Buffer.from(entries.map((e) => e.event).join('')), last } };
    }
    return this.cached.page;
  }

  /** An entry as a server-sent event. */
  event(id: string, json: string): string {
    return `id: ${this.epoch}.${id}\ndata: ${json}\n\n`;
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
    for (const entry of entries) {
      this.recent.push({
        ...entry,
        change: JSON.parse(entry.json) as LiveChange,
        event: this.event(entry.id, entry.json),
      });
    }
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
    this.cached = undefined;
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
