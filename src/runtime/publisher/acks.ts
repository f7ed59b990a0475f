/**
 * Acknowledgements from required subscribers, as gilmsg gave them: a transaction's message
 * names the subscriber apps that must acknowledge it and this process's address; each of
 * them, once its transaction that applied the message committed, sends back the message's id.
 * The change is committed whatever comes back: a missing acknowledgement may have been lost
 * (a false negative), but one received was earned (no false positive).
 */
import { PublisherError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Listener, Transport } from '../../transport/transport.js';
import type { Metrics } from '../observability/metrics.js';
import type { Verifier } from '../signatures/verifier.js';

/** How long `transaction` waits for acknowledgements by default. */
export const defaultAckTimeoutMs = 5_000;

export interface TransactionOptions {
  /** Subscriber apps that must acknowledge the transaction's message once they applied it. */
  readonly requireAcks?: readonly string[];
  /** How long to wait for them after commit (default 5 s). */
  readonly ackTimeoutMs?: number;
}

/**
 * Thrown by `publisher.transaction` when a required app did not acknowledge in time. The
 * transaction is committed all the same: `value` is what its function returned.
 */
export class AcknowledgementTimeout<T = unknown> extends Error {
  override readonly name = 'AcknowledgementTimeout';

  constructor(
    readonly messageId: string,
    /** The apps that did not acknowledge. */
    readonly missing: readonly string[],
    readonly acknowledged: readonly string[],
    readonly value: T,
    timeoutMs: number,
  ) {
    super(
      `message ${messageId} is committed, but ${missing.join(', ')} did not acknowledge it within ${timeoutMs} ms` +
        (acknowledged.length > 0 ? ` (${acknowledged.join(', ')} did)` : ''),
    );
  }
}

/** What a subscriber sends back: its app and the id of the message it applied. */
export interface AckMessage {
  readonly kind: 'ack';
  readonly app: string;
  readonly message: string;
}

/** The acknowledgements a transaction's message asks for, and the wait to register for them before commit. */
export interface AckRequest {
  readonly apps: readonly string[];
  readonly to: string;
  expect(messageId: string): void;
}

/** A message's wait for its acknowledgements, registered before its transaction commits. */
export interface Expected {
  readonly messageId: string;
  /** Forgets the wait: the transaction rolled back. */
  cancel(): void;
  /** Waits, from now (the commit), until every app acknowledged or `timeoutMs` passed; resolves to who did not. */
  settle(timeoutMs: number): Promise<{ readonly missing: string[]; readonly acknowledged: string[] }>;
}

interface Waiting {
  readonly missing: Set<string>;
  readonly acknowledged: string[];
  committedAt: number;
  done?: () => void;
}

export class Acknowledgements {
  private listener: Promise<Listener> | undefined;
  private readonly waiting = new Map<string, Waiting>();
  /** Every app a transaction of this process asked to acknowledge. */
  private readonly asked = new Set<string>();

  private readonly log: Logger;
  private readonly verifier: Verifier | undefined;

  /** `verifier`: acknowledgements must be signed by the app they name, as it says (its `require` included). */
  constructor(
    private readonly app: string,
    private readonly transport: Transport,
    private readonly metrics: Metrics,
    options: { readonly log: Logger; readonly verifier?: Verifier },
  ) {
    this.log = options.log;
    this.verifier = options.verifier;
  }

  /** This process's address for acknowledgements; it listens from the first call on. */
  async address(): Promise<string> {
    this.listener ??= this.transport.listen((body, signature) => {
      this.received(body, signature).catch((error: unknown) =>
        this.log.warn({ err: error }, 'could not read an acknowledgement: ignored'),
      );
    });
    let listener: Listener;
    try {
      listener = await this.listener;
    } catch (error) {
      this.listener = undefined;
      throw new PublisherError('cannot wait for acknowledgements: listening failed', { cause: error });
    }
    const address = listener.address();
    if (!address) throw new PublisherError('cannot wait for acknowledgements: the broker is away');
    return address;
  }

