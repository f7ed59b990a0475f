/**
 * Writing to the broker on the confirm channel. Publisher confirms are pipelined: a batch is
 * written at once, in frames, and its confirms awaited together, never one by one.
 */
import type { ConfirmChannel, Options } from 'amqplib';
import { PublisherError } from '../../common/errors.js';
import type { OutgoingMessage } from '../transport.js';
import { frameBody, frameHeader, frames } from './frames.js';

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
      ...(single ? {} : { headers: { [frameHeader]: ids } }),
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

/** Writes one message straight to a queue; resolves once the broker confirmed it. */
export function sendConfirmed(
  channel: ConfirmChannel,
  queue: string,
  body: Buffer,
  properties: Options.Publish,
): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    channel.sendToQueue(queue, body, properties, (error: unknown) => (error ? reject(error) : resolve())),
  );
}

/** The properties of a message written to a queue again: persistent JSON, under its id when it has one. */
export function persistentJson(messageId: string | undefined): Options.Publish {
  return { persistent: true, contentType: 'application/json', ...(messageId ? { messageId } : {}) };
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
