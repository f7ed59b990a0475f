/**
 * Figure 1, publisher overhead: the sides take turns on the same table of one database, the
 * order alternating from round to round (ABBA), so that a drift of the machine hits both.
 */
import {
  addCpu,
  addShapes,
  alternating,
  type Dialect,
  dropDb,
  fmt,
  Processes,
  type ShapeStat,
  type TempDb,
  type Worker,
} from '../lib/index.js';
import { captureStatements, type PhaseResult } from './overhead-role.js';
import {
  freshDb,
  type InitArgs,
  processes,
  replicationNamespace,
  settings,
  signing,
  type Variant,
} from './settings.js';

export interface OverheadFigure {
  readonly dialect: Dialect;
  readonly op: 'create' | 'update';
  readonly bare: number;
  readonly published: number;
  readonly ratio: number;
  readonly roundRatios: number[];
  readonly bareQueries: Record<string, ShapeStat>;
  readonly publishedQueries: Record<string, ShapeStat>;
  readonly bareWrites: number;
  readonly publishedWrites: number;
  readonly backlog: number;
  /** CPU milliseconds by process during the measured phases. */
  readonly bareCpu: Record<string, number>;
  readonly publishedCpu: Record<string, number>;
  /** Signing on (unless BENCH_SIGNATURES=0): the publisher's rate, its ratio to signing off, per round too. */
  readonly signed?: {
    readonly rate: number;
    readonly ratio: number;
    readonly roundRatios: number[];
    readonly writes: number;
    readonly cpu: Record<string, number>;
  };
  /** With BENCH_DECOMPOSE=1: the hooks' statements alone, and the hooks with the relay off. */
  readonly decomposition?: {
    readonly statements: number;
    readonly relayOff: number;
    readonly statementsCpu: number;
    readonly relayOffCpu: number;
  };
}

/** Figure 1 on one database: creates, then updates. */
export async function overhead(kind: Dialect): Promise<OverheadFigure[]> {
  const variants: Variant[] = settings.decompose
    ? ['bare', 'statements', 'relay-off', 'publisher']
    : ['bare', 'publisher'];
  if (settings.signatures) variants.push('signed');
  const dbs: TempDb[] = [];
  const group = processes();
  try {
    const sides = await startSides(kind, variants, dbs, group);
    const figures: OverheadFigure[] = [];
    for (const op of ['create', 'update'] as const) figures.push(await measureOp(kind, op, variants, sides, group));
    return figures;
  } finally {
    await group.close();
    for (const db of dbs) await dropDb(db);
  }
}

async function startSides(
  kind: Dialect,
  variants: readonly Variant[],
  dbs: TempDb[],
  group: Processes,
): Promise<Record<Variant, Worker>> {
  // Bare and publisher share one database (and table); the other sides have their own: the
  // decomposition's outbox rows are never published, and the signed side's must be published
  // by its own relay, not by the publisher's idle one.
  const shared = await freshDb(kind, 'publisher');
  dbs.push(shared);
  const ns = replicationNamespace();
  const sides = {} as Record<Variant, Worker>;
  for (const variant of variants) {
    const db = variant === 'bare' || variant === 'publisher' ? shared : await freshDb(kind, 'publisher');
    if (db !== shared) dbs.push(db);
    const statements = variant === 'statements' ? await captureStatements(db.ref) : undefined;
    sides[variant] = await group.start(`overhead-${variant}-${kind}`, `app (${variant})`, {
      role: 'overhead',
      variant,
      db: db.ref,
      namespace: ns,
      updateShare: 0,
      ...(statements ? { statements } : {}),
      ...(variant === 'signed' ? { signing: signing('key') } : {}),
    } satisfies InitArgs);
    await sides[variant].call('seed', { writers: settings.writers, perWriter: 200 });
  }
  return sides;
}

interface Totals {
  writes: number;
  ms: number;
  readonly queries: Record<string, ShapeStat>;
  readonly cpu: Record<string, number>;
}

