/** What the runs found, and how it is reported. */
import type { CompileOutput } from '../../../src/compiler/index.js';
import type { Emits, Failure } from './check.js';
import { emitCap, masterSeed } from './settings.js';

export interface Found<I> {
  readonly signature: string;
  readonly detail: string;
  readonly iteration: number;
  readonly seed: number;
  /** The mutant as printed. */
  readonly source: string;
  /** The mutant as given to the compiler, to shrink it. */
  readonly input: I;
  count: number;
  shrunk?: string;
}

interface Mutant<I> {
  readonly iteration: number;
  readonly seed: number;
  readonly source: string;
  readonly input: I;
}

export function record<I>(found: Map<string, Found<I>>, failures: readonly Failure[], mutant: Mutant<I>): void {
  for (const f of failures) {
    const known = found.get(f.signature);
    if (known) {
      known.count += 1;
      // Keep the shortest example of each kind.
      if (mutant.source.length < known.source.length) found.set(f.signature, { ...f, ...mutant, count: known.count });
    } else found.set(f.signature, { ...f, ...mutant, count: 1 });
  }
}

export function report<I>(kind: string, found: Map<string, Found<I>>): string {
  const lines = [`${found.size} kind(s) of failure in the ${kind} fuzz (FUZZ_SEED=${masterSeed}):`];
  for (const f of found.values()) {
    lines.push(
      '',
      `* ${f.signature} -- ${f.count} time(s); first shortest: mutant ${f.iteration} (FUZZ_SEED=${masterSeed} FUZZ_REPLAY=${f.iteration}, mutant seed ${f.seed})`,
      `  ${f.detail.split('\n').slice(0, 6).join('\n  ')}`,
      '  --- mutated source ---',
      f.source,
      '  --- smallest input that still fails the same way ---',
      f.shrunk ?? '(not shrunk)',
      '  ---',
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The runs: each front end is fuzzed once; the tests below read its findings.

export interface Tally {
  valid: number;
  invalid: number;
  readonly codes: Map<string, number>;
  readonly emits: Emits;
}

export function tally(): Tally {
  return { valid: 0, invalid: 0, codes: new Map(), emits: { seen: new Set(), done: 0, skipped: 0, ms: 0 } };
}

export function count(t: Tally, output: CompileOutput | undefined): void {
  if (output?.workspace) t.valid += 1;
  else t.invalid += 1;
  for (const d of output?.diagnostics ?? []) t.codes.set(d.code, (t.codes.get(d.code) ?? 0) + 1);
}

export function summary(kind: string, t: Tally, ms: number): string {
  const { emits } = t;
  return [
    `\n  fuzz ${kind}: ${t.valid + t.invalid} mutants (FUZZ_SEED=${masterSeed}) in ${(ms / 1000).toFixed(1)} s:` +
      ` ${t.valid} valid, ${t.invalid} invalid; generated ${emits.done} distinct apps of clean workspaces` +
      ` (${(emits.ms / 1000).toFixed(1)} s of it)` +
      (emits.skipped > 0 ? `, ${emits.skipped} more not generated (FUZZ_EMITS=${emitCap})` : ''),
    `  codes seen: ${[...t.codes]
      .sort()
      .map(([c, n]) => `${c}×${n}`)
      .join(' ')}`,
  ].join('\n');
}
