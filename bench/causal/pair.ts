/**
 * The causal benchmark's measurement of one pair of databases: figure 1 (end to end) and
 * figure 2 (the subscriber draining a backlog), each mode in alternating rounds.
 */
import { schema as crowdtap } from '../../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';
import { resyncQueueApp } from '../../src/runtime/index.js';
import {
  addCpu,
  addShapes,
  alternating,
  type Dialect,
  dropDb,
  fmt,
  namespace,
  otherLoad,
  percentile,
  quiet,
  type ShapeStat,
  settle,
  type TempDb,
  tempDb,
  type Worker,
} from '../lib/index.js';
import type { RunResult } from './publisher-role.js';
import { type Mode, modes, processes, type PublisherInit, settings, type SubscriberInit } from './settings.js';
import type { Applied } from './subscriber-role.js';

/** One measured phase of one mode. */
export interface Phase {
  readonly mode: Mode;
  readonly ops: number;
  readonly requests: number;
  /** Operations per second committed by the publisher (figure 1). */
  readonly commitRate: number;
  /** Operations per second applied, from the first write (figure 1) or the subscriber's start (figure 2). */
  readonly rate: number;
  readonly latencies: number[];
  readonly missing: number;
  readonly applied: Applied;
  readonly publisherQueries: Record<string, ShapeStat>;
  readonly cpu: Record<string, number>;
  readonly errors: number;
  readonly firstError?: string;
}

export interface Summary {
  readonly mode: Mode;
  readonly ops: number;
  readonly commitRate: number;
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly messages: number;
  readonly misses: number;
  /** Delivery to acknowledgement, p50 ms. */
  readonly handledP50: number;
  readonly deferred: number;
  readonly attempts: number;
  readonly missing: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly cpu: Record<string, number>;
  readonly subscriberQueries: Record<string, ShapeStat>;
  readonly publisherQueries: Record<string, ShapeStat>;
}

function summarise(mode: Mode, phases: readonly Phase[]): Summary {
  const mine = phases.filter((p) => p.mode === mode);
  const latencies = mine.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const ops = mine.reduce((a, p) => a + p.ops, 0);
  // Rates over the phases together: operations over the summed durations.
  const time = (rate: (p: Phase) => number): number => mine.reduce((a, p) => a + p.ops / rate(p), 0);
  const cpu: Record<string, number> = {};
  const subscriberQueries: Record<string, ShapeStat> = {};
  const publisherQueries: Record<string, ShapeStat> = {};
  for (const p of mine) {
    addCpu(cpu, p.cpu);
    addShapes(subscriberQueries, p.applied.queries);
    addShapes(publisherQueries, p.publisherQueries);
  }
  const sum = (f: (p: Phase) => number): number => mine.reduce((a, p) => a + f(p), 0);
  const firstError = mine.find((p) => p.firstError)?.firstError;
  return {
    mode,
    ops,
    commitRate: ops / time((p) => p.commitRate),
    rate: ops / time((p) => p.rate),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    messages: sum((p) => p.applied.messages),
    misses: sum((p) => p.applied.misses),
    handledP50: percentile(
      mine.flatMap((p) => p.applied.handledMs).sort((a, b) => a - b),
      0.5,
    ),
    deferred: sum((p) => p.applied.deferred),
    attempts: sum((p) => p.applied.attempts),
    missing: sum((p) => p.missing),
    errors: sum((p) => p.errors),
    ...(firstError ? { firstError } : {}),
    cpu,
    subscriberQueries,
    publisherQueries,
  };
}

export interface Figure {
  readonly causal: Summary;
  readonly bareback: Summary;
  readonly ratio: number;
  readonly roundRatios: number[];
}

function figure(phases: readonly Phase[], rounds: number): Figure {
  const causal = summarise('causal', phases);
  const bareback = summarise('bareback', phases);
  const roundRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c = phases.filter((p) => p.mode === 'causal')[r];
    const e = phases.filter((p) => p.mode === 'bareback')[r];
    if (c && e) roundRatios.push(c.rate / e.rate);
  }
  return { causal, bareback, ratio: causal.rate / bareback.rate, roundRatios };
}

export interface PairResult {
  readonly from: Dialect;
  readonly to: Dialect;
  readonly endToEnd: Figure;
  readonly drain: Figure;
}

/** Seconds spent waiting for a quiet machine. */
export let waited = 0;

type Span = { seconds?: number; count?: number };

