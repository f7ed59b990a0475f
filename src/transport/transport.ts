/**
 * What the runtime needs of a message broker. The AMQP transport is the real one; the memory
 * transport gives users' unit tests the same behaviour in one process; the null transport
 * publishes nothing.
 */

export interface OutgoingMessage {
  /** Every routing key the message is published under (one copy still reaches each queue). */
  readonly routingKeys: readonly string[];
  readonly messageId: string;
  readonly body: Buffer;
  /**
   * The sender's signature of `body` (`<key id>.<signature>`), opaque to the transport: it
   * travels with the message through frames, retries, deferrals and the parked queue.
   */
  readonly signature?: string;
}

export interface Delivery {
  readonly body: Buffer;
  readonly messageId: string | undefined;
  /** The signature the message was published with, if any (see {@link OutgoingMessage.signature}). */
  readonly signature?: string | undefined;
  /** How many times this message was retried before this delivery (0 the first time). */
  readonly attempt: number;
  /** When the subscriber first deferred this message to wait for a dependency, if it did. */
  readonly waitingSince: number | undefined;
  readonly redelivered: boolean;
  /** How many messages the broker message that carried this one held (a frame's count; 1 or absent: alone). */
  readonly framed?: number;
  /** Done: remove the message. */
  ack(): Promise<void>;
  /** Try again after `delayMs`, without blocking other messages. */
  retry(error: Error, delayMs: number): Promise<void>;
  /** Not ready yet (a dependency is missing): deliver it again after `delayMs`, without counting an attempt. */
  defer(delayMs: number, waitingSince: number): Promise<void>;
  /** Give up: move the message to the app's parked queue, with the reason. */
  park(reason: string): Promise<void>;
}

export interface ConsumeOptions {
  /** How many unacknowledged messages the broker hands this worker at once. */
  readonly prefetch: number;
  readonly bindings: readonly string[];
}

export interface Consumer {
  /** Stops taking new messages; resolves once the ones in flight are settled. */
  stop(): Promise<void>;
}

export interface ParkedMessage {
  readonly messageId: string | undefined;
  readonly reason: string;
  readonly attempts: number;
  readonly parkedAt: number;
  readonly body: Buffer;
  readonly signature?: string | undefined;
}

/** How many messages an app's queues hold, as the broker counts them. */
export interface QueueStats {
  /** Waiting in the app's queue to be delivered (not those delivered and not yet acknowledged). */
  readonly ready: number;
  /** In the app's retry queues: failed messages waiting out their backoff, and deferred ones waiting for a dependency. */
  readonly retrying: number;
  readonly parked: number;
  /** Workers consuming the app's queue. */
  readonly consumers: number;
}

/** A process's own address for replies (acknowledgements), and what stops it. */
export interface Listener {
  /** Where replies to this process go; a new one once the broker connection was lost, undefined while away. */
  address(): string | undefined;
  stop(): Promise<void>;
}

export interface Transport {
  /** Resolves once the broker confirmed every message; rejects when any was not. */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  /** Receives what is sent to this process's address ({@link Transport.reply}), with its signature, until stopped. */
  listen(handle: (body: Buffer, signature: string | undefined) => void): Promise<Listener>;
  /** Sends a message to a listener's address; resolves once the broker took it (one gone drops it). */
  reply(address: string, message: Omit<OutgoingMessage, 'routingKeys'>): Promise<void>;
  consume(app: string, options: ConsumeOptions, handle: (delivery: Delivery) => Promise<void>): Promise<Consumer>;
  /** The messages parked for an app, oldest first, left in place. */
  parked(app: string): Promise<ParkedMessage[]>;
  /** Moves parked messages back to the app's queue (all, or those with these ids). */
  retryParked(app: string, messageIds?: readonly string[]): Promise<number>;
  dropParked(app: string, messageIds?: readonly string[]): Promise<number>;
  /**
   * The app's queue depths, read without declaring anything; `undefined` when its queue does
   * not exist. Optional, so that a wrapping transport need not forward it; without it, a
   * status knows nothing of the queues.
   */
  stats?(app: string): Promise<QueueStats | undefined>;
  /** Whether the broker can be reached right now. */
  healthy(): boolean;
  close(): Promise<void>;
}
