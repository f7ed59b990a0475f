/** CPU profiles (from `--cpu-prof`) of the child processes, summarised for the report. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

/**
 * The self time of a `.cpuprofile` (from `--cpu-prof`), grouped by where the code lives (the
 * runtime's files by name, dependencies by package, Node's internals, garbage collection) and
 * its top functions.
 */
export function summariseProfile(
  file: string,
  top = 12,
): { groups: [string, number][]; functions: [string, number][] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += ms;
    if (functionName === '(idle)' || functionName === '(program)') {
      groups.set(functionName, (groups.get(functionName) ?? 0) + ms);
      continue;
    }
    const group = groupOf(functionName, url);
    groups.set(group, (groups.get(group) ?? 0) + ms);
    const where = url ? `${url.replace(/^.*\/(node_modules\/)?/, '')}:${lineNumber + 1}` : '';
    const fn = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
  }
  const sort = (m: Map<string, number>): [string, number][] =>
    [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / Math.max(1, total)]);
  return { groups: sort(groups).slice(0, top), functions: sort(functions).slice(0, top) };
}

function groupOf(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (!url) return functionName.startsWith('(') ? functionName : 'native';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1] as string;
  if (url.startsWith('node:')) return 'node internals';
  const src = /\/(src\/.+|bench\/.+|examples\/.+)$/.exec(url);
  return src ? (src[1] as string) : url;
}

export function profileFiles(dir: string, label: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith(label) && f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f));
}
