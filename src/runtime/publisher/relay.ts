import { hostname } from 'node:os';
import type { Knex } from 'knex';
import { routingKey } from '../../common/topic.js';
import type { OutgoingMessage, Transport } from '../../transport/transport.js';
import type { Envelope } from '../envelope.js';
import { PublisherError } from '../../common/errors.js';
import { errorText, guardedLogger, type Logger, silentLogger } from '../../common/logger.js';
import { defaultMetrics, type Metrics } from '../observability/metrics.js';
import type { Database } from '../db/database.js';
import { databaseOf } from '../db/index.js';
import { outboxTable } from '../db/tables.js';
import { outboxBacklog } from './outbox.js';

export interface RelayOptions {
  /** Outbox rows published per round (default 200). */
  readonly batchSize?: number;
  /** How long a claim on rows lasts before another process may take them over (default 30 s). */
  readonly leaseMs?: number;
  /** How often the sweeper looks for rows nobody published (default 1 s). */
  readonly sweepIntervalMs?: number;
  /**
   * How long confirmed rows may wait to be deleted together (default 50 ms; 0: each round
   * deletes its own at once). One statement, and on PostgreSQL one commit, for the rows of
   * many rounds. Keep it well under the lease: a row not deleted when its lease ends may be
   * published again by a sweeper (a duplicate the subscribers absorb).
   */
  readonly deleteDelayMs?: number;
  /**
   * Under load, the least time between the starts of two publishing rounds (default 5 ms; 0:
   * none), as Kafka's `linger.ms`: the rows committed meanwhile go to the broker together, and
   * a round costs the broker about as much whether it carries one row or fifty. Load is a
   * round of more than one row; after a round of one, the next starts at once.
   */
  readonly lingerMs?: number;
  readonly onError?: (error: Error) => void;
  /**
   * Where the relay says what went wrong, and at `debug` what it published (default: nowhere;
   * the publisher passes its own). Records carry `app` and `component: 'relay'`.
   */
  readonly logger?: Logger;
  /** The publishing app, to label its metrics and report its outbox backlog in them (the publisher passes its own). */
  readonly app?: string;
  /** Where the relay records what it published (default: {@link defaultMetrics}). */
  readonly metrics?: Metrics;
}

export interface OutboxRow {
  readonly id: number | string;
  readonly message: string;
  /** The message's id and routing keys, known when this process wrote the row: it is then published without being parsed again. */
  readonly route?: { readonly messageId: string; readonly routingKeys: readonly string[] };
}

/**
 * Moves committed outbox rows to the broker. Rows are claimed with a lease, published as one
 * pipelined batch, and deleted only once the broker confirmed them; a process that dies
 * leaves its claim to expire, and the sweeper of any process publishes the rows again (the
 * subscriber absorbs the duplicates). Claims keep two processes from publishing the same row
 * at once.
 */
export class Relay {
  private readonly owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  private running: Promise<void> | undefined;
  private roundRequested = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  /** Rows this process committed already claimed: published without a claim round trip. */
  private readonly pending: OutboxRow[] = [];
  /** Rows published and confirmed, not yet deleted. */
  private readonly confirmed: (number | string)[] = [];
  private deleting: Promise<void> | undefined;
  private deleteTimer: NodeJS.Timeout | undefined;
  /** When the last round started (`performance.now()`: a clock that never steps back), and how many rows it published. */
  private lastRound = { at: 0, rows: 0 };
  private readonly metrics: Metrics;
  private readonly unwatch: (() => void) | undefined;
  private readonly database: Database;
  private readonly log: Logger;

  constructor(
    private readonly knex: Knex,
    private readonly transport: Transport,
    private readonly options: RelayOptions = {},
  ) {
    this.database = databaseOf(knex);
    this.log = guardedLogger(options.logger ?? silentLogger).child({
      ...(options.app === undefined ? {} : { app: options.app }),
      component: 'relay',
    });
    this.timer = setInterval(() => this.schedule(), options.sweepIntervalMs ?? 1_000);
    this.timer.unref();
    this.metrics = options.metrics ?? defaultMetrics();
    this.unwatch =
      options.app === undefined ? undefined : this.metrics.watchPublisher(options.app, () => this.backlog());
  }

  /** The outbox's backlog, for the status gauges. */
  private async backlog(): Promise<{ outbox: number; oldestRowSeconds: number | null }> {
    const { rows, oldest } = await outboxBacklog(this.knex);
    return { outbox: rows, oldestRowSeconds: oldest === null ? null : Math.max(0, Date.now() - oldest) / 1_000 };
  }

  /** The claim columns for a row this process is about to commit. */
  claim(): { claimed_by: string; claimed_until: number } {
    return { claimed_by: this.owner, claimed_until: Date.now() + (this.options.leaseMs ?? 30_000) };
  }

  /** A committed row claimed by `claim()`: publish it soon. */
  enqueue(row: OutboxRow): void {
    this.pending.push(row);
    this.schedule();
  }

