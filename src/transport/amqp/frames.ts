/**
 * A frame: several messages published together under the same routing keys, their bodies
 * joined by newlines (JSON text holds none), their ids in {@link frameHeader}, in order; their
 * signatures, when they have some, on one more line (a JSON list), which
 * {@link signatureLineHeader} announces. One
 * frame costs the broker, the publisher confirms and the consumer's prefetch what one message
 * costs; the consumer acknowledges it once each of its messages is settled, and a message of
 * it that is retried, deferred or parked travels on alone.
 */
import type { ConsumeMessage } from 'amqplib';
import type { OutgoingMessage } from '../transport.js';
import { signatureHeader } from './headers.js';

/** The ids of a frame's messages, in order; absent on a broker message that carries one. */
export const frameHeader = 'x-promiscuous-frame';
/**
 * Set on a frame whose last line lists its messages' signatures. In the body rather than the
 * header: the broker parses every header of every message it routes, and a header of fifty
 * signatures of some 330 characters each doubled its CPU per message.
 */
export const signatureLineHeader = 'x-promiscuous-signature-line';
/** A frame stops growing at this many bytes, whatever its count. */
const frameBytes = 512 * 1024;
/**
 * A frame stops growing when its messages' ids reach this many bytes: they go in the broker
 * message's header, which must fit one AMQP frame (RabbitMQ's `frame_max`, 128 KiB by default).
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
    const header = message.messageId.length + 8;
    const bytes = message.body.length + (message.signature?.length ?? 0) + 4;
    if (
      signature === undefined ||
      !frame ||
      frame.messages.length >= size ||
      frame.bytes + bytes > frameBytes ||
      frame.header + header > headerBytes
    ) {
      frame = { routingKeys, messages: [], bytes: 0, header: 0 };
      if (signature !== undefined) open.set(signature, frame);
      out.push(frame);
    }
    frame.messages.push(message);
    frame.bytes += bytes;
    frame.header += header;
  }
  return out;
}

/** Whether a frame carries its signatures on a last line (see {@link signatureLineHeader}). */
export function signedFrame(frame: Frame): boolean {
  return frame.messages.length > 1 && frame.messages.some((m) => m.signature !== undefined);
}

/**
 * What a frame's broker message carries: its one message's body, or all its bodies, one a
 * line, and then their signatures when it has some.
 */
export function frameBody(frame: Frame): Buffer {
  if (frame.messages.length === 1) return (frame.messages[0] as OutgoingMessage).body;
  const parts: Buffer[] = [];
  for (const { body } of frame.messages) {
    if (parts.length > 0) parts.push(Buffer.of(newline));
    parts.push(body);
  }
  if (signedFrame(frame)) {
    parts.push(Buffer.of(newline), Buffer.from(JSON.stringify(frame.messages.map((m) => m.signature ?? ''))));
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
  const lines = splitLines(message.content);
  const signed = message.properties.headers?.[signatureLineHeader] ? signatureLine(lines.pop()) : [];
  return lines.map((body, i) => ({
    body,
    messageId: String(ids[i] ?? '') || undefined,
    signature: typeof signed[i] === 'string' && signed[i] !== '' ? (signed[i] as string) : undefined,
  }));
}

/** The signatures a frame's last line lists; none when it is not such a line. */
function signatureLine(line: Buffer | undefined): unknown[] {
  try {
    const parsed: unknown = JSON.parse(line?.toString('utf8') ?? '');
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
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
