/**
 * What an app's workers applied lately, as the dashboard shows it: operations per 5 seconds,
 * and commit-to-applied latencies in buckets per publisher and minute. Each worker adds its
 * counts once a second; entries older than {@link keptMs} go.
 */

/** Upper bounds of the latency buckets, in ms: 1-2-5 steps from 1 ms to 5 min, then beyond. */
export const latencyBounds = [
  1,
  2,
  5,
  10,
  20,
  50,
  100,
  200,
  500,
  1_000,
  2_000,
  5_000,
  10_000,
  20_000,
  60_000,
  300_000,
  Infinity,
] as const;

/** The width of a bucket of the applied rate. */
export const rateBucketMs = 5_000;

/** How long the recorded activity is kept. */
export const keptMs = 15 * 60_000;

/** What a worker applied since it last recorded. */
export interface ActivityTally {
  /** Operations applied, by the start of their 5-second bucket (ms). */
  readonly operations: Map<number, number>;
  /** Messages applied, by `<publisher> <minute> <bucket>`. */
  readonly latencies: Map<string, number>;
}

export function emptyTally(): ActivityTally {
  return { operations: new Map(), latencies: new Map() };
}

/** Counts a message applied now, `latencyMs` after its commit, with the operations it wrote. */
export function countApplied(
  tally: ActivityTally,
  publisher: string,
  latencyMs: number,
  operations: number,
  now: number,
) {
  const bucket = now - (now % rateBucketMs);
  tally.operations.set(bucket, (tally.operations.get(bucket) ?? 0) + operations);
  const index = latencyBounds.findIndex((bound) => latencyMs <= bound);
  const key = `${publisher} ${Math.floor(now / 60_000)} ${index}`;
  tally.latencies.set(key, (tally.latencies.get(key) ?? 0) + 1);
}

/** The latency percentiles of one publisher's messages, in ms (a bucket's upper bound). */
export interface LatencySummary {
  readonly publisher: string;
  readonly messages: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Summarises a latency hash over the minutes since `since` (ms). */
export function latencySummaries(hash: Readonly<Record<string, string>>, since: number): LatencySummary[] {
  const counts = new Map<string, number[]>();
  const first = Math.floor(since / 60_000);
  for (const [field, value] of Object.entries(hash)) {
    const [publisher = '', minute, index] = field.split(' ');
    if (Number(minute) < first) continue;
    const buckets = counts.get(publisher) ?? latencyBounds.map(() => 0);
    buckets[Number(index)] = (buckets[Number(index)] ?? 0) + Number(value);
    counts.set(publisher, buckets);
  }
  return [...counts].map(([publisher, buckets]) => {
    const messages = buckets.reduce((a, b) => a + b, 0);
    return {
      publisher,
      messages,
      p50Ms: percentile(buckets, messages, 0.5),
      p99Ms: percentile(buckets, messages, 0.99),
    };
  });
}

function percentile(buckets: readonly number[], total: number, quantile: number): number {
  let seen = 0;
  for (const [i, count] of buckets.entries()) {
    seen += count;
    if (seen >= total * quantile) return latencyBounds[i] ?? Infinity;
  }
  return Infinity;
}
