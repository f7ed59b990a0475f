/**
 * One browser's stream: it pulls the entries after its cursor (from memory at the tail, from
 * Redis when behind), keeps those its filter passes, and writes them as server-sent events.
 * It never holds more than one page unsent: when the socket does not drain, it waits for it,
 * and a connection that stays stuck is closed, to resume from its last event id.
 */
import type { ServerResponse } from 'node:http';
import type { LiveChange, LiveEntry } from '../../transport/redis/live-feed.js';
import type { Feed, FeedEntry } from './feed.js';

/** Which changes a connection wants: every list that is given must match. */
export interface LiveFilter {
  readonly types?: readonly string[];
  readonly ids?: readonly string[];
  readonly publishers?: readonly string[];
  /** Attribute values, compared as strings; a destroy has no attributes and never matches one. */
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface ConnectionOptions {
  readonly filter: LiveFilter;
  /** Entries written at once, at most: what one connection may hold unsent. */
  readonly pageSize: number;
  /** How long a connection may take to drain a page before it is closed. */
  readonly drainTimeoutMs: number;
}

export class Connection {
  private open = true;
  /** The id of the last event sent, or passed over, after which the next page starts. */
  private cursor: string;
  /** The cursor the client last heard of. */
  private told: string;
  private draining = false;

  constructor(
    private readonly feed: Feed,
    private readonly response: ServerResponse,
    private readonly options: ConnectionOptions,
    from: string,
    private readonly closed: (connection: Connection) => void,
  ) {
    this.cursor = from;
    this.told = from;
    response.on('close', () => this.close());
  }

  /** Sends what comes after the cursor until the connection closes. */
  async run(): Promise<void> {
    try {
      while (this.open && !this.feed.isClosed) await this.step();
    } catch {
      // Redis went away while this connection read it: the client resumes from its last id.
    }
    this.close();
  }

  /** A comment to keep proxies from closing an idle stream, with the cursor when it moved past filtered entries. */
  heartbeat(): void {
    if (!this.open || this.draining) return;
    const id = this.cursor === this.told ? '' : `id: ${this.eventId(this.cursor)}\n`;
    this.told = this.cursor;
    this.response.write(`: ping\n${id}\n`);
  }

  /** Tells the client that what it had is stale, and goes on from the tail. */
  reset(reason: string): void {
    if (!this.open) return;
    this.cursor = this.feed.tail;
    this.told = this.cursor;
    this.response.write(`event: reset\nid: ${this.eventId(this.cursor)}\ndata: ${JSON.stringify({ reason })}\n\n`);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.response.end();
    this.closed(this);
  }

  private async step(): Promise<void> {
    const { pageSize, filter } = this.options;
    if (Object.keys(filter).length === 0) {
      // Every change: the page the other connections at this cursor get, made once.
      const page = this.feed.pageAfter(this.cursor, pageSize);
      if (page === null) return this.feed.changed();
      if (page !== undefined) return this.write(page.bytes, page.last);
    }
    let entries: readonly (LiveEntry & { change?: LiveChange })[] | undefined = this.feed.entriesAfter(
      this.cursor,
      pageSize,
    );
    if (entries === undefined) {
      if (await this.feed.reader.trimmedAfter(this.cursor)) {
        this.reset('the feed no longer holds what came after the last event id: reload');
        return;
      }
      entries = await this.feed.reader.after(this.cursor, pageSize);
    }
    if (entries.length === 0) {
      await this.feed.changed();
      return;
    }
    await this.send(entries);
  }

  private async send(entries: readonly (LiveEntry & { change?: LiveChange })[]): Promise<void> {
    let text = '';
    for (const entry of entries) {
      const change = entry.change ?? (JSON.parse(entry.json) as LiveChange);
      if (matches(this.options.filter, change)) text += this.feed.event(entry.id, entry.json);
    }
    const last = (entries[entries.length - 1] as FeedEntry).id;
    if (text === '') this.cursor = last;
    else await this.write(text, last);
  }

  private async write(text: string | Buffer, last: string): Promise<void> {
    this.cursor = last;
    if (!this.open) return;
    this.told = last;
    if (!this.response.write(text)) await this.drained();
  }

  /** Waits for the socket to take the page; closes the connection if it does not in time. */
  private drained(): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.response.off('drain', done);
        this.response.off('close', done);
        this.draining = false;
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        this.response.destroy();
        this.close();
      }, this.options.drainTimeoutMs);
      this.response.on('drain', done);
      this.response.on('close', done);
    });
  }

  private eventId(id: string): string {
    return `${this.feed.epoch}.${id}`;
  }
}

export function matches(filter: LiveFilter, change: LiveChange): boolean {
  if (filter.types && !filter.types.some((type) => change.types.includes(type))) return false;
  if (filter.ids && !filter.ids.includes(change.id)) return false;
  if (filter.publishers && !filter.publishers.includes(change.publisher)) return false;
  for (const [name, value] of Object.entries(filter.attributes ?? {})) {
    const actual = change.attributes?.[name];
    if (actual === undefined || actual === null || String(actual) !== value) return false;
  }
  return true;
}
