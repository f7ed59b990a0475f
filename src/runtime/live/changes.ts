/**
 * `liveChanges`: a `(request, response)` handler that streams an app's applied changes to
 * browsers as server-sent events, for Node's `http`, Express or Fastify (`reply.hijack()`,
 * then the raw request and response). The subscriber's workers append what they commit to
 * the app's live feed in Redis (`live: true`); this reads it, once per handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isStreamId } from '../../transport/redis/live-feed.js';
import { Connection, type LiveFilter } from './connection.js';
import { Feed } from './feed.js';

export interface LiveChangesOptions {
  /** The subscribing app whose changes are streamed. */
  readonly app: string;
  /** Default `redis://127.0.0.1:6379`, as the subscriber's settings. */
  readonly redisUrl?: string;
  /** The runtime's namespace (default `promiscuous`). */
  readonly namespace?: string;
  /** The types streamed (a subtype counts as its ancestors too); a request may narrow them. Default: all. */
  readonly types?: readonly string[];
  /** How often an idle stream gets a comment, so that proxies keep it open (default 15 s). */
  readonly heartbeatMs?: number;
  /** Events written to a connection at once, at most (default 500). */
  readonly pageSize?: number;
  /** How long a connection may take to take a page before it is closed (default 10 s); its client resumes. */
  readonly drainTimeoutMs?: number;
  /** Entries kept in memory for connections at the tail (default 5,000). */
  readonly memoryEntries?: number;
}

/** The handler, with what it serves and how to stop it. */
export interface LiveChangesHandler {
  (request: IncomingMessage, response: ServerResponse): void;
  /** The open connections. */
  readonly connections: number;
  /** Closes every connection and the handler's Redis connections. */
  close(): Promise<void>;
}

/**
 * Opens the app's live feed and returns the handler. A request's query narrows what it gets:
 * `type`, `id` and `publisher` (each repeatable: any of them), and `attribute.<name>=<value>`.
 * A reconnecting `EventSource` sends `Last-Event-ID`, and the stream goes on after that event
 * (`lastEventId` in the query does the same for a first connection); when the feed no longer
 * holds what came after it, the stream starts with a `reset` event and goes on from now.
 */
export async function liveChanges(options: LiveChangesOptions): Promise<LiveChangesHandler> {
  const connections = new Set<Connection>();
  const feed = await Feed.open({
    redisUrl: options.redisUrl ?? 'redis://127.0.0.1:6379',
    namespace: `${options.namespace ?? 'promiscuous'}:${options.app}`,
    memoryEntries: options.memoryEntries ?? 5_000,
    lost: () => {
      for (const connection of connections) connection.reset('the feed was lost (Redis restarted): reload');
    },
  });
  const heartbeat = setInterval(() => {
    for (const connection of connections) connection.heartbeat();
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();
  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const filter = filterOf(url.searchParams, options.types);
    if (typeof filter === 'string') {
      response.writeHead(400, { 'content-type': 'text/plain' }).end(`${filter}\n`);
      return;
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const resumed = resumeFrom(request.headers['last-event-id'] ?? url.searchParams.get('lastEventId'), feed.epoch);
    const connection = new Connection(
      feed,
      response,
      { filter, pageSize: options.pageSize ?? 500, drainTimeoutMs: options.drainTimeoutMs ?? 10_000 },
      resumed ?? feed.tail,
      (closed) => connections.delete(closed),
    );
    connections.add(connection);
    response.write('retry: 1000\n\n');
    if (resumed === null) connection.reset('the last event id is of an earlier feed: reload');
    void connection.run();
  };
  // Object.assign would copy the count once, not the getter.
  Object.defineProperty(handler, 'connections', { get: () => connections.size });
  return Object.assign(handler as typeof handler & { readonly connections: number }, {
    async close() {
      clearInterval(heartbeat);
      for (const connection of connections) connection.close();
      await feed.close();
    },
  });
}

/** The stream id after which to go on: `undefined` for none given, `null` for one of another epoch. */
function resumeFrom(header: string | string[] | null | undefined, epoch: string): string | undefined | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const [given, id = ''] = value.split('.');
  return given === epoch && isStreamId(id) ? id : null;
}

/** A request's filter, within the handler's types; a string says what is wrong with the query. */
function filterOf(query: URLSearchParams, allowed: readonly string[] | undefined): LiveFilter | string {
  const types = query.getAll('type');
  const outside = types.filter((type) => allowed && !allowed.includes(type));
  if (outside.length > 0) return `type ${outside.join(', ')} is not streamed here (only ${allowed?.join(', ')})`;
  const attributes = Object.fromEntries(
    [...query.entries()].filter(([key]) => key.startsWith('attribute.')).map(([key, value]) => [key.slice(10), value]),
  );
  const list = (values: readonly string[]) => (values.length > 0 ? values : undefined);
  const picked = list(types) ?? allowed;
  return {
    ...(picked ? { types: picked } : {}),
    ...(list(query.getAll('id')) ? { ids: query.getAll('id') } : {}),
    ...(list(query.getAll('publisher')) ? { publishers: query.getAll('publisher') } : {}),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
  };
}
