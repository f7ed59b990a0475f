/** The replication benchmark's report: its figures as tables, its goals, where the time goes. */
import {
  cpuPer,
  type FigureGoal,
  fmt,
  type Machine,
  machineLines,
  otherLoad,
  otherLoadLine,
  perFigureLoad,
  type RunInfo,
  type ShapeStat,
  sumCpu,
  Text,
  totalStatements,
} from '../lib/index.js';
import type { Measured } from './measure.js';
import { type OverheadFigure, perWriteOf } from './overhead.js';
import type { PairFigure } from './pipelines.js';
import { signedFigures, signedGoals } from './render-signed.js';
import { defaultPrefetch, goals, settings } from './settings.js';

export interface Results {
  readonly machine: Machine;
  readonly overhead: OverheadFigure[];
  readonly pairs: PairFigure[];
  readonly run: RunInfo;
  /** Seconds measuring, without those spent waiting for a quiet machine. */
  readonly seconds: number;
  readonly waitedSeconds: number;
}

export function goalsOf(r: Results): FigureGoal[] {
  const out: FigureGoal[] = [];
  for (const f of r.overhead) {
    out.push({
      figure: '1',
      what: `publisher overhead, ${f.dialect}, ${f.op}`,
      value: fmt(f.ratio, 2),
      goal: `>= ${goals.overhead}`,
      ok: f.ratio >= goals.overhead,
    });
  }
  for (const p of r.pairs) {
    const name = `${p.from} > ${p.to}`;
    const vsNaive = p.promiscuous.max.e2eRate / p.naive.max.e2eRate;
    const vsCommits = p.promiscuous.max.e2eRate / p.promiscuous.max.commitRate;
    out.push({
      figure: '2a',
      what: `end-to-end / naive pipeline, ${name}`,
      value: fmt(vsNaive, 2),
      goal: `>= ${goals.versusNaive}`,
      ok: vsNaive >= goals.versusNaive,
    });
    out.push({
      figure: '2b',
      what: `end-to-end / publishers' commits, ${name}`,
      value: fmt(vsCommits, 2),
      goal: `>= ${goals.versusCommits}`,
      ok: vsCommits >= goals.versusCommits,
    });
    const l = p.promiscuous.latency;
    out.push({
      figure: '3',
      what: `latency p50 at ${fmt(l.rate ?? 0)}/s, ${name}`,
      value: `${fmt(l.p50, 1)} ms`,
      goal: `< ${goals.p50} ms`,
      ok: l.p50 < goals.p50 && l.missing === 0,
    });
    out.push({
      figure: '3',
      what: `latency p99 at ${fmt(l.rate ?? 0)}/s, ${name}`,
      value: `${fmt(l.p99, 1)} ms`,
      goal: `< ${goals.p99} ms`,
      ok: l.p99 < goals.p99 && l.missing === 0,
    });
  }
  return [...out, ...signedGoals(r)];
}

/** Statements per write (or per message), by shape, and the time they took. */
function perWrite(s: Record<string, ShapeStat>, writes: number): string {
  return Object.entries(s)
    .sort((a, b) => b[1].n - a[1].n)
    .map(([k, v]) => `${k} ${fmt(v.n / writes, 2)}${v.ms > 0 ? ` (${fmt(v.ms / v.n, 2)} ms)` : ''}`)
    .join(', ');
}

export function render(r: Results, markdown: boolean): string {
  const out = new Text(markdown);
  if (markdown) out.push(...preamble(r), '');
  figure1(out, r);
  decomposed(out, r);
  figure2(out, r);
  figure3(out, r);
  signedFigures(out, r);
  out.goals(goalsOf(r), true);
  out.warnings(failures(r));
  if (settings.breakdown || markdown) breakdown(out, r);
  return out.toString();
}

