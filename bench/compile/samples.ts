/** Measurements of the compile benchmark, each in a fresh process, and how they are summarised. */
import { fileURLToPath } from 'node:url';
import { runOnce } from '../lib/one-shot.js';
import { dist, type Sample } from './measure.js';

const script = fileURLToPath(new URL('../compile.ts', import.meta.url));

/** Runs one measurement in a fresh node, with the same loader flags as this one. */
export function sample(models: number, options: { perApp?: boolean; profile?: string } = {}): Sample {
  return runOnce<Sample>(script, [
    String(models),
    ...(dist ? ['--dist'] : []),
    ...(options.perApp ? ['--apps'] : []),
    ...(options.profile ? ['--cpu-profile', options.profile] : []),
  ]);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MB`;
export const ms = (n: number): string => (n >= 10000 ? `${(n / 1000).toFixed(1)} s` : `${n.toFixed(0)} ms`);

export const stages = {
  compile: {
    label: 'compile (parse+validate)',
    ms: (s: Sample) => s.compileMs,
    peak: (s: Sample) => s.compilePeakRss,
    heap: (s: Sample) => s.compileHeap,
  },
  generate: {
    label: 'generate (compile+emit)',
    ms: (s: Sample) => s.compileMs + s.emitMs,
    peak: (s: Sample) => s.generatePeakRss,
    heap: (s: Sample) => s.generateHeap,
  },
} as const;
