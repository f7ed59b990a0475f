/**
 * The wire format: one JSON message per publisher transaction. Its JSON Schema is generated
 * (`schemas/envelope.schema.json`) and validated by compiled validators on the subscriber.
 */

export type Operation = 'create' | 'update' | 'destroy';

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
}