async function measureOp(
  kind: Dialect,
  op: 'create' | 'update',
  variants: readonly Variant[],
  sides: Record<Variant, Worker>,
  group: Processes,
): Promise<OverheadFigure> {
  const phase = (variant: Variant, seconds: number) =>
    sides[variant].call<PhaseResult>('phase', { op, seconds, writers: settings.writers });
  // Warm-up: every path compiled and every pool full before anything is measured.
  for (const variant of variants) await phase(variant, Math.min(0.5, settings.overheadSeconds));
  const totals = {} as Record<Variant, Totals>;
  for (const v of variants) totals[v] = { writes: 0, ms: 0, queries: {}, cpu: {} };
  const roundRatios: number[] = [];
  const signedRatios: number[] = [];
  let backlog = 0;
  for (let round = 0; round < settings.rounds; round++) {
    const rates: Partial<Record<Variant, number>> = {};
    for (const variant of alternating(variants, round)) {
      const spent = group.cpu();
      const r = await phase(variant, settings.overheadSeconds);
      addCpu(totals[variant].cpu, spent());
      if (r.runtimeErrors > 0) {
        console.log(`  ${kind} ${op} ${variant}: ${r.runtimeErrors} runtime errors: ${r.firstRuntimeError}`);
      }
      totals[variant].writes += r.writes;
      totals[variant].ms += r.ms;
      addShapes(totals[variant].queries, r.queries);
      rates[variant] = r.writes / (r.ms / 1000);
      if (variant === 'publisher') backlog = Math.max(backlog, r.backlog);
    }
    roundRatios.push((rates.publisher ?? 0) / (rates.bare ?? 1));
    signedRatios.push((rates.signed ?? 0) / (rates.publisher ?? 1));
  }
  const figure = overheadFigure(kind, op, totals, { roundRatios, signedRatios }, backlog);
  console.log(
    `  ${kind} ${op}: bare ${fmt(figure.bare)}/s, publisher ${fmt(figure.published)}/s, ratio ${fmt(figure.ratio, 2)}${figure.signed ? `; signed ${fmt(figure.signed.rate)}/s, ${fmt(figure.signed.ratio, 2)} of unsigned` : ''}${figure.decomposition ? ` (statements alone ${fmt(figure.decomposition.statements)}/s, relay off ${fmt(figure.decomposition.relayOff)}/s)` : ''}`,
  );
  return figure;
}

function overheadFigure(
  kind: Dialect,
  op: 'create' | 'update',
  totals: Record<Variant, Totals>,
  { roundRatios, signedRatios }: { roundRatios: number[]; signedRatios: number[] },
  backlog: number,
): OverheadFigure {
  const rate = (v: Variant): number => totals[v].writes / (totals[v].ms / 1000);
  const bare = rate('bare');
  const published = rate('publisher');
  return {
    dialect: kind,
    op,
    bare,
    published,
    ratio: published / bare,
    roundRatios,
    bareQueries: totals.bare.queries,
    publishedQueries: totals.publisher.queries,
    bareWrites: totals.bare.writes,
    publishedWrites: totals.publisher.writes,
    backlog,
    bareCpu: totals.bare.cpu,
    publishedCpu: totals.publisher.cpu,
    ...(settings.signatures
      ? {
          signed: {
            rate: rate('signed'),
            ratio: rate('signed') / published,
            roundRatios: signedRatios,
            writes: totals.signed.writes,
            cpu: totals.signed.cpu,
          },
        }
      : {}),
    ...(settings.decompose
      ? {
          decomposition: {
            statements: rate('statements'),
            relayOff: rate('relay-off'),
            statementsCpu: perWriteOf(totals.statements.cpu, totals.statements.writes, 'app (statements)'),
            relayOffCpu: perWriteOf(totals['relay-off'].cpu, totals['relay-off'].writes, 'app (relay-off)'),
          },
        }
      : {}),
  };
}

/** CPU milliseconds per write of one process. */
export function perWriteOf(cpu: Record<string, number>, writes: number, who: string): number {
  return (cpu[who] ?? 0) / Math.max(1, writes);
}
