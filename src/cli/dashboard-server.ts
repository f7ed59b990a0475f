/**
 * The dashboard's HTTP server: the page, the figures as JSON and as server-sent events, and the
 * parked messages, which a request may retry or drop only with the token in its
 * `authorization` header (never in a URL, so that no access log holds it).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type Snapshot, type Sources, sample, sampleMs } from './dashboard-figures.js';
import { dashboardPage } from './dashboard-page.js';

/** Starts the server and its sampling; resolves once it listens. */
export function serveDashboard(
  sources: Sources,
  token: string | undefined,
  port: number,
  host: string,
): Promise<Server> {
  const streams = new Set<ServerResponse>();
  let latest: Promise<Snapshot> = sample(sources);
  const timer = setInterval(() => {
    const next = sample(sources);
    next.then(
      (snapshot) => {
        latest = next;
        for (const stream of streams) stream.write(`data: ${JSON.stringify(snapshot)}\n\n`);
      },
      () => {},
    );
  }, sampleMs);
  const server = createServer((request, response) => {
    route(request, response, { sources, token, streams, latest: () => latest }).catch((error: unknown) => {
      if (!response.headersSent) json(response, 500, { error: (error as Error).message });
      else response.end();
    });
  });
  server.on('close', () => clearInterval(timer));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

interface Context {
  readonly sources: Sources;
  readonly token: string | undefined;
  readonly streams: Set<ServerResponse>;
  latest(): Promise<Snapshot>;
}

async function route(request: IncomingMessage, response: ServerResponse, context: Context): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const { method } = request;
  if (method === 'GET' && url.pathname === '/') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(dashboardPage);
  } else if (method === 'GET' && url.pathname === '/status') {
    json(response, 200, await context.latest());
  } else if (method === 'GET' && url.pathname === '/events') {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    response.write(`retry: 2000\ndata: ${JSON.stringify(await context.latest())}\n\n`);
    context.streams.add(response);
    response.on('close', () => context.streams.delete(response));
  } else if (method === 'GET' && url.pathname === '/parked') {
    const app = subscriber(url.searchParams.get('app'), context, response);
    if (app) json(response, 200, await context.sources.transport.parked(app));
  } else if (method === 'POST' && (url.pathname === '/parked/retry' || url.pathname === '/parked/drop')) {
    await act(request, response, context, url.pathname === '/parked/retry' ? 'retry' : 'drop');
  } else {
    json(response, 404, { error: 'not found: GET /, /status, /events or /parked?app=<app>' });
  }
}

/** Retries or drops parked messages of an app: all, or those whose ids the body lists. */
async function act(
  request: IncomingMessage,
  response: ServerResponse,
  context: Context,
  action: 'retry' | 'drop',
): Promise<void> {
  if (context.token === undefined) return json(response, 403, { error: 'read-only: no token is configured' });
  if (!authorized(request.headers.authorization, context.token)) return json(response, 401, { error: 'wrong token' });
  const body = (await readJson(request)) as { app?: unknown; ids?: unknown };
  const app = subscriber(typeof body.app === 'string' ? body.app : null, context, response);
  if (!app) return;
  const ids = Array.isArray(body.ids) ? body.ids.map(String) : undefined;
  const { transport } = context.sources;
  const count = action === 'retry' ? await transport.retryParked(app, ids) : await transport.dropParked(app, ids);
  json(response, 200, { [action === 'retry' ? 'retried' : 'dropped']: count });
}

/** The subscribing app a request names, or `undefined` once it answered 400. */
function subscriber(app: string | null, context: Context, response: ServerResponse): string | undefined {
  if (app !== null && context.sources.coordinators.has(app)) return app;
  json(response, 400, { error: `name a subscribing app: ${[...context.sources.coordinators.keys()].join(', ')}` });
  return undefined;
}

function authorized(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of request) {
    text += String(chunk);
    if (text.length > 1_000_000) throw new Error('the body is too large');
  }
  try {
    return text === '' ? {} : JSON.parse(text);
  } catch {
    return {};
  }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(`${JSON.stringify(body)}\n`);
}
