/** The replication benchmark's workload: users created and renamed, at full speed or on a schedule. */
import {
  type Commit,
  newUser,
  nextTurn,
  now,
  type QueryStats,
  type ShapeStat,
  openLoop,
  type User,
} from '../lib/index.js';

/** The row a plain app writes for a user: the same columns, JSON as text, no `_v`. */
export function bareRow(user: User): Record<string, unknown> {
  return { ...user, type: 'User', addresses: JSON.stringify(user.addresses), tags: JSON.stringify(user.tags) };
}

/** A write: its key (object id and version, or sequence), and when it committed. */
export interface Writes {
  create(user: User): Promise<Commit>;
  update(user: User, name: string): Promise<Commit>;
}

/**
 * Objects each written by one writer at a time: an update picks an object nobody is writing,
 * so that a writer never waits on another's row lock and an object's versions commit in order.
 */
export class Workload {
  private readonly idle: User[] = [];
  private updates = 0;

  constructor(
    private readonly writes: Writes,
    private readonly updateShare: number,
  ) {}

  async one(): Promise<Commit> {
    if (this.idle.length > 0 && Math.random() < this.updateShare) {
      const i = Math.floor(Math.random() * this.idle.length);
      const user = this.idle[i] as User;
      this.idle[i] = this.idle[this.idle.length - 1] as User;
      this.idle.pop();
      this.updates += 1;
      user.name = `User ${user.last_name} update ${this.updates}`;
      try {
        return await this.writes.update(user, user.name);
      } finally {
        this.idle.push(user);
      }
    }
    const user = newUser();
    const commit = await this.writes.create(user);
    this.idle.push(user);
    return commit;
  }
}

export interface RunArgs {
  readonly mode: 'max' | 'rate';
  readonly seconds: number;
  readonly writers: number;
  /** Writes per second, in `rate` mode. */
  readonly rate?: number;
}

export interface RunResult {
  readonly start: number;
  readonly commits: Commit[];
  /** When each key was handed to the broker (by the relay, or by the naive writer). */
  readonly published: [string, number][];
  /** Each wait for publisher confirms: messages covered, milliseconds. */
  readonly confirms: [number, number][];
  readonly errors: number;
  readonly firstError?: string;
  /** In `rate` mode: how often the schedule found too many writes in flight and fell behind. */
  readonly late: number;
  readonly queries: Record<string, ShapeStat>;
}

/*
 * Every write starts in a fresh turn of the event loop (`nextTurn`), as one a request triggers
 * would. Without it, writers on SQLite (a synchronous driver) never let the loop read its
 * sockets, and the relay's publisher confirms wait until the writers stop.
 */
/** Writes at full speed with `writers` loops, or on a fixed schedule (open loop) at `rate`. */
export async function drive(
  workload: Workload,
  args: RunArgs,
  stats: QueryStats,
): Promise<Omit<RunResult, 'published' | 'confirms'>> {
  const commits: Commit[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let late = 0;
  const one = async (): Promise<void> => {
    try {
      commits.push(await workload.one());
    } catch (error) {
      errors += 1;
      firstError ??= (error as Error).stack ?? String(error);
    }
  };
  stats.reset();
  const start = now();
  const end = start + args.seconds * 1000;
  if (args.mode === 'max') {
    await Promise.all(
      Array.from({ length: args.writers }, async () => {
        while (now() < end) {
          await nextTurn();
          await one();
        }
      }),
    );
  } else {
    const rate = args.rate ?? 100;
    const total = Math.max(1, Math.round(rate * args.seconds));
    late = await openLoop(rate, 256, (launched) => launched < total, one);
  }
  return { start, commits, errors, ...(firstError ? { firstError } : {}), late, queries: stats.snapshot() };
}