  /** Asks for a round soon; rounds never overlap, and a request during one runs another after it. */
  schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.roundRequested = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.roundRequested) {
        this.roundRequested = false;
        this.schedule();
      }
    });
  }

  /** Publishes until the outbox has nothing claimable; resolves when done (for tests and shutdown). */
  async flush(): Promise<void> {
    // Through `schedule`, so that a row enqueued meanwhile does not start a second, overlapping round.
    while (this.running) await this.running;
    this.schedule();
    while (this.running) await this.running;
    await this.deleteConfirmed();
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped && (await this.round()) > 0) {
        // Rounds until the outbox has nothing claimable left.
      }
      if (this.failures > 0) this.log.info({ failures: this.failures }, 'the relay publishes again');
      this.failures = 0;
    } catch (error) {
      this.failures += 1;
      this.metrics.relayFailures.inc({ app: this.options.app ?? 'unknown' });
      const backoffMs = Math.min(5_000, 100 * 2 ** this.failures);
      this.log.error(
        { err: error, failures: this.failures, retryInMs: backoffMs },
        'the relay could not publish; the rows stay in the outbox',
      );
      this.options.onError?.(new PublisherError(`the relay could not publish: ${errorText(error)}`, { cause: error }));
      // Backs off before the sweeper's next attempt; the rows stay in the outbox meanwhile.
      await new Promise((r) => setTimeout(r, backoffMs).unref());
    }
  }

  /** Claims, publishes and deletes one batch; returns how many rows it published. */
  async round(): Promise<number> {
    const limit = this.options.batchSize ?? 200;
    const until = this.lastRound.at + (this.options.lingerMs ?? 5);
    // A timer may fire a little early by this clock: it waits again for what is left.
    while (this.lastRound.rows > 1 && this.pending.length > 0 && this.pending.length < limit) {
      const linger = until - performance.now();
      if (linger <= 0) break;
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(linger)));
    }
    const at = performance.now();
    const own = this.pending.length > 0;
    const rows = own ? this.pending.splice(0, limit) : await this.claimExpired();
    if (rows.length === 0) return 0;
    this.lastRound = { at, rows: rows.length };
    const app = this.options.app ?? 'unknown';
    try {
      const stop = this.metrics.relayConfirmDuration.startTimer({ app });
      await this.transport.publish(rows.map(outgoing));
      stop();
    } catch (error) {
      await this.release(rows);
      throw error;
    }
    this.metrics.relayPublished.inc({ app }, rows.length);
    // Swept: rows nobody had claimed (publishers with `relay: false`) or whose claim expired.
    this.log.debug({ rows: rows.length, swept: !own }, 'published outbox rows');
    for (const row of rows) this.confirmed.push(row.id);
    const delay = this.options.deleteDelayMs ?? 50;
    if (delay <= 0 || this.confirmed.length >= deleteBatch) await this.deleteConfirmed();
    else this.deleteTimer ??= setTimeout(() => void this.deleteConfirmed().catch(this.reportDeleteFailure), delay);
    return rows.length;
  }

  /** Deletes the confirmed rows; one deletion at a time, and one after it for rows confirmed meanwhile. */
  private async deleteConfirmed(): Promise<void> {
    clearTimeout(this.deleteTimer);
    this.deleteTimer = undefined;
    while (this.deleting) await this.deleting;
    if (this.confirmed.length === 0) return;
    const ids = this.confirmed.splice(0);
    this.deleting = (async () => {
      try {
        for (let i = 0; i < ids.length; i += deleteBatch)
          await this.knex(outboxTable)
            .whereIn('id', ids.slice(i, i + deleteBatch))
            .delete();
      } catch (error) {
        // Tried again with the next deletion; meanwhile the rows' leases keep sweepers off them.
        this.confirmed.push(...ids);
        throw error;
      } finally {
        this.deleting = undefined;
      }
    })();
    await this.deleting;
  }

  private readonly reportDeleteFailure = (error: Error): void => {
    this.log.error({ err: error }, 'the relay could not delete published rows; it tries again with the next deletion');
    this.options.onError?.(
      new PublisherError(`the relay could not delete published rows: ${errorText(error)}`, { cause: error }),
    );
  };

  private async claimExpired(): Promise<OutboxRow[]> {
    const now = Date.now();
    const lease = this.options.leaseMs ?? 30_000;
    const limit = this.options.batchSize ?? 200;
    return this.knex.transaction(async (trx) => {
      const query = trx(outboxTable)
        .select('id', 'message')
        .where((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', now))
        .orderBy('id')
        .limit(limit);
      // Rows another process claims meanwhile are skipped, not waited for; SQLite's single
      // writer serialises the claims instead.
      if (this.database.locksRows) query.forUpdate().skipLocked();
      const rows = (await query) as OutboxRow[];
      if (rows.length === 0) return [];
      await trx(outboxTable)
        .whereIn(
          'id',
          rows.map((r) => r.id),
        )
        .update({ claimed_by: this.owner, claimed_until: now + lease });
      return rows;
    });
  }

  private async release(rows: readonly OutboxRow[]): Promise<void> {
    await this.knex(outboxTable)
      .whereIn(
        'id',
        rows.map((r) => r.id),
      )
      .where('claimed_by', this.owner)
      .update({ claimed_by: null, claimed_until: null })
      .catch(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.deleteConfirmed().catch(this.reportDeleteFailure);
    // Rows still waiting are handed back at once, rather than when their lease expires.
    await this.release(this.pending.splice(0));
  }
}

/** Rows one DELETE names at most (SQLite allows a few thousand bound parameters at least). */
const deleteBatch = 500;

/** One broker message for an envelope, routed under every operation's key. */
export function toOutgoing(envelope: Envelope): OutgoingMessage {
  return { ...route(envelope), body: Buffer.from(JSON.stringify(envelope)) };
}

/** An envelope's message id, and its routing keys: every operation's. */
export function route(envelope: Envelope): NonNullable<OutboxRow['route']> {
  const routingKeys = [...new Set(envelope.operations.map((op) => routingKey(op.endpoint, op.operation)))];
  return { messageId: envelope.id, routingKeys };
}

function outgoing(row: OutboxRow): OutgoingMessage {
  return { ...(row.route ?? route(JSON.parse(row.message) as Envelope)), body: Buffer.from(row.message) };
}
