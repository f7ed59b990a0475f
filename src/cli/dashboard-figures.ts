/**
 * What the dashboard shows and where it reads it: the figures of `promiscuous status` and the
 * recent activity the workers record in Redis, read together every two seconds.
 */
import type { Knex } from 'knex';
import { type PublisherStatus, publisherStatus, subscriberStatus } from '../runtime/observability/status.js';
import type { LatencySummary } from '../transport/redis/activity.js';
import type { RedisCoordinator } from '../transport/redis/coordinator.js';
import type { Transport } from '../transport/transport.js';

/** A subscriber as the page shows it: its status, its applied rate and its latencies. */
export type SubscriberPanel =
  | (Awaited<ReturnType<typeof subscriberStatus>> & {
      readonly rate: readonly { at: number; perSecond: number }[] | null;
      readonly latency: readonly LatencySummary[] | null;
    })
  | { readonly app: string; readonly error: string };

export type PublisherPanel = PublisherStatus | { readonly app: string; readonly error: string };

/** What the page shows, at one moment. */
export interface Snapshot {
  readonly at: number;
  readonly subscribers: readonly SubscriberPanel[];
  readonly publishers: readonly PublisherPanel[];
  /** Whether parked messages can be retried or dropped (a token is configured). */
  readonly writable: boolean;
}

/** The dashboard's connections, kept open while it runs. */
export interface Sources {
  readonly transport: Transport;
  readonly coordinators: ReadonlyMap<string, RedisCoordinator | undefined>;
  readonly databases: ReadonlyMap<string, Knex | string>;
  readonly writable: boolean;
}

/** How often the figures are read. */
export const sampleMs = 2_000;
/** The span of the applied-rate chart. */
const chartMs = 5 * 60_000;

/** Reads every figure the page shows. */
export async function sample(sources: Sources, now = Date.now()): Promise<Snapshot> {
  const subscribers = await Promise.all(
    [...sources.coordinators].map(async ([app, coordinator]): Promise<SubscriberPanel> => {
      try {
        const [status, activity] = await Promise.all([
          subscriberStatus(sources.transport, app, coordinator, now),
          coordinator?.activity(chartMs, now),
        ]);
        return { ...status, rate: activity?.rate ?? null, latency: activity?.latency ?? null };
      } catch (error) {
        return { app, error: (error as Error).message };
      }
    }),
  );
  const publishers = await Promise.all(
    [...sources.databases].map(async ([app, db]): Promise<PublisherPanel> => {
      if (typeof db === 'string') return { app, error: db };
      try {
        return await publisherStatus(db, sources.transport, app, now);
      } catch (error) {
        return { app, error: `cannot read its outbox: ${(error as Error).message}` };
      }
    }),
  );
  return { at: now, subscribers, publishers, writable: sources.writable };
}
