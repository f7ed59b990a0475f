/** What a subscriber process applied, and each write matched with when it was applied. */

/** A write: its key (object id and version, or sequence), and when it committed. */
export type Commit = readonly [key: string, at: number];

/**
 * Every key applied so far (a duplicate counts once), with waiters for a count; `take` hands
 * over what was applied since the previous `take`.
 */
export class AppliedKeys {
  private readonly seen = new Set<string>();
  private fresh: [string, number][] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  get total(): number {
    return this.seen.size;
  }

  add(keys: readonly string[], at: number): void {
    for (const key of keys) {
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.fresh.push([key, at]);
    }
    this.waiters = this.waiters.filter((w) => {
      if (this.seen.size < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Whether `count` keys were applied within `timeoutMs`. */
  async until(count: number, timeoutMs: number): Promise<boolean> {
    if (this.seen.size >= count) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      });
    });
  }

  take(): [string, number][] {
    const out = this.fresh;
    this.fresh = [];
    return out;
  }
}

/** A phase's writes matched with when each was applied. */
export interface Settled {
  /** The writes applied: key, committed at, applied at. */
  readonly matched: (readonly [key: string, committed: number, applied: number])[];
  /** Writes never applied. */
  readonly missing: number;
  readonly lastCommit: number;
  readonly lastApplied: number;
}

/** `appliedFrom`: when applying started (by default with the writes, at `start`). */
export function settle(
  start: number,
  commits: readonly Commit[],
  applied: readonly (readonly [string, number])[],
  appliedFrom = start,
): Settled {
  const at = new Map(applied);
  const matched: [string, number, number][] = [];
  let missing = 0;
  let lastCommit = start;
  let lastApplied = appliedFrom;
  for (const [key, committed] of commits) {
    lastCommit = Math.max(lastCommit, committed);
    const done = at.get(key);
    if (done === undefined) {
      missing += 1;
      continue;
    }
    lastApplied = Math.max(lastApplied, done);
    matched.push([key, committed, done]);
  }
  return { matched, missing, lastCommit, lastApplied };
}
