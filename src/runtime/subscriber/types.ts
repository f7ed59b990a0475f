/**
 * What passes between the subscriber's stages: a message's plans and requirements, the
 * versions read and written, and the message waiting for its transaction. Small helpers that
 * more than one stage uses sit here too.
 */
import type { CompiledValidator, SubscriptionDescriptor } from '../contract.js';
import type { ObjectRef } from '../db/database.js';
import type { Envelope, OperationMessage } from '../envelope.js';

/** One operation of a message, where it goes, and the key of its object. */
export interface Plan {
  readonly op: OperationMessage;
  readonly key: string;
  readonly subscription?: SubscriptionDescriptor;
  /** The subscription's and the observers' names: where the operation is written or seen. */
  readonly targets: readonly string[];
}

/** An object version a message needs applied before it. */
export interface Requirement extends ObjectRef {
  readonly key: string;
  readonly version: number;
}

/** An object's version as stored, or as a transaction leaves it. */
export interface Stored {
  readonly version: number;
  readonly destroyed: boolean;
}

/** A message waiting, with others that arrived together, for its transaction. */
export interface Pending {
  readonly envelope: Envelope;
  readonly plans: readonly Plan[];
  readonly requirements: readonly Requirement[];
  /** Until when the message may be held for the next transaction when it finds a dependency missing. */
  readonly holdUntil: number;
  resolve(missing: Requirement[]): void;
  reject(error: unknown): void;
}

/** No requirements, and no waiting for dependents either: bareback, or recovery after the timeout. */
export const lax: readonly Requirement[] = [];

/** Thrown inside the apply transaction to roll it back when something must be applied first. */
export class NotReady extends Error {
  constructor(readonly missing: Requirement[]) {
    super('waiting for dependencies');
  }
}

/**
 * The key of an object in the subscriber: in its maps, its Redis locks and wake-ups (so
 * every worker of an app must build it alike).
 */
export function objectKey(publisher: string, endpoint: string, id: string): string {
  return `${publisher}:${endpoint}:${id}`;
}

export function describeRequirement(r: Requirement): string {
  return `${r.endpoint} ${r.id} at version ${r.version}`;
}

/** Sets a key as the newest of a map kept to `limit` keys: past it, the oldest fifth is forgotten. */
export function latest<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size <= limit) return;
  let forget = Math.ceil(limit / 5);
  for (const old of map.keys()) {
    if (forget-- <= 0) break;
    map.delete(old);
  }
}

/** A validator's errors, in one line. */
export function describeErrors(validate: CompiledValidator): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}
