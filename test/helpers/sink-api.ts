/**
 * A real HTTP API for sinks to post to (node:http on a free port): it records every request
 * per subject and idempotency key, notes two requests for one subject in flight at once, and
 * can be told to answer 500, or to answer late, for its next requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SinkEvent } from '../../src/runtime/index.js';

/** A request as the API received it. */
export interface Received {
  readonly subject: string;
  readonly idempotencyKey: string;
  readonly body: PostedBody;
  /** What it answered; 0 when the client went away before the answer. */
  status: number;
}

/** What {@link post} sends. */
export interface PostedBody {
  readonly operation: string;
  readonly version: number;
  readonly payload: unknown;
  readonly previous: unknown;
}

export class SinkApi {
  readonly received: Received[] = [];
  /** Subjects that had two requests in flight at once. */
  readonly overlaps: string[] = [];
  private readonly inFlight = new Map<string, number>();
  private failing = 0;
  private slow: { count: number; ms: number } = { count: 0, ms: 0 };

  private constructor(
    private readonly server: Server,
    readonly url: string,
    /** How long every answer takes, so that requests of one subject would overlap if sent at once. */
    private readonly latencyMs: number,
  ) {}

  static async start(latencyMs = 0): Promise<SinkApi> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const api = new SinkApi(server, `http://127.0.0.1:${port}`, latencyMs);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => void api.handle(request, response));
    return api;
  }

  /** The next `count` requests are answered 500. */
  failNext(count: number): void {
    this.failing = count;
  }

  /** The next `count` requests are answered after `ms`. */
  slowNext(count: number, ms: number): void {
    this.slow = { count, ms };
  }

  /** The requests for one subject, in the order they came. */
  forSubject(subject: string): Received[] {
    return this.received.filter((r) => r.subject === subject);
  }

  /** The requests for one subject that the API accepted. */
  accepted(subject: string): Received[] {
    return this.forSubject(subject).filter((r) => r.status === 200);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const subject = decodeURIComponent(request.url?.split('/').pop() ?? '');
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const received: Received = {
      subject,
      idempotencyKey: String(request.headers['idempotency-key']),
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as PostedBody,
      status: 0,
    };
    this.received.push(received);
    const now = (this.inFlight.get(subject) ?? 0) + 1;
    this.inFlight.set(subject, now);
    if (now > 1) this.overlaps.push(subject);
    // In flight until answered, or until the client gave up on it (a sink's timeout).
    response.once('close', () => this.inFlight.set(subject, (this.inFlight.get(subject) ?? 1) - 1));
    let delay = this.latencyMs;
    if (this.slow.count > 0) {
      this.slow.count -= 1;
      delay = this.slow.ms;
    }
    const status = this.failing > 0 ? 500 : 200;
    if (this.failing > 0) this.failing -= 1;
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (response.destroyed) return;
    received.status = status;
    response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  }
}

/** A sink's send: posts the event to the API's `/subjects/<id>`, failing on an answer other than 2xx. */
export async function post(api: SinkApi, event: SinkEvent<unknown>): Promise<void> {
  const body: PostedBody = {
    operation: event.operation,
    version: event.version,
    payload: event.payload,
    previous: event.previous,
  };
  const response = await fetch(`${api.url}/subjects/${encodeURIComponent(event.id)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': event.idempotencyKey },
    body: JSON.stringify(body),
    signal: event.signal,
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`the API answered ${response.status}`);
}
