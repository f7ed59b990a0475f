/**
 * Fuzzes the compiler: valid routes (`.prom` text, and `defineConfig` objects) are mutated at
 * random with a seeded PRNG, and every mutant must compile without throwing, with diagnostics
 * that point at a real place (file, 1-based line and column that agree with the offset) and
 * say how to fix every error. Mutants that compile cleanly must also generate.
 *
 *   FUZZ_ITERATIONS=n   `.prom` mutants (default 2000), and a quarter as many config mutants
 *   FUZZ_SEED=n|random  the master seed (default fixed, so that `npm test` is reproducible)
 *   FUZZ_REPLAY=i       run only mutant i of the seed (both front ends), and print it
 *   FUZZ_EMITS=n        at most n distinct apps are generated (default 150; ~30-60 ms an app)
 *
 * A failure prints the seed, the mutant's number, its source, and a shrunk input that still
 * shows the same failure.
 */
import { test } from 'uvu';
import { fuzzConfig, fuzzProm, once, verdict } from '../helpers/fuzz/runs.js';

const prom = once(fuzzProm);
const config = once(fuzzConfig);

test('.prom mutants: compile, rendering and generate never throw', () => {
  verdict('.prom', prom(), 0, 'crash');
});

test('.prom mutants: every diagnostic names a file read, with a line and column that agree with its offset', () => {
  verdict('.prom', prom(), 1, 'misplaced diagnostic');
});

test('.prom mutants: every error says how to fix it', () => {
  verdict('.prom', prom(), 2, 'error without a fix');
});

test('defineConfig mutants: compile, rendering and generate never throw', () => {
  verdict('defineConfig', config(), 0, 'crash');
});

test('defineConfig mutants: every diagnostic names a file read, with a line and column that agree with its offset', () => {
  verdict('defineConfig', config(), 1, 'misplaced diagnostic');
});

test('defineConfig mutants: every error says how to fix it', () => {
  verdict('defineConfig', config(), 2, 'error without a fix');
});

test.run();
