/**
 * Group commit: messages that arrive together (within the prefetch window) are applied in one
 * database transaction: one version read, one version write, one commit. What arrives while
 * a transaction runs goes together in the next; a backlog gets a few transactions at once.
 * If anything in a batch's transaction fails, each of its messages is applied again on its
 * own, so that only the faulty one fails.
 *
 * A message its transaction found missing a requirement may be held for the next one first,
 * which likely brings it (a backlog comes in frames grouped by routing key, not in commit
 * order): there it is applied after it, instead of in a transaction of its own once woken.
 */
import { Deadlock } from '../db/deadlock.js';
import type { Applier } from './apply.js';
import type { Pending, Requirement } from './types.js';

/** How long a message that found a dependency missing may wait for the next transaction. */
export const holdMs = 50;

/** Operations waiting for the next transaction that make a backlog, worth a transaction beside the running one. */
const backlogOperations = 200;

export interface GroupCommitOptions {
  readonly applier: Applier;
  /** Transactions at once when a backlog waits. */
  readonly concurrency: number;
  /** Whether an object was applied since a moment (`performance.now()`), by this process or, through Redis, another. */
  appliedSince(key: string, since: number): boolean;
  /** Whether a message's objects are locked in Redis while it waits, so that another worker waits for its lock. */
  readonly locked: boolean;
  /** Where a deadlock that rolled a transaction back is reported, in one line. */
  warn(message: string): void;
}

export class GroupCommit {
  /** Messages ready to be applied in the next transaction. */
  private readonly batch: Pending[] = [];
  /** The operations of the messages in `batch`. */
  private batchOperations = 0;
  /** Messages a transaction found missing a dependency, kept for the next transaction. */
  private readonly held = new Map<Pending, { readonly missing: Requirement[]; readonly timer: NodeJS.Timeout }>();
  /** Transactions applying batches right now. */
  private applying = 0;

  constructor(private readonly options: GroupCommitOptions) {}

  /**
   * Resolves with what the message misses once a transaction tried it: nothing once applied
   * and committed. A held message gets its answer up to {@link holdMs} later.
   */
  submit(message: Omit<Pending, 'resolve' | 'reject'>): Promise<Requirement[]> {
    return new Promise((resolve, reject) => {
      this.batch.push({ ...message, resolve, reject });
      this.batchOperations += message.plans.length;
      if (this.applying >= this.options.concurrency) return;
      // Another transaction beside a running one only for a backlog: otherwise what waits is
      // better applied together in the next (fewer commits).
      if (this.applying > 0 && this.batchOperations < backlogOperations) return;
      this.applying += 1;
      setImmediate(() => void this.applyBatches());
    });
  }

  /** An object was applied: a message held for it goes back to wait as usual. */
  applied(object: string): void {
    for (const [message, { missing }] of this.held) if (missing.some((m) => m.key === object)) this.release(message);
  }

  /** Applies what waits, until nothing does. */
  private async applyBatches(): Promise<void> {
    while (this.batch.length > 0) {
      this.batchOperations = 0;
      // Held messages join what came meanwhile, which most likely brings what they wait for.
      const batch = [...this.batch.splice(0), ...this.held.keys()];
      for (const { timer } of this.held.values()) clearTimeout(timer);
      this.held.clear();
      await this.applyBatch(batch);
    }
    this.applying -= 1;
  }

  private async applyBatch(batch: readonly Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const results = await this.options.applier.apply(batch);
      batch.forEach((message, i) => {
        const missing = results[i] ?? [];
        if (this.worthHolding(message, missing, started)) this.hold(message, missing);
        else message.resolve(missing);
      });
    } catch (error) {
      // A deadlock is no message's fault: each one is applied again, a lone message too.
      if (error instanceof Deadlock) this.reportDeadlock(error, batch);
      else if (batch.length === 1) return batch[0]?.reject(error);
      for (const message of batch) {
        await this.options.applier.apply([message]).then(([missing]) => message.resolve(missing ?? []), message.reject);
      }
    }
  }

  private reportDeadlock(error: Deadlock, batch: readonly Pending[]): void {
    const ids = batch.map((m) => m.envelope.id);
    const shown = ids.length > 5 ? `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more` : ids.join(', ');
    this.options.warn(`${error.message} rolled back the transaction of messages ${shown}: applying each again`);
  }

  /**
   * Whether a message its transaction (begun at `started`) found missing requirements is worth
   * holding for the next transaction. Not when one of them was applied since that transaction
   * began (by another one beside it: the wake-up came before the hold); not when what is
   * missing was found in the transaction (a destroy's dependents, an orphan's newer version:
   * those arrive in no particular next batch, and the message would fail it); and not, under
   * Redis locks, when it is a previous version of the message's own object: the worker that
   * has it waits for this message's lock.
   */
  private worthHolding(message: Pending, missing: readonly Requirement[], started: number): boolean {
    if (missing.length === 0 || Date.now() >= message.holdUntil) return false;
    const own = this.options.locked ? new Set(message.plans.map((p) => p.key)) : undefined;
    return missing.every(
      (m) => message.requirements.includes(m) && !this.options.appliedSince(m.key, started) && !own?.has(m.key),
    );
  }

  /** Keeps a message for the next transaction, until one of what it misses is applied or `holdUntil`. */
  private hold(message: Pending, missing: Requirement[]): void {
    const timer = setTimeout(() => this.release(message), Math.max(0, message.holdUntil - Date.now()));
    this.held.set(message, { missing, timer });
  }

  private release(message: Pending): void {
    const held = this.held.get(message);
    if (!held) return;
    clearTimeout(held.timer);
    this.held.delete(message);
    message.resolve(held.missing);
  }
}
