/** The runs: each front end is fuzzed once; the tests read its findings. */
import * as assert from 'uvu/assert';
import { type CompileOutput, compile } from '../../../src/compiler/index.js';
import { check, type Emits, memoryHost } from './check.js';
import { mutateConfig } from './config-mutations.js';
import { count, type Found, record, report, summary, type Tally, tally } from './findings.js';
import { printConfig } from './print-config.js';
import { int, mutantSeed, pick, range, rng } from './random.js';
import { configSeeds, type Json, promSeeds } from './seeds.js';
import { configIterations, masterSeed, promIterations, replay, shrinkBudgetMs, slowMs } from './settings.js';
import { shrinkConfig, shrinkText } from './shrink.js';
import { mutateTimes } from './text-mutations.js';

function shrinkAll<I>(
  found: Map<string, Found<I>>,
  stillFails: (f: Found<I>, input: I) => boolean,
  shrink: (f: Found<I>, fails: (input: I) => boolean) => string,
): void {
  const until = performance.now() + shrinkBudgetMs;
  // Crashes first: they matter most.
  const order = [...found.values()].sort((a, b) => kindOf(a.signature) - kindOf(b.signature));
  for (const f of order) {
    if (f.signature.startsWith('compile slower') || performance.now() > until) continue;
    const deadline = Math.min(until, performance.now() + shrinkBudgetMs / 4);
    const fails = (input: I): boolean => performance.now() < deadline && stillFails(f, input);
    if (fails(f.input)) f.shrunk = shrink(f, fails);
  }
}

/** 0: a crash, 1: a misplaced diagnostic, 2: an error without a fix. */
function kindOf(signature: string): number {
  return signature.startsWith('position') ? 1 : signature.startsWith('no fix') ? 2 : 0;
}

interface Run<I> {
  readonly found: Map<string, Found<I>>;
  readonly tally: Tally;
}

function failuresOf<I>(run: Run<I>, kind: number): Found<I>[] {
  return [...run.found.values()].filter((f) => kindOf(f.signature) === kind);
}

export function verdict<I>(label: string, run: Run<I>, kind: number, what: string): void {
  const failures = failuresOf(run, kind);
  if (failures.length > 0) {
    console.log(report(label, new Map(failures.map((f) => [f.signature, f]))));
  }
  assert.ok(
    failures.length === 0,
    `${failures.length} kind(s) of ${what}:\n  ${failures.map((f) => `${f.signature} (${f.count}×)`).join('\n  ')}`,
  );
}

type PromInput = { readonly files: ReadonlyMap<string, string>; readonly main: string };

function compileProm(input: PromInput): CompileOutput {
  return compile({ prom: [input.main] }, memoryHost(input.files));
}

export function fuzzProm(): Run<PromInput> {
  const started = performance.now();
  const found = new Map<string, Found<PromInput>>();
  const t = tally();
  let slowest = { ms: 0, iteration: -1 };
  for (const iteration of range(promIterations)) {
    const seed = mutantSeed(masterSeed, 0, iteration);
    const r = rng(seed);
    const base = pick(r, promSeeds);
    const other = pick(r, promSeeds);
    const files = new Map<string, string>([[base.path, base.text], ...Object.entries(base.parts)]);
    const partPaths = Object.keys(base.parts);
    // Mostly the main file; sometimes an included one; sometimes both.
    const roll = r();
    if (roll < 0.85 || partPaths.length === 0) files.set(base.path, mutateTimes(r, base.text, other.text));
    if (roll >= 0.75 && partPaths.length > 0) {
      const part = pick(r, partPaths);
      files.set(part, mutateTimes(r, files.get(part) ?? '', other.text));
    }
    const input = { files, main: base.path };
    const source = [...files].map(([path, text]) => `=== ${path}\n${text}`).join('\n');
    if (replay !== undefined) console.log(source);
    const t0 = performance.now();
    const result = check(() => compileProm(input), t.emits);
    const ms = performance.now() - t0;
    const mutant = { iteration, seed, source, input };
    if (!result.output?.workspace && ms > slowest.ms) slowest = { ms, iteration };
    if (!result.output?.workspace && ms > slowMs) {
      record(found, [{ signature: `compile slower than ${slowMs} ms`, detail: `${ms.toFixed(0)} ms` }], mutant);
    }
    count(t, result.output);
    record(found, result.failures, mutant);
  }
  console.log(summary('.prom', t, performance.now() - started));
  console.log(`  slowest compile of an invalid mutant: ${slowest.ms.toFixed(1)} ms (mutant ${slowest.iteration})`);

  // Shrink the main file of one example of each kind; included files stay as they are.
  const emits = (): Emits => ({ seen: new Set(), done: 0, skipped: 0, ms: 0 });
  shrinkAll(
    found,
    (f, input) => check(() => compileProm(input), emits()).failures.some((x) => x.signature === f.signature),
    (f, fails) => {
      const withMain = (text: string): PromInput => ({
        ...f.input,
        files: new Map(f.input.files).set(f.input.main, text),
      });
      const main = shrinkText(f.input.files.get(f.input.main) ?? '', (text) => fails(withMain(text)), 2000);
      const parts = [...f.input.files].filter(([path]) => path !== f.input.main);
      return [`=== ${f.input.main}\n${main}`, ...parts.map(([path, text]) => `=== ${path}\n${text}`)].join('\n');
    },
  );
  return { found, tally: t };
}

type ConfigInput = { readonly value: Json; readonly layout: number };
const configPath = 'promiscuous.config.ts';

function compileConfig(value: Json, text: string): CompileOutput {
  return compile({ configs: [{ path: configPath, text, value }] }, memoryHost(new Map()));
}

export function fuzzConfig(): Run<ConfigInput> {
  const started = performance.now();
  const found = new Map<string, Found<ConfigInput>>();
  const t = tally();
  for (const iteration of range(configIterations)) {
    const seed = mutantSeed(masterSeed, 1, iteration);
    const r = rng(seed);
    const root = { value: structuredClone(pick(r, configSeeds).value) };
    const n = r() < 0.85 ? 1 + int(r, 3) : 4 + int(r, 12);
    for (let k = 0; k < n; k++) mutateConfig(r, root);
    const layout = mutantSeed(seed, 2, 0);
    const text = printConfig(rng(layout), root.value);
    if (replay !== undefined) console.log(text);
    const result = check(() => compileConfig(root.value, text), t.emits);
    count(t, result.output);
    record(found, result.failures, { iteration, seed, source: text, input: { value: root.value, layout } });
  }
  console.log(summary('defineConfig', t, performance.now() - started));

  const print = (f: Found<ConfigInput>, value: Json): string => printConfig(rng(f.input.layout), value);
  const emits = (): Emits => ({ seen: new Set(), done: 0, skipped: 0, ms: 0 });
  shrinkAll(
    found,
    (f, input) =>
      check(() => compileConfig(input.value, print(f, input.value)), emits()).failures.some(
        (x) => x.signature === f.signature,
      ),
    (f, fails) =>
      print(
        f,
        shrinkConfig(f.input.value, (value) => fails({ ...f.input, value }), 2000),
      ),
  );
  return { found, tally: t };
}

export function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}
