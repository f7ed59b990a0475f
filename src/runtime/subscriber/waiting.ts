/**
 * Waiting: a message that misses a dependency waits in this process until the object it
 * misses is applied (by this process, or by another worker as Redis tells), or a while;
 * and a message whose objects another worker is applying waits for that worker's Redis lock.
 */
import type { RedisCoordinator } from '../../transport/redis/coordinator.js';
import { latest } from './types.js';

export class Waiting {
  /** Messages waiting in this process for an object's next version, by object. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** When each object was last applied, for waiters that come late. */
  private readonly appliedAt = new Map<string, number>();

  constructor(
    private readonly coordinator: RedisCoordinator | undefined,
    /** How long a Redis lock lives: what a killed worker's objects stay blocked for. */
    private readonly lockLeaseMs: number,
  ) {}

  /** An object was applied: wakes what waits for it. */
  applied(object: string): void {
    // Only the last moments matter: a waiter comes within one read of the apply.
    latest(this.appliedAt, object, performance.now(), 10_000);
    for (const wake of this.waiters.get(object) ?? []) wake();
    this.waiters.delete(object);
  }

  /** Whether an object was applied since a moment (`performance.now()`). */
  appliedSince(key: string, since: number): boolean {
    return (this.appliedAt.get(key) ?? -1) >= since;
  }

  /** Waits until one of the objects is applied (since `readAt`, the read that found them missing), or a while. */
  async waitFor(keys: readonly string[], deadline: number, readAt: number): Promise<void> {
    // Applied since the read that found it missing: the wake-up came before this waiter.
    if (keys.some((key) => this.appliedSince(key, readAt))) return;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        for (const key of keys) this.waiters.get(key)?.delete(wake);
        resolve();
      };
      // Without Redis, another process's commits wake nobody: look again now and then.
      const timer = setTimeout(wake, Math.max(0, Math.min(deadline - Date.now(), 50)));
      for (const key of keys) {
        const set = this.waiters.get(key) ?? new Set();
        set.add(wake);
        this.waiters.set(key, set);
      }
    });
  }

  /** Takes the Redis locks of a message's objects, waiting a little while another worker holds one; false when it gave up. */
  async lock(objects: readonly string[]): Promise<boolean> {
    const coordinator = this.coordinator;
    if (!coordinator) return true;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (await coordinator.lockAll(objects, this.lockLeaseMs)) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }

  /** Releases the Redis locks of a message's objects; `applied` tells other workers to look again. */
  async unlock(objects: readonly string[], applied: boolean): Promise<void> {
    await this.coordinator?.release(objects, applied);
  }
}
