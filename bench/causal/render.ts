/** The causal benchmark's report: both figures as tables, the goals, where the time goes. */
import {
  cpuPer,
  type FigureGoal,
  fmt,
  type Machine,
  machineLines,
  otherLoad,
  otherLoadLine,
  percentile,
  perFigureLoad,
  perUnit,
  type RunInfo,
  srcChangedLines,
  Text,
  totalStatements,
} from '../lib/index.js';
import type { Figure, PairResult } from './pair.js';
import { goal, modeName, orgRenameEvery, settings } from './settings.js';

export interface Results {
  readonly machine: Machine;
  readonly pairs: PairResult[];
  readonly run: RunInfo;
  /** Seconds measuring, without those spent waiting for a quiet machine. */
  readonly seconds: number;
}

export function render(r: Results, markdown: boolean): string {
  const out = new Text(markdown);
  if (markdown) out.push(...preamble(r), '');
  out.heading(
    `Figure 1: end to end, publisher at full speed (${settings.writers} writers, ${settings.rounds} rounds of ${settings.seconds} s per mode)`,
  );
  out.table(rows(r, (p) => p.endToEnd, false));
  out.heading(
    `Figure 2: the subscriber alone, draining a backlog of ${settings.drainRequests} requests (${settings.drainRounds} rounds per mode)`,
  );
  out.table(rows(r, (p) => p.drain, true));
  out.goals(goalsOf(r), true);
  out.warnings(failures(r));
  whereTheTimeGoes(out, r);
  return out.toString();
}

function preamble(r: Results): string[] {
  return [
    `Measured ${r.run.date} at commit ${r.machine.commit}, in ${fmt(r.seconds)} s. Regenerate with \`npm run bench:causal\` (bench/causal.ts).`,
    '',
    ...machineLines(r.machine),
    ...srcChangedLines(r.run.srcChanged),
    `${otherLoadLine(r.run.otherCores ?? Number.NaN, r.machine.cores, 'while the figures were measured')}${perFigureLoad}`,
    `- Workload (the users example): ${settings.writers} writers run requests at full speed, each inside \`publisher.context(...)\`, so that every message depends on the context's previous one: (1) \`Organization.find\` and \`User.create\` in that organization (\`org_id belongs_to Organization\`), (2) \`User.find\` of a user another writer created lately and \`User.update\` of the writer's own user, (3) every ${orgRenameEvery}th request, \`Organization.update\` of one of the writer's organizations. Every message carries one to three dependencies.`,
    `- One subscriber process, prefetch ${settings.prefetch ?? '5 (default)'}, on the same database and queue in both modes: the mode changes between phases (the \`Subscriber\` is stopped and a new one started). Modes alternate ABBA from round to round; a warm-up phase of each mode runs before each figure's rounds.`,
    `- "Waited": messages whose apply found a dependency missing at least once (more than one database transaction for the message, or deferred through the broker), counted in the subscriber process. Bareback mode never waits.`,
  ];
}

function rows(r: Results, f: (p: PairResult) => Figure, drain: boolean): string[][] {
  return [
    [
      'publisher > subscriber',
      'mode',
      'operations',
      ...(drain ? [] : ['commits/s']),
      'applied/s',
      'causal / bareback',
      'per round (median)',
      ...(drain ? [] : ['p50 ms', 'p99 ms']),
      'dependency misses (per message)',
      'delivery > ack p50 ms',
      'deferred',
      'transactions per message',
      'subscriber CPU ms per op',
      'statements per message',
      'other load',
    ],
    ...r.pairs.flatMap((p) =>
      (['causal', 'bareback'] as const).map((kind) => {
        const fig = f(p);
        const s = fig[kind];
        return [
          `${p.from} > ${p.to}`,
          modeName(s.mode),
          String(s.ops),
          ...(drain ? [] : [fmt(s.commitRate)]),
          fmt(s.rate),
          kind === 'causal' ? fmt(fig.ratio, 2) : '',
          kind === 'causal'
            ? `${fig.roundRatios.map((x) => fmt(x, 2)).join(' / ')} (${fmt(
                percentile(
                  [...fig.roundRatios].sort((a, b) => a - b),
                  0.5,
                ),
                2,
              )})`
            : '',
          ...(drain ? [] : [fmt(s.p50, 1), fmt(s.p99, 1)]),
          `${s.misses} (${fmt(s.misses / Math.max(1, s.messages), 3)})`,
          fmt(s.handledP50, 1),
          String(s.deferred),
          fmt(s.attempts / Math.max(1, s.messages), 2),
          fmt((s.cpu.subscriber ?? 0) / Math.max(1, s.ops), 2),
          fmt(totalStatements(s.subscriberQueries) / Math.max(1, s.messages), 1),
          fmt(otherLoad(s.cpu), 2),
        ];
      }),
    ),
  ];
}

function failures(r: Results): string[] {
  return r.pairs.flatMap((p) =>
    [p.endToEnd, p.drain].flatMap((f) =>
      [f.causal, f.bareback]
        .filter((s) => s.errors > 0 || s.missing > 0)
        .map(
          (s) =>
            `${p.from} > ${p.to} ${s.mode}: ${s.errors} errors, ${s.missing} operations never applied${s.firstError ? ` (${s.firstError.split('\n')[0]})` : ''}`,
        ),
    ),
  );
}

function whereTheTimeGoes(out: Text, r: Results): void {
  out.heading(
    'Where the time goes: CPU per operation by process (ms), subscriber statements per message with their mean time',
  );
  const b: string[][] = [['where', 'per operation (or message)']];
  for (const p of r.pairs) {
    for (const [name, f] of [
      ['fig. 1', p.endToEnd],
      ['fig. 2', p.drain],
    ] as const) {
      for (const s of [f.causal, f.bareback]) {
        const what = `${name} ${p.from} > ${p.to} ${s.mode}`;
        b.push([`${what}: CPU`, cpuPer(s.cpu, s.ops)]);
        b.push([`${what}: subscriber statements`, perUnit(s.subscriberQueries, s.messages)]);
      }
    }
  }
  out.table(b);
}

export function goalsOf(r: Results): FigureGoal[] {
  return r.pairs.flatMap((p) => [
    {
      figure: '1',
      what: `causal / bareback applied/s end to end, ${p.from} > ${p.to}`,
      value: fmt(p.endToEnd.ratio, 2),
      goal: `>= ${goal}`,
      ok: p.endToEnd.ratio >= goal,
    },
    {
      figure: '2',
      what: `causal / bareback applied/s, subscriber draining a backlog, ${p.from} > ${p.to}`,
      value: fmt(p.drain.ratio, 2),
      goal: `>= ${goal}`,
      ok: p.drain.ratio >= goal,
    },
  ]);
}
