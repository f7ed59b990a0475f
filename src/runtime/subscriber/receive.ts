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
import { SinkError, SubscriberError, Unprocessable } from '../../common/errors.js';
import { errorText, type Logger } from '../../common/logger.js';
import type { SubscriberObserver } from '../observability/subscriber-observer.js';
import { foreignClaim, type SignatureFailure, signatureKeyId, type Verifier } from '../signatures/verifier.js';
import { describeErrors } from './types.js';

export interface ReceiverOptions {
  readonly validateEnvelope: CompiledValidator;
  /** Checks each message's signature against the keys the app trusts; none: signatures are not checked. */
  readonly verifier?: Verifier | undefined;
  readonly observer: SubscriberObserver;
  /** Attempts before a failing message is parked (a failing sink may set its own). */
  readonly maxAttempts: number;
  /** Delay before retry n (0-based). */
  retryDelayMs(attempt: number): number;
  report(error: Error, payload?: unknown): void;
  readonly log: Logger;
}

export class Receiver {
  constructor(private readonly options: ReceiverOptions) {}

  /** The delivery's envelope, its signature verified; undefined when it was parked instead. */
  async envelope(delivery: Delivery): Promise<Envelope | undefined> {
    const verifier = this.options.verifier;
    // Verified before it is parsed: a body altered on the way is told as such, not as malformed.
    const checked = verifier ? await verifier.check(delivery.body, delivery.signature) : { signer: undefined };
    if ('failure' in checked) {
      await this.reject(delivery, checked.failure, checked.reason);
      return undefined;
    }
    const envelope = await this.parsed(delivery);
    if (!envelope || checked.signer === undefined) return envelope;
    const endpoints = envelope.operations.map((op) => op.endpoint);
    const keyId = signatureKeyId(delivery.signature as string);
    const foreign = foreignClaim(checked.signer, keyId, envelope.app, endpoints);
    if (foreign === undefined) return envelope;
    await this.reject(delivery, 'not-owner', foreign, envelope);
    return undefined;
  }

  /** The delivery's envelope, parsed and checked against its schema; undefined when it was parked instead. */
  private async parsed(delivery: Delivery): Promise<Envelope | undefined> {
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
    // The driver's words without the statement: the notification, the log and the parked
    // message's header would otherwise carry every value the transaction wrote.
    const reason = errorText(error);
    this.options.report(
      new SubscriberError(`message ${envelope.id} failed (attempt ${attempts}): ${reason}`, { cause: error }),
      envelope,
    );
    // A sink may allow its API more attempts (or fewer) than the subscriber's.
    const maxAttempts =
      error instanceof SinkError ? (error.attempts ?? this.options.maxAttempts) : this.options.maxAttempts;
    if (attempts >= maxAttempts) return this.park(delivery, `failed ${attempts} times: ${reason}`, envelope, error);
    const delayMs = this.options.retryDelayMs(delivery.attempt);
    this.options.log.warn(
      { messageId: envelope.id, publisher: envelope.app, attempt: attempts, retryInMs: delayMs, err: error },
      'failed to apply a message; retrying it later',
    );
    this.options.observer.retried(delivery, error as Error);
    await delivery.retry(error as Error, delayMs);
  }

  /** Sends the message to wait in a retry queue, so that it holds no prefetch slot meanwhile. */
  async defer(delivery: Delivery, envelope: Envelope, since: number): Promise<void> {
    this.options.log.debug(
      { messageId: envelope.id, publisher: envelope.app, waitedMs: Date.now() - since },
      'deferring a message that waits for a dependency or an object another worker holds',
    );
    this.options.observer.deferred(delivery, envelope, since);
    await delivery.defer(200, since);
  }

  /**
   * Parks a message that fails verification, counted by reason under the app it claims to come
   * from when that app has a trusted key (`unknown` otherwise, so that forged names cannot
   * multiply the metric's series).
   */
  private async reject(
    delivery: Delivery,
    failure: SignatureFailure,
    reason: string,
    envelope?: Envelope,
  ): Promise<void> {
    const claimed = envelope?.app ?? claimedApp(delivery.body);
    const publisher = claimed !== undefined && this.options.verifier?.trusts(claimed) ? claimed : 'unknown';
    this.options.observer.rejected(publisher, failure);
    await this.park(delivery, reason, envelope);
  }

  private async park(delivery: Delivery, reason: string, envelope?: Envelope, error?: unknown): Promise<void> {
    const messageId = delivery.messageId ?? envelope?.id;
    this.options.report(
      new SubscriberError(`message ${messageId ?? '?'} parked: ${reason}`),
      envelope ?? delivery.body.toString('utf8'),
    );
    this.options.log.error(
      { messageId, ...(envelope ? { publisher: envelope.app } : {}), reason, ...(error ? { err: error } : {}) },
      'parked a message: `promiscuous parked list` shows it',
    );
    this.options.observer.parked(delivery, reason);
    await delivery.park(reason);
  }
}

/** The app a body says it comes from, if it can be read at all. */
function claimedApp(body: Buffer): string | undefined {
  try {
    const app: unknown = (JSON.parse(body.toString('utf8')) as { app?: unknown } | null)?.app;
    return typeof app === 'string' ? app : undefined;
  } catch {
    return undefined;
  }
}