function preamble(r: Results): string[] {
  const m = r.machine;
  const other = r.run.otherCores;
  return [
    `Measured ${r.run.date} at commit ${m.commit}, in ${fmt(r.seconds)} s${r.waitedSeconds > 0.5 ? ` (and ${fmt(r.waitedSeconds)} s waiting for a quiet machine)` : ''}. Regenerate with \`node --conditions=source --import tsx bench/replication.ts\`.`,
    '',
    ...machineLines(
      m,
      other === undefined
        ? []
        : [`${otherLoadLine(other, m.cores, 'while the figures were measured')}${perFigureLoad}`],
    ),
    `- ${settings.writers} concurrent writers; subscriber prefetch ${settings.prefetch ?? `${defaultPrefetch} (default)`}; ${fmt(settings.updateShare * 100)}% updates in figures 2-3.`,
  ];
}

function figure1(out: Text, r: Results): void {
  out.heading(
    `Figure 1: publisher overhead (one-row transactions, ${settings.writers} writers, ${settings.rounds} rounds of ${settings.overheadSeconds} s per phase)`,
  );
  out.table([
    [
      'database',
      'write',
      'bare knex tx/s',
      'publisher tx/s',
      'ratio',
      'per round',
      'Knex statements per write: bare',
      'publisher (incl. relay; statements it runs on its connection itself not counted)',
      'outbox backlog',
      'other load',
    ],
    ...r.overhead.map((f) => [
      f.dialect,
      f.op,
      fmt(f.bare),
      fmt(f.published),
      fmt(f.ratio, 2),
      f.roundRatios.map((x) => fmt(x, 2)).join(' / '),
      fmt(totalStatements(f.bareQueries) / f.bareWrites, 1),
      fmt(totalStatements(f.publishedQueries) / f.publishedWrites, 1),
      String(f.backlog),
      fmt(otherLoad(sumCpu(f.bareCpu, f.publishedCpu)), 2),
    ]),
  ]);
}

function decomposed(out: Text, r: Results): void {
  const figures = r.overhead.filter((f) => f.decomposition);
  if (figures.length === 0) return;
  out.heading(
    'Figure 1, decomposed: where the publisher loses against bare writes (tx/s, ratio to bare, app CPU ms per write)',
  );
  const cpuOf = (c: Record<string, number>, writes: number, who: string): string => fmt(perWriteOf(c, writes, who), 2);
  out.table([
    ['database', 'write', 'bare', "the hooks' statements as raw SQL", 'hooks, relay off', 'hooks + relay'],
    ...figures.map((f) => {
      const d = f.decomposition as NonNullable<OverheadFigure['decomposition']>;
      return [
        f.dialect,
        f.op,
        `${fmt(f.bare)} (1.00; ${cpuOf(f.bareCpu, f.bareWrites, 'app (bare)')} ms)`,
        `${fmt(d.statements)} (${fmt(d.statements / f.bare, 2)}; ${fmt(d.statementsCpu, 2)} ms)`,
        `${fmt(d.relayOff)} (${fmt(d.relayOff / f.bare, 2)}; ${fmt(d.relayOffCpu, 2)} ms)`,
        `${fmt(f.published)} (${fmt(f.ratio, 2)}; ${cpuOf(f.publishedCpu, f.publishedWrites, 'app (publisher)')} ms)`,
      ];
    }),
  ]);
}

const kinds = ['promiscuous', 'naive'] as const;

/** A row per pair and pipeline: the pair, the pipeline, then `cells` of its phase. */
function pipelineRows(r: Results, phase: 'max' | 'latency', cells: (x: Measured) => string[]): string[][] {
  return r.pairs.flatMap((p) => kinds.map((kind) => [`${p.from} > ${p.to}`, kind, ...cells(p[kind][phase])]));
}

function figure2(out: Text, r: Results): void {
  out.heading(
    `Figure 2: end-to-end throughput, commit to applied (${settings.writers} writers at full speed for ${settings.e2eSeconds} s)`,
  );
  const rows: string[][] = [
    [
      'publisher > subscriber',
      'pipeline',
      'writes',
      'commits/s',
      'applied/s',
      'applied / commits',
      'p50 ms',
      'p99 ms',
      'deferred',
      'confirm waits: msgs each, p50/p99 ms',
      'statements: per write',
      'per message',
      'other load',
    ],
  ];
  rows.push(
    ...pipelineRows(r, 'max', (x) => [
      String(x.writes),
      fmt(x.commitRate),
      fmt(x.e2eRate),
      fmt(x.e2eRate / x.commitRate, 2),
      fmt(x.p50, 1),
      fmt(x.p99, 1),
      String(x.deferred),
      `${fmt(x.confirms.perWait, 1)}, ${fmt(x.confirms.p50, 1)} / ${fmt(x.confirms.p99, 1)}`,
      fmt(totalStatements(x.publisherQueries) / x.writes, 1),
      fmt(totalStatements(x.subscriberQueries) / Math.max(1, x.messages), 1),
      fmt(otherLoad(x.cpu), 2),
    ]),
  );
  out.table(rows);
}

