/**
 * What the benchmarks' subscriber and publisher processes observe of a transport: which
 * operations a delivery carries, and each delivery or publish call as it passes.
 */
import type { Delivery, Envelope, Transport } from '../../src/runtime/index.js';
import { now } from './options.js';

/** An operation of a delivered message, as the benchmarks' subscribers record it. */
export interface DeliveredOperation {
  readonly endpoint: string;
  readonly id: string;
  readonly operation: string;
  readonly version: number;
}

const operationPattern =
  /"endpoint":"([^"]+)","types":\[[^\]]*\],"id":"([^"]+)","operation":"([a-z]+)","version":(\d+)/g;
/** Whether the pattern read the first message as parsing it did (undefined: no message yet). */
let patternReads: boolean | undefined;

/**
 * The operations of a delivered message, read off its text by a pattern: parsing each message
 * a second time, beside the subscriber's own parse, would count against the subscriber a share
 * of its CPU. The first message is parsed too; should the pattern not read it right (the
 * envelope's layout changed), every message is parsed, with a warning.
 */
export function deliveredOperations(body: Buffer): DeliveredOperation[] {
  const text = body.toString('utf8');
  if (patternReads === false) return parsedOperations(text);
  const found = [...text.matchAll(operationPattern)].map(([, endpoint, id, operation, version]) => ({
    endpoint: endpoint as string,
    id: id as string,
    operation: operation as string,
    version: Number(version),
  }));
  if (patternReads === undefined) {
    const parsed = parsedOperations(text);
    patternReads = JSON.stringify(parsed) === JSON.stringify(found);
    if (!patternReads) {
      console.warn('  the envelope pattern does not read the operations: every message is parsed again');
      return parsed;
    }
  }
  return found;
}

function parsedOperations(text: string): DeliveredOperation[] {
  try {
    return (JSON.parse(text) as Envelope).operations.map(({ endpoint, id, operation, version }) => ({
      endpoint,
      id,
      operation,
      version,
    }));
  } catch {
    return [];
  }
}

/**
 * The transport with its deliveries passed through `wrap` before the subscriber's handler
 * (everything else delegated as is, whatever methods the transport has).
 */
export function wrapConsume(
  transport: Transport,
  wrap: (delivery: Delivery, handle: (d: Delivery) => Promise<void>) => Promise<void>,
): Transport {
  return replacing(transport, 'consume', (app, options, handle) =>
    transport.consume(app, options, (d) => wrap(d, handle)),
  );
}

/** The transport with each `publish` call timed: messages and milliseconds until the broker confirmed them. */
export function timePublish(transport: Transport, onPublished: (messages: number, ms: number) => void): Transport {
  return replacing(transport, 'publish', async (messages) => {
    const at = now();
    await transport.publish(messages);
    onPublished(messages.length, now() - at);
  });
}

function replacing<K extends keyof Transport>(transport: Transport, key: K, value: Transport[K]): Transport {
  return new Proxy(transport, {
    get(target, prop) {
      if (prop === key) return value;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
