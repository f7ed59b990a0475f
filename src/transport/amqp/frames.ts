/**
 * A frame: several messages published together under the same routing keys, their bodies
 * joined by newlines (JSON text holds none), their ids in {@link frameHeader}, in order. One
 * frame costs the broker, the publisher confirms and the consumer's prefetch what one message
 * costs; the consumer acknowledges it once each of its messages is settled, and a message of
 * it that is retried, deferred or parked travels on alone.
 */
import type { ConsumeMessage } from 'amqplib';
import type { OutgoingMessage } from '../transport.js';
import { signatureHeader } from './headers.js';

/** The ids of a frame's messages, in order; absent on a broker message that carries one. */
export const frameHeader = 'x-promiscuous-frame';
/** A frame stops growing at this many bytes, whatever its count. */
const frameBytes = 512 * 1024;
/**
 * A frame stops growing when its messages' ids and signatures reach this many bytes: they go in
 * the broker message's header, which must fit one AMQP frame (RabbitMQ's `frame_max`, 128 KiB by
 * default).
 */
const headerBytes = 64 * 1024;
const newline = 0x0a;

export interface Frame {
  readonly routingKeys: readonly string[];
  readonly messages: OutgoingMessage[];
}

/**
 * Groups messages under the same routing keys into frames of at most `size` messages (and
 * {@link frameBytes}), in their order: each queue then gets exactly the messages it would
 * have got one by one.
 */
export function frames(messages: readonly OutgoingMessage[], size: number): Frame[] {
  const open = new Map<string, Frame & { bytes: number; header: number }>();
  const out: Frame[] = [];
  for (const message of messages) {
    const routingKeys = [...message.routingKeys].sort();
    // A body with a newline of its own (not one the runtime wrote) travels alone.
    const signature = message.body.includes(newline) ? undefined : routingKeys.join(' ');
    let frame = signature === undefined ? undefined : open.get(signature);
    const header = message.messageId.length + (message.signature?.length ?? 0) + 8;
    if (
      signature === undefined ||
      !frame ||
      frame.messages.length >= size ||
      frame.bytes + message.body.length > frameBytes ||
      frame.header + header > headerBytes
    ) {
      frame = { routingKeys, messages: [], bytes: 0, header: 0 };
      if (signature !== undefined) open.set(signature, frame);
      out.push(frame);
    }
    frame.messages.push(message);
    frame.bytes += message.body.length + 1;
    frame.header += header;
  }
  return out;
}

/** What a frame's broker message carries: its one message's body, or all its bodies, one a line. */
export function frameBody(frame: Frame): Buffer {
  if (frame.messages.length === 1) return (frame.messages[0] as OutgoingMessage).body;
  const parts: Buffer[] = [];
  for (const { body } of frame.messages) {
    if (parts.length > 0) parts.push(Buffer.of(newline));
    parts.push(body);
  }
  return Buffer.concat(parts);
}

/** One message of a broker message, as {@link unframe} reads it. */
export interface Unframed {
  readonly body: Buffer;
  readonly messageId: string | undefined;
  readonly signature: string | undefined;
}

/** The messages a broker message carries, with their ids and signatures: one, or a frame's. */
export function unframe(message: Pick<ConsumeMessage, 'content' | 'properties'>): Unframed[] {
  const ids = message.properties.headers?.[frameHeader];
  const signatures: unknown = message.properties.headers?.[signatureHeader];
  if (!Array.isArray(ids)) {
    const signature = typeof signatures === 'string' && signatures !== '' ? signatures : undefined;
    return [{ body: message.content, messageId: message.properties.messageId as string | undefined, signature }];
  }
  const signed = Array.isArray(signatures) ? signatures : [];
  return splitLines(message.content).map((body, i) => ({
    body,
    messageId: String(ids[i] ?? '') || undefined,
    signature: typeof signed[i] === 'string' && signed[i] !== '' ? (signed[i] as string) : undefined,
  }));
}

function splitLines(content: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let end = content.indexOf(newline); end !== -1; end = content.indexOf(newline, start)) {
    out.push(content.subarray(start, end));
    start = end + 1;
  }
  out.push(content.subarray(start));
  return out;
}