function figure3(out: Text, r: Results): void {
  out.heading(`Figure 3: latency commit to applied at half the maximum load (open loop, ${settings.latencySeconds} s)`);
  const rows: string[][] = [
    [
      'publisher > subscriber',
      'pipeline',
      'rate /s',
      'writes',
      'p50 ms',
      'p99 ms',
      'max ms',
      'commit > publish p50/p99',
      'publish > delivery',
      'delivery > applied',
      'deferred',
      'lost',
      'other load',
    ],
  ];
  rows.push(
    ...pipelineRows(r, 'latency', (x) => [
      fmt(x.rate ?? 0),
      String(x.writes),
      fmt(x.p50, 1),
      fmt(x.p99, 1),
      fmt(x.max, 1),
      `${fmt(x.legs.publish.p50, 1)} / ${fmt(x.legs.publish.p99, 1)}`,
      `${fmt(x.legs.deliver.p50, 1)} / ${fmt(x.legs.deliver.p99, 1)}`,
      `${fmt(x.legs.apply.p50, 1)} / ${fmt(x.legs.apply.p99, 1)}`,
      String(x.deferred),
      String(x.missing),
      fmt(otherLoad(x.cpu), 2),
    ]),
  );
  out.table(rows);
}

function failures(r: Results): string[] {
  return r.pairs.flatMap((p) =>
    kinds.flatMap((kind) =>
      (['max', 'latency'] as const)
        .filter((phase) => p[kind][phase].errors > 0 || p[kind][phase].missing > 0)
        .map(
          (phase) =>
            `${p.from} > ${p.to} ${kind} ${phase}: ${p[kind][phase].errors} errors, ${p[kind][phase].missing} writes never applied${p[kind][phase].firstError ? ` (${p[kind][phase].firstError?.split('\n')[0]})` : ''}`,
        ),
    ),
  );
}

function breakdown(out: Text, r: Results): void {
  out.heading(
    'Where the time goes: CPU per write by process, statements per write (or applied message) with their mean time',
  );
  const b: string[][] = [['where', 'per write (or applied message)']];
  for (const f of r.overhead) {
    b.push([`fig. 1 ${f.dialect} ${f.op}, bare: CPU ms per write`, cpuPer(f.bareCpu, f.bareWrites)]);
    b.push([`fig. 1 ${f.dialect} ${f.op}, publisher: CPU ms per write`, cpuPer(f.publishedCpu, f.publishedWrites)]);
    b.push([`fig. 1 ${f.dialect} ${f.op}, bare`, perWrite(f.bareQueries, f.bareWrites)]);
    b.push([`fig. 1 ${f.dialect} ${f.op}, publisher`, perWrite(f.publishedQueries, f.publishedWrites)]);
  }
  for (const p of r.pairs) {
    for (const kind of kinds) {
      const x = p[kind].max;
      b.push([`fig. 2 ${p.from} > ${p.to} ${kind}: CPU ms per write`, cpuPer(x.cpu, x.writes)]);
      b.push([`fig. 2 ${p.from} > ${p.to} ${kind}, publisher`, perWrite(x.publisherQueries, x.writes)]);
      b.push([
        `fig. 2 ${p.from} > ${p.to} ${kind}, subscriber`,
        perWrite(x.subscriberQueries, Math.max(1, x.messages)),
      ]);
    }
  }
  out.table(b);
  out.push(
    '',
    "Statements are those Knex reports. On PostgreSQL the publisher's BEGIN and outbox row are not among them (it runs them on its connection itself), and the subscriber's BEGIN and COMMIT, which Knex reports, travel with the statements next to them: no round trip of their own.",
  );
}
