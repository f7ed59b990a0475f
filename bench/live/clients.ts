/**
 * The browsers' side of bench/live.ts, in a process of its own: a `liveChanges` handler on a
 * local port, and as many connections to it as asked, each parsing its stream as an
 * `EventSource` would and reconnecting with its last event id when the server closes it.
 * Each connection checks that its ids only grow (no duplicate, no going back) and counts its
 * events; the parent asks for the counts with `report`.
 */
import { createServer } from 'node:http';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { liveChanges } from '../../src/runtime/index.js';

interface Init {
  readonly redisUrl: string;
  readonly namespace: string;
  readonly connections: number;
}

interface Stream {
  events: number;
  lastId: string | undefined;
  /** Ids that did not grow: a duplicate or a step back. */
  disorder: number;
  reconnects: number;
  resets: number;
}

const delays: number[] = [];
const streams: Stream[] = [];
let port = 0;
let stopping = false;

/** A stream id's two numbers; the milliseconds fit a double. */
function streamId(eventId: string): [number, number] {
  const dash = eventId.indexOf('-');
  return [Number(eventId.slice(eventId.indexOf('.') + 1, dash)), Number(eventId.slice(dash + 1))];
}

function grows(previous: string | undefined, next: string): boolean {
  if (previous === undefined) return true;
  const [a, b] = [streamId(previous), streamId(next)];
  return b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]);
}

function open(stream: Stream, index: number): void {
  const headers = stream.lastId ? { 'last-event-id': stream.lastId } : {};
  const req = request({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
    res.setEncoding('utf8');
    let buffer = '';
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        event(stream, index, buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    });
    res.on('end', () => reconnect(stream, index));
    res.on('error', () => {});
  });
  req.on('error', () => reconnect(stream, index));
  req.end();
}

function reconnect(stream: Stream, index: number): void {
  if (stopping) return;
  stream.reconnects += 1;
  setTimeout(() => open(stream, index), 100);
}

/** One event's block, read as cheaply as the checks allow: the clients share the machine with the subscriber. */
function event(stream: Stream, index: number, block: string): void {
  if (block.startsWith('event: reset\n')) {
    stream.resets += 1;
    block = block.slice(13);
  } else if (!block.startsWith('id: ')) return;
  const end = block.indexOf('\n');
  const id = block.slice(4, end < 0 ? undefined : end);
  if (!block.startsWith('data: ', end + 1)) {
    stream.lastId = id;
    return;
  }
  if (!grows(stream.lastId, id)) stream.disorder += 1;
  stream.lastId = id;
  stream.events += 1;
  if (index === 0) delays.push(Date.now() - (JSON.parse(block.slice(end + 7)) as { appliedAt: number }).appliedAt);
}

process.once('message', async (init: Init) => {
  const handler = await liveChanges({ app: 'sniper', redisUrl: init.redisUrl, namespace: init.namespace });
  const server = createServer(handler);
  server.maxConnections = init.connections + 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  for (let i = 0; i < init.connections; i++) {
    const stream = { events: 0, lastId: undefined, disorder: 0, reconnects: 0, resets: 0 };
    streams.push(stream);
    open(stream, i);
  }
  while (handler.connections < init.connections) await new Promise((resolve) => setTimeout(resolve, 50));
  process.send?.({ ready: true });
  process.on('message', async (message: { report?: boolean; clear?: boolean; stop?: boolean }) => {
    if (message.clear) for (const stream of streams) [stream.events, stream.disorder] = [0, 0];
    if (message.report) {
      const counts = streams.map((s) => s.events);
      process.send?.({
        min: Math.min(...counts),
        max: Math.max(...counts),
        disorder: streams.reduce((sum, s) => sum + s.disorder, 0),
        reconnects: streams.reduce((sum, s) => sum + s.reconnects, 0),
        resets: streams.reduce((sum, s) => sum + s.resets, 0),
        delays: delays.splice(0),
      });
    }
    if (message.stop) {
      stopping = true;
      await handler.close();
      server.closeAllConnections();
      server.close();
      process.exit(0);
    }
  });
});
