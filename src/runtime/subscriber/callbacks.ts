/**
 * The app's callbacks on what it applies or observes, by local name. They run in the apply
 * transaction, after their row is written and before commit: if one throws, nothing is
 * recorded and the message is retried. Each event carries that transaction, for writes that
 * must commit with the operation, and a stable idempotency key for side effects outside the
 * database.
 */
import type { Knex } from 'knex';
import { SubscriberError } from '../../common/errors.js';
import type { ObservedEvent, ObserverCallbacks, SubscriberSchema } from '../contract.js';
import type { Envelope, OperationMessage } from '../envelope.js';

type CallbacksByTarget = Readonly<Record<string, ObserverCallbacks<unknown>>>;

export class CallbackRunner {
  /** Throws when a callback names no subscription or observer of the app, or no callback kind. */
  constructor(
    schema: SubscriberSchema<unknown>,
    private readonly byTarget: CallbacksByTarget | undefined,
  ) {
    const problems = callbacksProblems(schema, byTarget ?? {});
    if (problems.length > 0) {
      throw new SubscriberError(`the callbacks of ${schema.app} do not match its routes: ${problems.join('; ')}`);
    }
  }

  /** Whether the subscription or observer has callbacks. */
  has(target: string): boolean {
    return Boolean(this.byTarget?.[target]);
  }

  /** Runs the target's callbacks for an operation just written in `trx`. */
  async run(target: string, op: OperationMessage, envelope: Envelope, trx: Knex.Transaction): Promise<void> {
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
      trx,
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

/** Every kind of callback the runner calls: a kind added to `ObserverCallbacks` must be listed. */
const callbackKinds = Object.keys({
  afterCreate: true,
  afterUpdate: true,
  afterDestroy: true,
  afterSave: true,
  afterSync: true,
} satisfies Record<keyof ObserverCallbacks<unknown>, true>);

/**
 * What keeps an app's callbacks from matching its routes: a local name that is no
 * subscription or observer, or a callback that is none of the kinds the runtime calls (a
 * misspelt one would never run).
 */
export function callbacksProblems(schema: SubscriberSchema<unknown>, byTarget: CallbacksByTarget): string[] {
  const targets = [...Object.keys(schema.subscriptions), ...Object.keys(schema.observers)];
  const problems: string[] = [];
  for (const [target, callbacks] of Object.entries(byTarget)) {
    if (!targets.includes(target)) {
      problems.push(`${target} is no subscription or observer (${schema.app} has ${targets.join(', ') || 'none'})`);
      continue;
    }
    for (const [kind, callback] of Object.entries(callbacks ?? {})) {
      if (!callbackKinds.includes(kind)) {
        problems.push(`${target}.${kind} is no callback (use ${callbackKinds.join(', ')})`);
      } else if (callback !== undefined && typeof callback !== 'function') {
        problems.push(`${target}.${kind} is not a function`);
      }
    }
  }
  return problems;
}
