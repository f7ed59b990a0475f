/**
 * Refreshes the subjects of coalescing models once they are due: the writing transactions
 * marked them (a burst marks each subject once), and each round refreshes a batch of them in
 * one transaction of its own, which publishes each subject once with its latest state.
 */

/** Subjects one round refreshes at most. */
export const refreshBatch = 1_000;

export class Refresher {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;
  private stopped = false;

  /**
   * `round` refreshes due subjects and resolves to how many it took: a full batch is followed
   * by another round at once. Rounds start every `intervalMs` otherwise.
   */
  constructor(
    private readonly round: () => Promise<number>,
    readonly intervalMs: number,
    private readonly onError: (error: Error) => void,
  ) {
    this.timer = setInterval(() => this.schedule(), intervalMs);
    this.timer.unref();
  }

  /** Starts a round unless one is running. */
  schedule(): void {
    if (this.running || this.stopped) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped && (await this.round()) >= refreshBatch);
    } catch (error) {
      // The marks stay: the next round takes them again. A subject a writer holds is no failure.
      if (!lockBusy(error)) this.onError(error as Error);
    }
  }

  /** Resolves once no round runs. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}

/** How often a publisher looks for due subjects: a quarter of the shortest window, within 10 ms and 1 s. */
export function refreshInterval(windows: readonly number[]): number {
  return Math.min(1_000, Math.max(10, Math.floor(Math.min(...windows) / 4)));
}

/** A lock taken with NOWAIT that a writer holds: PostgreSQL's lock_not_available, MySQL's and MariaDB's. */
function lockBusy(error: unknown): boolean {
  const { code } = (error ?? {}) as { code?: unknown };
  return code === '55P03' || code === 'ER_LOCK_NOWAIT' || code === 'ER_LOCK_WAIT_TIMEOUT';
}
