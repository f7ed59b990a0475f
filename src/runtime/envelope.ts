/**
 * The wire format: one JSON message per publisher transaction. Its JSON Schema is in
 * src/common/envelope-schema.ts (written to each app's `schemas/envelope.schema.json`); the
 * subscriber validates every message with `validateEnvelope`.
 */

/**
 * `sync` carries an object's current state, read outside any transaction of the publisher's:
 * the answer to a re-sync request, or a row of an initial sync (`promiscuous publish`). It
 * needs no previous version and never replaces a newer one. Its `attributes` are `null` when
 * the publisher no longer has the row; its version is then {@link goneVersion}.
 */
export type Operation = 'create' | 'update' | 'destroy' | 'sync';

/**
 * The version of a `sync` for a row the publisher no longer has: a tombstone that every
 * message still on its way for that object is older than. Fits a signed 64-bit column.
 */
export const goneVersion = Number.MAX_SAFE_INTEGER;

export interface OperationMessage {
  /** The endpoint the type is published on: `crowdtap/user`. */
  readonly endpoint: string;
  /** The published type first, then its ancestors: `['Admin', 'User']`. */
  readonly types: readonly string[];
  /** The object's id, always as a string on the wire. */
  readonly id: string;
  readonly operation: Operation;
  /** The row's `_v` after this operation; every change bumps it. Ephemerals carry 1. */
  readonly version: number;
  /** Every published attribute (virtual ones included); `null` for a destroy. */
  readonly attributes: Readonly<Record<string, unknown>> | null;
}

export interface Dependency {
  readonly endpoint: string;
  readonly id: string;
  /** The subscriber applies the message only once it holds at least this version. */
  readonly version: number;
  /**
   * The object's type and its ancestors, when known: a subscriber waits only for objects it
   * stores or observes, and resolves them by type as it resolves operations.
   */
  readonly types?: readonly string[];
}

export interface Envelope {
  /** Wire format version. */
  readonly format: 1;
  /** Unique per message; duplicates of one message share it. */
  readonly id: string;
  readonly app: string;
  readonly host: string;
  /** Bumped each time the publisher's outbox is recreated, so old messages can be told apart. */
  readonly generation: number;
  /** Commit time in milliseconds since the epoch. */
  readonly timestamp: number;
  readonly context: { readonly name: string; readonly userId?: string } | null;
  readonly operations: readonly OperationMessage[];
  readonly dependencies: readonly Dependency[];
  /**
   * The trace context of the publisher's transaction, when a span was active and an
   * OpenTelemetry propagator is registered: what the propagator writes, for W3C
   * `{ traceparent, tracestate? }`. The subscriber's apply span is its child.
   */
  readonly trace?: Readonly<Record<string, string>>;
  /**
   * The subscriber apps the publisher waits for: each of them, once its transaction that
   * applied this message committed, sends an acknowledgement naming the message's id to `to`,
   * the publishing process's address.
   */
  readonly acks?: { readonly apps: readonly string[]; readonly to: string };
}
