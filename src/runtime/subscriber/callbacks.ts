/**
 * The app's callbacks on what it applies or observes, by local name. They run in the apply
 * transaction, after their row is written and before commit: if one throws, nothing is
 * recorded and the message is retried. Each event carries a stable idempotency key for side
 * effects outside the database.
 */
import type { ObservedEvent, ObserverCallbacks } from '../contract.js';
import type { Envelope, OperationMessage } from '../envelope.js';

export class CallbackRunner {
  constructor(private readonly byTarget: Readonly<Record<string, ObserverCallbacks<unknown>>> | undefined) {}

  /** Whether the subscription or observer has callbacks. */
  has(target: string): boolean {
    return Boolean(this.byTarget?.[target]);
  }

  /** Runs the target's callbacks for an operation just written. */
  async run(target: string, op: OperationMessage, envelope: Envelope): Promise<void> {
    const callbacks = this.byTarget?.[target];
    if (!callbacks) return;
    const event: ObservedEvent<unknown> = {
      id: op.id,
      type: op.types[0] ?? target,
      operation: op.operation,
      version: op.version,
      attributes: op.attributes,
      idempotencyKey: `${op.endpoint}:${op.id}:${op.version}${op.operation === 'sync' ? ':sync' : ''}`,
      envelope,
    };
    const specific = {
      create: callbacks.afterCreate,
      update: callbacks.afterUpdate,
      destroy: callbacks.afterDestroy,
      sync: callbacks.afterSync,
    }[op.operation];
    await specific?.(event);
    if (op.operation === 'create' || op.operation === 'update') await callbacks.afterSave?.(event);
  }
}
