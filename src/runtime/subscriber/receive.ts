/**
 * Where deliveries come in and where they go out when they are not applied: a delivery is
 * parsed and its envelope checked; one that can never be applied (malformed, failing its
 * schema, `Unprocessable`) is parked with its reason; one that failed is retried with backoff
 * through the broker, then parked after its last attempt; one that waited too long in memory
 * is deferred to a retry queue, where it holds no prefetch slot.
 */
import type { Delivery } from '../../transport/transport.js';
import type { CompiledValidator } from '../contract.js';
import type { Envelope } from '../envelope.js';
import { SubscriberError, Unprocessable } from '../../common/errors.js';
import type { SubscriberObserver } from '../observability/subscriber-observer.js';
import { describeErrors } from './types.js';

export interface ReceiverOptions {
  readonly validateEnvelope: CompiledValidator;
  readonly observer: SubscriberObserver;
  /** Attempts before a failing message is parked. */
  readonly maxAttempts: number;
  /** Delay before retry n (0-based). */
  retryDelayMs(attempt: number): number;
  report(error: Error, payload?: unknown): void;
}

export class Receiver {
  constructor(private readonly options: ReceiverOptions) {}

  /** The delivery's envelope; undefined when it was parked instead. */
  async envelope(delivery: Delivery): Promise<Envelope | undefined> {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(delivery.body.toString('utf8')) as Envelope;
    } catch (error) {
      await this.park(delivery, `malformed JSON: ${(error as Error).message}`);
      return undefined;
    }
    const validate = this.options.validateEnvelope;
    if (!validate(envelope)) {
      await this.park(delivery, `the envelope fails its schema: ${describeErrors(validate)}`, envelope);
      return undefined;
    }
    return envelope;
  }

  /** A message that could not be applied: parked if it never can be or tried its last time, else retried later. */
  async failed(delivery: Delivery, envelope: Envelope, error: unknown): Promise<void> {
    if (error instanceof Unprocessable) return this.park(delivery, error.message, envelope);
    const attempts = delivery.attempt + 1;
    const reason = `${(error as Error).message}`;
    this.options.report(
      new SubscriberError(`message ${envelope.id} failed (attempt ${attempts}): ${reason}`, { cause: error }),
      envelope,
    );
    if (attempts >= this.options.maxAttempts)
      return this.park(delivery, `failed ${attempts} times: ${reason}`, envelope);
    this.options.observer.retried(delivery, error as Error);
    await delivery.retry(error as Error, this.options.retryDelayMs(delivery.attempt));
  }

  /** Sends the message to wait in a retry queue, so that it holds no prefetch slot meanwhile. */
  async defer(delivery: Delivery, envelope: Envelope, since: number): Promise<void> {
    this.options.observer.deferred(delivery, envelope, since);
    await delivery.defer(200, since);
  }

  private async park(delivery: Delivery, reason: string, envelope?: Envelope): Promise<void> {
    this.options.report(
      new SubscriberError(`message ${delivery.messageId ?? '?'} parked: ${reason}`),
      envelope ?? delivery.body.toString('utf8'),
    );
    this.options.observer.parked(delivery, reason);
    await delivery.park(reason);
  }
}
