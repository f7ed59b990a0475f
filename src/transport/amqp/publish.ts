/**
 * Writing to the broker on the confirm channel. Publisher confirms are pipelined: a batch is
 * written at once, in frames, and its confirms awaited together, never one by one.
 */
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { PublisherError } from '../../common/errors.js';
import type { OutgoingMessage } from '../transport.js';
import { type Frame, frameBody, frameHeader, frames, signatureLineHeader, signedFrame } from './frames.js';
import { returnTagHeader, signatureHeader } from './headers.js';

/** Publishes messages to the exchange in frames of at most `frameSize`; resolves once the broker confirmed them all. */
export async function publishFrames(
  channel: ConfirmChannel,
  exchange: string,
  messages: readonly OutgoingMessage[],
  frameSize: number,
): Promise<void> {
  const confirms: Promise<void>[] = [];
  for (const frame of frames(messages, frameSize)) {
    const [first, ...others] = frame.routingKeys;
    if (first === undefined) continue;
    const ids = frame.messages.map((m) => m.messageId);
    const single = ids.length === 1;
    const properties: Options.Publish = {
      persistent: true,
      contentType: 'application/json',
      messageId: single ? (ids[0] as string) : `${ids[0]}+${ids.length - 1}`,
      ...frameHeaders(frame),
      // Sender-selected distribution: one copy per queue, whichever keys match.
      ...(others.length > 0 ? { CC: others } : {}),
    };
    let written = true;
    confirms.push(
      new Promise<void>((resolve, reject) => {
        written = channel.publish(exchange, first, frameBody(frame), properties, (error: unknown) =>
          error
            ? reject(new PublisherError(`RabbitMQ did not confirm message ${ids.join(', ')}`, { cause: error }))
            : resolve(),
        );
      }),
    );
    // The socket buffer is full: wait for it to drain before writing more (or for the channel
    // to close, which fails the confirms awaited below).
    if (!written) await drainedOrClosed(channel);
  }
  await Promise.all(confirms);
}

/**
 * The headers of a frame's broker message: its ids when it carries several (and that its last
 * line lists their signatures), or its one message's signature.
 */
function frameHeaders(frame: Frame): Pick<Options.Publish, 'headers'> {
  const { messages } = frame;
  const headers: Record<string, unknown> = {};
  if (messages.length > 1) headers[frameHeader] = messages.map((m) => m.messageId);
  if (signedFrame(frame)) headers[signatureLineHeader] = 1;
  else if (messages.length === 1 && messages[0]?.signature !== undefined)
    headers[signatureHeader] = messages[0].signature;
  return Object.keys(headers).length === 0 ? {} : { headers };
}

/** What became of a message written straight to a queue: a queue holds it, or there was no such queue. */
export type Queued = 'queued' | 'no queue';

/** By channel: the tags ({@link returnTagHeader}) of the messages the broker returned, not yet confirmed. */
const returnedOn = new WeakMap<ConfirmChannel, Set<string>>();
let lastTag = 0;

/**
 * Writes one message straight to a queue, mandatory, and resolves once the broker confirmed
 * it: to `'queued'`, or to `'no queue'` when the broker returned it because no queue of that
 * name exists (without `mandatory` the broker would confirm it all the same, and drop it).
 * RabbitMQ sends a returned message's basic.return before its basic.ack, on the same channel,
 * so the return is known when the confirm arrives; the tag header says which message came
 * back. Rejects when the broker refuses the message (nack) or the channel closes before the
 * confirm: whether a queue holds it is then unknown.
 */
export function sendToQueue(
  channel: ConfirmChannel,
  queue: string,
  body: Buffer,
  properties: Options.Publish,
): Promise<Queued> {
  const returned = returnsOf(channel);
  const tag = String((lastTag += 1));
  const sent = { ...properties, mandatory: true, headers: { ...properties.headers, [returnTagHeader]: tag } };
  return new Promise<Queued>((resolve, reject) =>
    channel.sendToQueue(queue, body, sent, (error: unknown) =>
      error ? reject(error) : resolve(returned.delete(tag) ? 'no queue' : 'queued'),
    ),
  );
}

/** The tags of the messages the broker returned on `channel`, listened to from its first mandatory message on. */
function returnsOf(channel: ConfirmChannel): Set<string> {
  let returned = returnedOn.get(channel);
  if (!returned) {
    const tags = new Set<string>();
    channel.on('return', (message: Message) => {
      const tag = message.properties.headers?.[returnTagHeader];
      if (typeof tag === 'string') tags.add(tag);
    });
    returnedOn.set(channel, (returned = tags));
  }
  return returned;
}

/**
 * The properties of a message written to a queue again: persistent JSON, under its id when it
 * has one, with its signature when it has one.
 */
export function persistentJson(messageId: string | undefined, signature?: string): Options.Publish {
  return {
    persistent: true,
    contentType: 'application/json',
    ...(messageId ? { messageId } : {}),
    ...(signature ? { headers: { [signatureHeader]: signature } } : {}),
  };
}

function drainedOrClosed(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.once('drain', done);
    channel.once('close', done);
  });
}
