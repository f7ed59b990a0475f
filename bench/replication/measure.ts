/** Figures 2 and 3 of a pipeline, from its measured phases. */
import { addCpu, addShapes, percentile, type ShapeStat, settle } from '../lib/index.js';
import type { Applied } from './observe.js';
import type { RunResult } from './workload.js';

export interface Measured {
  readonly writes: number;
  readonly commitRate: number;
  readonly e2eRate: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly missing: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly deferred: number;
  readonly late: number;
  readonly rate?: number;
  readonly publisherQueries: Record<string, ShapeStat>;
  readonly subscriberQueries: Record<string, ShapeStat>;
  readonly messages: number;
  /** CPU milliseconds by process, from the first write until the last was applied. */
  readonly cpu: Record<string, number>;
  /** p50 and p99 of each leg: commit to publish, publish to delivery, delivery to applied. */
  readonly legs: Record<'publish' | 'deliver' | 'apply', { p50: number; p99: number }>;
  /** Waits for publisher confirms: how many, messages per wait, p50 and p99 of their length. */
  readonly confirms: { waits: number; perWait: number; p50: number; p99: number };
}

/** One measured phase of a pipeline: what the publisher wrote, what the subscriber applied. */
export interface Part {
  readonly run: RunResult;
  readonly applied: Applied;
  readonly cpu: Record<string, number>;
}

const summary = (values: number[]): { p50: number; p99: number } => {
  values.sort((x, y) => x - y);
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99) };
};

/** The figures of a pipeline over one or more phases (rounds alternating with the other pipeline). */
export function measure(parts: readonly Part[], rate?: number): Measured {
  const t = timings(parts);
  const latencies = t.latencies.sort((a, b) => a - b);
  const confirmWaits = parts.flatMap((p) => p.run.confirms.map(([, ms]) => ms));
  const confirmed = parts.reduce((n, p) => n + p.run.confirms.reduce((m, [k]) => m + k, 0), 0);
  return {
    writes: t.writes,
    commitRate: t.writes / (t.commitMs / 1000),
    e2eRate: (t.writes - t.missing) / (t.appliedMs / 1000),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.at(-1) ?? Number.NaN,
    missing: t.missing,
    ...totals(parts),
    ...(rate === undefined ? {} : { rate }),
    legs: { publish: summary(t.legs.publish), deliver: summary(t.legs.deliver), apply: summary(t.legs.apply) },
    confirms: {
      waits: confirmWaits.length,
      perWait: confirmed / Math.max(1, confirmWaits.length),
      ...summary(confirmWaits),
    },
  };
}

/** Each write's latency and legs, and the phases' durations until the last commit and the last apply. */
function timings(parts: readonly Part[]) {
  const latencies: number[] = [];
  const legs = { publish: [] as number[], deliver: [] as number[], apply: [] as number[] };
  let writes = 0;
  let missing = 0;
  let commitMs = 0;
  let appliedMs = 0;
  for (const { run, applied } of parts) {
    const published = new Map(run.published);
    const delivered = new Map(applied.delivered);
    const settled = settle(run.start, run.commits, applied.applied);
    for (const [key, committed, done] of settled.matched) {
      latencies.push(done - committed);
      const p = published.get(key);
      const d = delivered.get(key);
      if (p === undefined || d === undefined) continue;
      legs.publish.push(p - committed);
      legs.deliver.push(d - p);
      legs.apply.push(done - d);
    }
    missing += settled.missing;
    writes += run.commits.length;
    commitMs += settled.lastCommit - run.start;
    appliedMs += settled.lastApplied - run.start;
  }
  return { latencies, legs, writes, missing, commitMs, appliedMs };
}

/** What the phases' processes spent and reported, added up. */
function totals(parts: readonly Part[]) {
  const cpu: Record<string, number> = {};
  const publisherQueries: Record<string, ShapeStat> = {};
  const subscriberQueries: Record<string, ShapeStat> = {};
  let errors = 0;
  let firstError: string | undefined;
  let deferred = 0;
  let late = 0;
  let messages = 0;
  for (const { run, applied, cpu: spent } of parts) {
    addCpu(cpu, spent);
    addShapes(publisherQueries, run.queries);
    addShapes(subscriberQueries, applied.queries);
    errors += run.errors + applied.errors;
    firstError ??= run.firstError ?? applied.firstError;
    deferred += applied.deferred;
    late += run.late;
    messages += applied.messages;
  }
  return {
    errors,
    ...(firstError ? { firstError } : {}),
    deferred,
    late,
    publisherQueries,
    subscriberQueries,
    messages,
    cpu,
  };
}
