/**
 * Figures 2 and 3: the pipelines of a pair (the runtime's, the naive one, and in figure 2 the
 * runtime's with signing on), alive together and measured in alternation.
 */
import { alternating, type Dialect, dropDb, fmt, type Processes, type TempDb, type Worker } from '../lib/index.js';
import { measure, type Measured, type Part } from './measure.js';
import type { Applied } from './observe.js';
import { freshDb, type InitArgs, processes, replicationNamespace, settings, signing } from './settings.js';
import type { RunArgs, RunResult } from './workload.js';

export interface Pipeline {
  readonly max: Measured;
  readonly latency: Measured;
}

/** `signed`: the runtime's pipeline with signing on, the publisher signing, the subscriber trusting and requiring. */
type Kind = 'promiscuous' | 'naive' | 'signed';
/** The pipelines of both figures. */
const kinds = ['promiscuous', 'naive'] as const;

/** The processes' roles of a pipeline, and their signing settings. */
function rolesOf(kind: Kind): Record<'publisher' | 'subscriber', Pick<InitArgs, 'role' | 'signing'>> {
  if (kind !== 'signed') {
    return { publisher: { role: `${kind}-publisher` }, subscriber: { role: `${kind}-subscriber` } };
  }
  return {
    publisher: { role: 'promiscuous-publisher', signing: signing('key') },
    subscriber: { role: 'promiscuous-subscriber', signing: signing('trust') },
  };
}

/** A pipeline's two processes on their fresh databases. */
class Running {
  private expected = 0;

  private constructor(
    readonly kind: Kind,
    private readonly group: Processes,
    private readonly dbs: TempDb[],
    private pub?: Worker,
    private sub?: Worker,
  ) {}

  static async start(kind: Kind, from: Dialect, to: Dialect): Promise<Running> {
    const running = new Running(kind, processes(), []);
    try {
      await running.init(from, to);
    } catch (error) {
      await running.close();
      throw error;
    }
    return running;
  }

  private async init(from: Dialect, to: Dialect): Promise<void> {
    const pubDb = await freshDb(from, 'publisher');
    this.dbs.push(pubDb);
    const subDb = await freshDb(to, 'subscriber');
    this.dbs.push(subDb);
    const common = {
      namespace: replicationNamespace(),
      updateShare: settings.updateShare,
      prefetch: settings.prefetch,
    };
    const { kind } = this;
    const roles = rolesOf(kind);
    // The subscriber first: its queue must exist before anything is published.
    this.sub = await this.group.start(`${kind}-subscriber-${to}`, 'subscriber', {
      ...roles.subscriber,
      db: subDb.ref,
      ...common,
    } satisfies InitArgs);
    this.pub = await this.group.start(`${kind}-publisher-${from}`, 'publisher', {
      ...roles.publisher,
      db: pubDb.ref,
      ...common,
    } satisfies InitArgs);
  }

  /** Writes, then waits until the subscriber applied every write. */
  async phase(args: RunArgs): Promise<Part> {
    const pub = this.pub as Worker;
    const sub = this.sub as Worker;
    const spent = this.group.cpu();
    const run = await pub.call<RunResult>('run', args);
    this.expected += run.commits.length;
    const timeoutMs = Math.max(30_000, args.seconds * 6_000);
    const complete = await sub.call<boolean>('until', { count: this.expected, timeoutMs });
    const cpu = spent();
    const applied = await sub.call<Applied>('take');
    if (!complete) {
      console.log(`  ${this.kind}: the subscriber had not applied everything after ${timeoutMs / 1000} s`);
      this.expected = applied.total; // what arrives late is not counted
    }
    if (run.errors > 0) console.log(`  ${this.kind}: ${run.errors} writes failed: ${run.firstError}`);
    return { run, applied, cpu };
  }

  async close(): Promise<void> {
    await this.group.close();
    for (const db of this.dbs) await dropDb(db);
  }
}

export interface PairFigure {
  readonly from: Dialect;
  readonly to: Dialect;
  readonly promiscuous: Pipeline;
  readonly naive: Pipeline;
  /** Figure 2 with signing on (unless BENCH_SIGNATURES=0), and its ratio to signing off per round. */
  readonly signed?: { readonly max: Measured; readonly roundRatios: number[] };
}