export async function pair(from: Dialect, to: Dialect): Promise<PairResult> {
  const dbs: TempDb[] = [await tempDb(from, 'publisher'), await tempDb(to, 'subscriber')];
  const [pubDb, subDb] = dbs as [TempDb, TempDb];
  const ns = namespace([sniper.app, resyncQueueApp(crowdtap.app)]);
  const group = processes();
  try {
    const sub = await group.start(`causal-subscriber-${to}`, 'subscriber', {
      role: 'subscriber',
      db: subDb.ref,
      namespace: ns,
      prefetch: settings.prefetch,
    } satisfies SubscriberInit);
    // The subscriber's queue must exist before anything is published.
    await sub.call('mode', { mode: 'causal' });
    const pub = await group.start(`causal-publisher-${from}`, 'publisher', {
      role: 'publisher',
      db: pubDb.ref,
      namespace: ns,
      writers: settings.writers,
    } satisfies PublisherInit);
    const phases = new Phases(`${from}>${to}`, pub, sub, group.cpu.bind(group));
    await phases.seed();
    // Warm-up: every path of both modes compiled, every pool full.
    for (const mode of modes) await phases.phase(mode, { seconds: settings.warmupSeconds }, false);
    const endToEnd = figure(
      await phases.alternate(settings.rounds, { seconds: settings.seconds }, false),
      settings.rounds,
    );
    // Warm-up of the drain: a backlog takes paths the end-to-end phases did not (several
    // transactions at once on their own connections, batches of the whole prefetch window).
    // Without it, the first drain measured (causal's) ran cold: it was slower than the
    // bareback drain after it in 7 of 8 runs.
    for (const mode of modes) await phases.phase(mode, { count: Math.ceil(settings.drainRequests / 4) }, true);
    const drain = figure(
      await phases.alternate(settings.drainRounds, { count: settings.drainRequests }, true),
      settings.drainRounds,
    );
    return { from, to, endToEnd, drain };
  } finally {
    await group.close();
    for (const db of dbs) await dropDb(db);
  }
}

/** The phases of one pair: the publisher writes, the subscriber applies in one mode or the other. */
class Phases {
  private expected = 0;

  constructor(
    private readonly label: string,
    private readonly pub: Worker,
    private readonly sub: Worker,
    private readonly cpu: () => () => Record<string, number>,
  ) {}

  /** The publisher's seed, applied before anything is measured. */
  async seed(): Promise<void> {
    this.expected += await this.pub.call<number>('seed');
    await this.until(30_000);
    await this.sub.call('take');
  }

  private async until(timeoutMs: number): Promise<void> {
    const complete = await this.sub.call<boolean>('until', { count: this.expected, timeoutMs });
    if (!complete) {
      const { total } = await this.sub.call<Applied>('take');
      console.log(`  ${this.label}: the subscriber had not applied everything after ${timeoutMs / 1000} s`);
      this.expected = total; // what arrives late is not counted
    }
  }

  /** Rounds of both modes in ABBA order, each after waiting for a quiet machine. */
  async alternate(rounds: number, args: Span, drain: boolean): Promise<Phase[]> {
    const phases: Phase[] = [];
    for (let r = 0; r < rounds; r++) {
      waited += await quiet(settings.quietWait);
      for (const mode of alternating(modes, r)) {
        const p = await this.phase(mode, args, drain);
        phases.push(p);
        console.log(
          `  ${this.label} ${drain ? 'drain' : 'end to end'} round ${r + 1} ${mode}: ${p.ops} ops, ${fmt(p.rate)} applied/s${drain ? '' : ` (${fmt(p.commitRate)} commits/s)`}, ${p.applied.misses} dependency misses in ${p.applied.messages} messages, ${p.applied.deferred} deferred, other load ${fmt(otherLoad(p.cpu), 2)}`,
        );
      }
    }
    return phases;
  }

  /**
   * One phase: end to end, the subscriber applies while the publisher writes; a drain, the
   * publisher writes a backlog with the subscriber stopped, which then starts in `mode`.
   */
  async phase(mode: Mode, args: Span, drain: boolean): Promise<Phase> {
    await this.sub.call('mode', { mode: drain ? null : mode });
    let spent = this.cpu();
    const run = await this.pub.call<RunResult>(drain ? 'write' : 'run', args);
    this.expected += run.commits.length;
    if (drain) spent = this.cpu();
    const started = drain ? await this.sub.call<number>('mode', { mode }) : undefined;
    await this.until(Math.max(60_000, (args.seconds ?? 10) * 10_000));
    const cpu = spent();
    const applied = await this.sub.call<Applied>('take');
    const settled = settle(run.start, run.commits, applied.applied, started ?? run.start);
    const ops = run.commits.length - settled.missing;
    const errors = run.errors + applied.errors;
    const firstError = run.firstError ?? applied.firstError;
    if (errors > 0) console.log(`  ${this.label} ${mode}: ${errors} errors: ${firstError?.split('\n')[0]}`);
    return {
      mode,
      ops,
      requests: run.requests,
      commitRate: run.commits.length / ((settled.lastCommit - run.start) / 1000),
      rate: ops / ((settled.lastApplied - (started ?? run.start)) / 1000),
      latencies: drain ? [] : settled.matched.map(([, committed, done]) => done - committed),
      missing: settled.missing,
      applied,
      publisherQueries: run.queries,
      cpu,
      errors,
      ...(firstError ? { firstError } : {}),
    };
  }
}
