import { type ClientRequest, request } from 'node:http';

/** A server-sent event as a client gets it. */
export interface ServerEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/** A server-sent events client, as an `EventSource` without reconnection: a test reconnects with `lastEventId`. */
export interface EventStream {
  readonly events: ServerEvent[];
  /** The last id the stream carried, as `EventSource.lastEventId` keeps it. */
  readonly lastEventId: string | undefined;
  /** Whether the server ended the stream. */
  readonly ended: boolean;
  readonly status: number;
  close(): void;
}

/** Opens a stream and resolves once the server answered. */
export function openEventStream(
  url: string,
  lastEventId?: string,
  onEvent: (event: ServerEvent) => void = () => {},
): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const stream = {
      events: [] as ServerEvent[],
      lastEventId,
      ended: false,
      status: 0,
      close: () => req.destroy(),
    };
    const req: ClientRequest = request(url, { headers: lastEventId ? { 'last-event-id': lastEventId } : {} }, (res) => {
      stream.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          parse(buffer.slice(0, end), stream, onEvent);
          buffer = buffer.slice(end + 2);
        }
      });
      res.on('end', () => void (stream.ended = true));
      res.on('error', () => void (stream.ended = true));
      resolve(stream);
    });
    req.on('error', (error) => (stream.status === 0 ? reject(error) : void (stream.ended = true)));
    req.end();
  });
}

/** One event's lines, by the rules of the EventSource parser: an id alone moves `lastEventId` and dispatches nothing. */
function parse(
  block: string,
  stream: { events: ServerEvent[]; lastEventId: string | undefined },
  onEvent: (event: ServerEvent) => void,
): void {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') stream.lastEventId = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return;
  const dispatched = { id: stream.lastEventId, event, data: data.join('\n') };
  stream.events.push(dispatched);
  onEvent(dispatched);
}
