/** Where generate spends its time: a CPU profile of one generate, summed by library and by function. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { table } from '../table.js';
import type { Sample } from './measure.js';
import { median, ms, sample } from './samples.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function area(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(node internals)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm)
    // ts-morph bundles the TypeScript compiler in @ts-morph/common: it parses and prints there.
    return nm[1] === '@ts-morph/common' ? 'typescript (in @ts-morph/common)' : (nm[1] as string);
  const own = /\/((?:src|grammar|templates|bench)\/.*)$/.exec(url);
  if (own) return own[1] as string;
  return url.startsWith('node:') ? '(node internals)' : url;
}

export function profile(models: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'prom-bench-'));
  try {
    const file = join(dir, 'generate.cpuprofile');
    const measured = sample(models, { profile: file });
    const { self, selfFn, inclusive } = times(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    const top = (m: Map<string, number>, n: number): string[][] =>
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, v]) => [k, ms(v), `${((100 * v) / total).toFixed(1)}%`]);
    console.log(
      `CPU profile of generate (compile + emitWorkspace) for ${models} models: compile ${ms(measured.compileMs)}, emit ${ms(measured.emitMs)}; ${ms(total)} sampled\n`,
    );
    console.log(table([['self time by library / file', 'time', 'share'], ...top(self, 15)], false));
    console.log(
      `\n${table([['inclusive time (project functions, library entry points)', 'time', 'share'], ...top(inclusive, 30)], false)}`,
    );
    console.log(`\n${table([['self time by function', 'time', 'share'], ...top(selfFn, 25)], false)}`);

    // Emit, app by app, in another fresh process (without the profiler's overhead).
    console.log(`\n${table(perApp(sample(models, { perApp: true }).apps ?? []), false)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Self time by area and by function, and inclusive time of the project's functions and the libraries' entry points. */
function times(prof: CpuProfile) {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const selfFn = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i] ?? 0) / 1000;
    const leaf = byId.get(prof.samples[i] as number);
    if (!leaf) continue;
    const { url, functionName, lineNumber } = leaf.callFrame;
    self.set(area(url, functionName), (self.get(area(url, functionName)) ?? 0) + dt);
    const fnKey = `${functionName || '(anonymous)'}  ${area(url, functionName)}:${lineNumber + 1}`;
    selfFn.set(fnKey, (selfFn.get(fnKey) ?? 0) + dt);
    // Inclusive time of the project's own functions and of the libraries' entry points.
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)?.callFrame;
      if (!f) continue;
      const where = area(f.url, f.functionName);
      const key = /^(src|grammar|templates)\//.test(where)
        ? `${f.functionName || '(anonymous)'}  ${where}`
        : /^ajv$|ts-morph/.test(where) &&
            /^(standalone|compile|_addSchema|addSchema|createSourceFile|getFullText|_compileSchemaEnv|validateSchema|compileSchema|set|print|insertStatements|addStatements)/.test(
              f.functionName,
            )
          ? `${f.functionName}  ${where}`
          : undefined;
      if (key && !seen.has(key)) {
        seen.add(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
      }
    }
  }
  return { self, selfFn, inclusive };
}

function perApp(apps: NonNullable<Sample['apps']>): string[][] {
  const rows: string[][] = [
    [
      'emit per app (each app alone)',
      'apps',
      'size (median)',
      'ms per app (median)',
      'total',
      'per model or subscription',
    ],
  ];
  for (const kind of ['publisher', 'subscriber']) {
    const mine = apps.filter((a) => a.kind === kind);
    if (mine.length === 0) continue;
    const total = mine.reduce((n, a) => n + a.ms, 0);
    const size = mine.reduce((n, a) => n + a.size, 0);
    rows.push([
      `${kind} apps`,
      String(mine.length),
      String(median(mine.map((a) => a.size))),
      ms(median(mine.map((a) => a.ms))),
      ms(total),
      `${(total / size).toFixed(2)} ms`,
    ]);
  }
  return rows;
}
