/**
 * Compile benchmark: how `compile` (parse + validate) and the whole generate (`compile` +
 * `emitWorkspace`) grow with the number of models.
 *
 *   npm run bench:compile                      the table, for 50, 500 and 5,000 models
 *   npm run bench:compile -- --sizes 50,500    other sizes
 *   npm run bench:compile -- --runs 5          runs per size (default 3; medians are shown)
 *   npm run bench:compile -- --profile 500     where generate spends its time, from a CPU profile
 *   npm run bench:compile -- --dist            measure the built compiler (dist/, after `npm run build`)
 *                                              instead of src/ run through tsx
 *
 * The routes are generated in memory with a seeded PRNG, so every run measures the same input:
 * publisher apps of 50 models each (5-10 typed attributes, some `belongs_to`, some subtypes,
 * some virtual attributes, a few ephemerals and embedded documents), and four subscriber apps
 * that each subscribe to (or observe) most of the published models. Each measurement runs in a
 * fresh child process, so that its peak memory (the kernel's max RSS) is its own.
 */
import { run } from './compile/growth.js';
import { measure } from './compile/measure.js';
import { profile } from './compile/profile.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv.includes('--child')) {
  const models = Number(process.argv[process.argv.indexOf('--child') + 1]);
  console.log(JSON.stringify(measure(models, process.argv.includes('--apps'), option('--cpu-profile'))));
} else if (option('--profile')) {
  profile(Number(option('--profile')));
} else {
  const sizes = (option('--sizes') ?? '50,500,5000').split(',').map(Number);
  const runs = Number(option('--runs') ?? 3);
  run(sizes, Math.max(1, runs));
}