  /**
   * Runs a transaction whose message asks `apps` to acknowledge it (`commit` registers the
   * wait through the request before it commits), then waits: resolves to the transaction's
   * value once every app answered, or rejects with an AcknowledgementTimeout that carries it.
   */
  async around<T>(apps: readonly string[], timeoutMs: number, commit: (request: AckRequest) => Promise<T>): Promise<T> {
    const to = await this.address();
    let expected: Expected | undefined;
    let value: T;
    try {
      value = await commit({ apps, to, expect: (id) => (expected = this.expect(id, apps)) });
    } catch (error) {
      (expected as Expected | undefined)?.cancel();
      throw error;
    }
    // A transaction that published nothing has nothing to acknowledge.
    if (!expected) return value;
    const { missing, acknowledged } = await expected.settle(timeoutMs);
    if (missing.length > 0)
      throw new AcknowledgementTimeout(expected.messageId, missing, acknowledged, value, timeoutMs);
    return value;
  }

  expect(messageId: string, apps: readonly string[]): Expected {
    for (const app of apps) this.asked.add(app);
    const entry: Waiting = { missing: new Set(apps), acknowledged: [], committedAt: Date.now() };
    this.waiting.set(messageId, entry);
    return {
      messageId,
      cancel: () => void this.waiting.delete(messageId),
      settle: (timeoutMs) =>
        new Promise((resolve) => {
          entry.committedAt = Date.now();
          let finished = false;
          const finish = (): void => {
            if (finished) return;
            finished = true;
            clearTimeout(timer);
            this.waiting.delete(messageId);
            for (const app of entry.missing) this.metrics.ackTimeouts.inc({ app: this.app, subscriber: app });
            resolve({ missing: [...entry.missing], acknowledged: [...entry.acknowledged] });
          };
          const timer = setTimeout(finish, timeoutMs);
          entry.done = finish;
          if (entry.missing.size === 0) finish();
        }),
    };
  }

  /**
   * An acknowledgement: counted once for the message and app it names, if they were waited
   * for and, with a verifier, signed by that app's key.
   */
  private async received(body: Buffer, signature: string | undefined): Promise<void> {
    const ack = parseAck(body);
    const subscriber = typeof ack.app === 'string' ? ack.app : 'unknown';
    const refused = await this.refusal(ack, subscriber, body, signature);
    // Looked up after the check: the wait may have ended meanwhile.
    const entry = typeof ack.message === 'string' ? this.waiting.get(ack.message) : undefined;
    if (refused || ack.kind !== 'ack' || !entry || !entry.missing.has(subscriber)) {
      // Only apps this process asked name a series: anybody on the broker may claim any name.
      this.metrics.acksIgnored.inc({ app: this.app, subscriber: this.asked.has(subscriber) ? subscriber : 'unknown' });
      this.log.debug(
        { subscriber, messageId: ack.message, reason: refused },
        'ignored an acknowledgement nothing waits for',
      );
      return;
    }
    entry.missing.delete(subscriber);
    entry.acknowledged.push(subscriber);
    this.metrics.ackLatency.observe({ app: this.app, subscriber }, (Date.now() - entry.committedAt) / 1000);
    if (entry.missing.size === 0) entry.done?.();
  }

  /** Why a verifier refuses an acknowledgement: unsigned when required, a key not trusted, a body changed, another app's key. */
  private async refusal(
    ack: Partial<AckMessage>,
    subscriber: string,
    body: Buffer,
    signature: string | undefined,
  ): Promise<string | undefined> {
    if (!this.verifier) return undefined;
    const checked = await this.verifier.check(body, signature);
    if ('failure' in checked) return checked.reason;
    if (checked.signer !== undefined && checked.signer !== subscriber) {
      return `not owner: signed by ${checked.signer}'s key, for ${String(ack.app)}`;
    }
    return undefined;
  }

  async close(): Promise<void> {
    const listener = await this.listener?.catch(() => undefined);
    await listener?.stop();
  }
}

function parseAck(body: Buffer): Partial<AckMessage> {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Partial<AckMessage>) : {};
  } catch {
    return {};
  }
}