/**
 * The pipelines of a pair, alive together and measured in alternation (ABBA), so that a
 * change of the machine's load during the run falls on all: full speed first, then the
 * fixed rate that full speed gives (without the signed pipeline, whose figure is full speed).
 */
export async function pair(from: Dialect, to: Dialect): Promise<PairFigure> {
  const pipelines: Running[] = [];
  try {
    for (const kind of settings.signatures ? [...kinds, 'signed' as const] : kinds) {
      pipelines.push(await Running.start(kind, from, to));
    }
    for (const p of pipelines)
      await p.phase({ mode: 'max', seconds: settings.warmupSeconds, writers: settings.writers });
    const max = await fullSpeed(pipelines, `${from}>${to}`);
    const latency = await halfLoad(
      pipelines.filter((p) => p.kind !== 'signed'),
      `${from}>${to}`,
      max,
    );
    return {
      from,
      to,
      promiscuous: { max: max.promiscuous, latency: latency.promiscuous },
      naive: { max: max.naive, latency: latency.naive },
      ...(max.signed ? { signed: { max: max.signed, roundRatios: max.signedRatios } } : {}),
    };
  } finally {
    for (const p of pipelines) await p.close();
  }
}

/** Phases of every pipeline, `settings.e2eRounds` rounds of them in ABBA order. */
async function alternate(pipelines: readonly Running[], args: (kind: Kind) => RunArgs): Promise<Record<Kind, Part[]>> {
  const parts: Record<Kind, Part[]> = { promiscuous: [], naive: [], signed: [] };
  for (let round = 0; round < settings.e2eRounds; round++) {
    for (const p of alternating(pipelines, round)) parts[p.kind].push(await p.phase(args(p.kind)));
  }
  return parts;
}

interface FullSpeed extends Record<'promiscuous' | 'naive', Measured> {
  readonly signed?: Measured;
  /** Each round's applied rate signed, divided by unsigned's. */
  readonly signedRatios: number[];
}

/** Figure 2: writers at full speed. */
async function fullSpeed(pipelines: readonly Running[], label: string): Promise<FullSpeed> {
  const full = await alternate(pipelines, () => ({
    mode: 'max',
    seconds: settings.e2eSeconds / settings.e2eRounds,
    writers: settings.writers,
  }));
  const signed = full.signed.length > 0 ? measure(full.signed) : undefined;
  const max = {
    promiscuous: measure(full.promiscuous),
    naive: measure(full.naive),
    ...(signed ? { signed } : {}),
    signedRatios: full.signed.map(
      (part, i) => measure([part]).e2eRate / measure([full.promiscuous[i] as Part]).e2eRate,
    ),
  };
  for (const kind of signed ? [...kinds, 'signed' as const] : kinds) {
    const x = max[kind] as Measured;
    console.log(
      `  ${kind} ${label} full speed: ${x.writes} writes, ${fmt(x.commitRate)} commits/s, ${fmt(x.e2eRate)} applied/s, p50 ${fmt(x.p50, 1)} ms, p99 ${fmt(x.p99, 1)} ms`,
    );
  }
  return max;
}

/** Figure 3: an open loop at half the maximum. */
async function halfLoad(
  pipelines: readonly Running[],
  label: string,
  max: FullSpeed,
): Promise<Record<'promiscuous' | 'naive', Measured>> {
  // Half the promiscuous pipeline's maximum; the naive one at the same rate unless that is
  // more than half its own maximum.
  const rates: Record<Kind, number> = {
    promiscuous: settings.latencyRate ?? max.promiscuous.e2eRate / 2,
    signed: settings.latencyRate ?? max.promiscuous.e2eRate / 2,
    naive: Math.min(settings.latencyRate ?? max.promiscuous.e2eRate / 2, max.naive.e2eRate / 2),
  };
  const half = await alternate(pipelines, (kind) => ({
    mode: 'rate',
    seconds: settings.latencySeconds / settings.e2eRounds,
    writers: settings.writers,
    rate: rates[kind],
  }));
  const latency = {
    promiscuous: measure(half.promiscuous, rates.promiscuous),
    naive: measure(half.naive, rates.naive),
  };
  for (const kind of kinds) {
    const x = latency[kind];
    console.log(
      `  ${kind} ${label} at ${fmt(rates[kind])}/s: p50 ${fmt(x.p50, 1)} ms, p99 ${fmt(x.p99, 1)} ms, max ${fmt(x.max, 1)} ms`,
    );
  }
  return latency;
}
