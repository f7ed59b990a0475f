/** The fuzzer's settings, from the environment (see test/unit/fuzz.test.ts). */
function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${raw}`);
  return n;
}

const iterations = envInt('FUZZ_ITERATIONS');
export const promIterations = iterations ?? 2000;
export const configIterations = Math.ceil(promIterations / 4);
export const masterSeed =
  process.env.FUZZ_SEED === 'random' ? (Date.now() ^ (process.pid << 16)) >>> 0 : (envInt('FUZZ_SEED') ?? 20240611);
export const replay = envInt('FUZZ_REPLAY');
export const emitCap = envInt('FUZZ_EMITS') ?? 150;
/**
 * A mutant this slow to compile is reported (error recovery gone exponential, say). Mutants of
 * these small seeds compile in 1-50 ms; the margin is for a loaded machine.
 */
export const slowMs = 2000;

export const shrinkBudgetMs = 4000;
