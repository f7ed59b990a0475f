/** The replication benchmark's figures with signing on: figures 1 and 2 again, each as a ratio to signing off. */
import { cpuPer, type FigureGoal, fmt, type Text } from '../lib/index.js';
import type { Results } from './render.js';
import { goals } from './settings.js';

/**
 * CPU microseconds per write by process, the side's own app (`own`, in figure 1) named `app`
 * and figure 1's other sides, idle meanwhile, left out: `app 410, RabbitMQ 40`.
 */
function cpuOf(cpu: Record<string, number>, writes: number, own?: string): string {
  const kept = Object.entries(cpu).filter(([who]) => !who.startsWith('app (') || who === own);
  return cpuPer(Object.fromEntries(kept), writes, 1000)
    .replace(own ?? /^$/, 'app')
    .replace(/(\d+)\.\d+/g, '$1');
}

interface SignedRow {
  readonly figure: '1' | '2';
  readonly what: string;
  readonly off: number;
  readonly on: number;
  readonly roundRatios: readonly number[];
  readonly cpuOff: string;
  readonly cpuOn: string;
}

function rows(r: Results): SignedRow[] {
  const out: SignedRow[] = [];
  for (const f of r.overhead) {
    if (!f.signed) continue;
    out.push({
      figure: '1',
      what: `${f.dialect}, ${f.op}`,
      off: f.published,
      on: f.signed.rate,
      roundRatios: f.signed.roundRatios,
      cpuOff: cpuOf(f.publishedCpu, f.publishedWrites, 'app (publisher)'),
      cpuOn: cpuOf(f.signed.cpu, f.signed.writes, 'app (signed)'),
    });
  }
  for (const p of r.pairs) {
    if (!p.signed) continue;
    const off = p.promiscuous.max;
    const on = p.signed.max;
    out.push({
      figure: '2',
      what: `${p.from} > ${p.to}`,
      off: off.e2eRate,
      on: on.e2eRate,
      roundRatios: p.signed.roundRatios,
      cpuOff: cpuOf(off.cpu, off.writes),
      cpuOn: cpuOf(on.cpu, on.writes),
    });
  }
  return out;
}

export function signedGoals(r: Results): FigureGoal[] {
  return rows(r).map((row) => ({
    figure: `${row.figure}s`,
    what: `signing on / off, ${row.figure === '1' ? 'publisher' : 'end to end'}, ${row.what}`,
    value: fmt(row.on / row.off, 2),
    goal: `>= ${goals.signed}`,
    ok: row.on / row.off >= goals.signed,
  }));
}

export function signedFigures(out: Text, r: Results): void {
  const all = rows(r);
  if (all.length === 0) return;
  out.heading(
    'Figures 1s and 2s: signing on (the publisher signs every message, the subscriber trusts its key and requires signatures), as a ratio to signing off in the same run',
  );
  out.table([
    ['figure', 'database(s)', 'signing off /s', 'signing on /s', 'ratio', 'per round', 'CPU µs per write: off', 'on'],
    ...all.map((row) => [
      row.figure === '1' ? '1s: publisher tx/s' : '2s: applied/s',
      row.what,
      fmt(row.off),
      fmt(row.on),
      fmt(row.on / row.off, 2),
      row.roundRatios.map((x) => fmt(x, 2)).join(' / '),
      row.cpuOff,
      row.cpuOn,
    ]),
  ]);
}
