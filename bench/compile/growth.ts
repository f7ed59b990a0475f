/** The compile benchmark's table: how compile and generate grow with the number of models. */
import { table } from '../table.js';
import { dist, type Sample } from './measure.js';
import { routes } from './routes.js';
import { mb, median, ms, sample, stages } from './samples.js';

export function run(sizes: readonly number[], runs: number): void {
  console.log(`compile benchmark: ${runs} runs per size, each in a fresh process; medians shown`);
  console.log(
    `node ${process.version}, ${process.platform}/${process.arch}, compiler from ${dist ? 'dist/ (tsc build)' : 'src/ (tsx)'}\n`,
  );
  const results = new Map<number, Sample[]>();
  for (const models of sizes) {
    const samples = measureSize(models, runs);
    if (samples.length > 0) results.set(models, samples);
  }
  console.log(`\n${table(sizeRows(sizes, results), false)}`);
  const ratios = growthRows(sizes, results);
  if (ratios.length > 1) console.log(`\n${table(ratios, false)}`);
  const goal = results.get(500);
  if (goal) {
    const total = median(goal.map(stages.generate.ms));
    console.log(`\ngoal: generate 500 models in under 3 s: ${ms(total)}, ${total < 3000 ? 'met' : 'NOT met'}`);
  }
}

function measureSize(models: number, runs: number): Sample[] {
  const { text, apps, subscriptions } = routes(models);
  console.log(
    `${models} models: ${apps} apps, ${subscriptions} subscriptions and observers, ${text.split('\n').length} lines (${(text.length / 1024).toFixed(0)} KB)`,
  );
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    try {
      const s = sample(models);
      samples.push(s);
      console.log(
        `  run ${i + 1}: compile ${ms(s.compileMs)}, emit ${ms(s.emitMs)}, peak RSS ${mb(s.generatePeakRss)}`,
      );
    } catch (error) {
      console.log(`  run ${i + 1} failed: ${String((error as Error).message).split('\n')[0]}`);
      break;
    }
  }
  return samples;
}

function sizeRows(sizes: readonly number[], results: ReadonlyMap<number, Sample[]>): string[][] {
  const rows: string[][] = [
    ['models', 'stage', 'wall (median)', 'per model', 'runs', 'peak RSS', 'RSS growth', 'heap after'],
  ];
  for (const models of sizes) {
    const samples = results.get(models) ?? [];
    if (samples.length === 0) continue;
    for (const stage of ['compile', 'generate'] as const) {
      const f = stages[stage];
      const total = median(samples.map(f.ms));
      rows.push([
        String(models),
        f.label,
        ms(total),
        `${(total / models).toFixed(2)} ms`,
        samples.map((s) => ms(f.ms(s))).join(' / '),
        mb(median(samples.map(f.peak))),
        mb(median(samples.map((s) => f.peak(s) - s.baseRss))),
        mb(median(samples.map(f.heap))),
      ]);
    }
    rows.push([
      String(models),
      '  of which emit',
      ms(median(samples.map((s) => s.emitMs))),
      `${(median(samples.map((s) => s.emitMs)) / models).toFixed(2)} ms`,
      '',
      '',
      '',
      '',
    ]);
  }
  return rows;
}

function growthRows(sizes: readonly number[], results: ReadonlyMap<number, Sample[]>): string[][] {
  const ratios: string[][] = [['growth', 'compile time', 'emit time', 'generate time', 'generate RSS growth']];
  for (let i = 1; i < sizes.length; i++) {
    const a = sizes[i - 1] as number;
    const b = sizes[i] as number;
    if (!results.has(a) || !results.has(b)) continue;
    const ratio = (f: (s: Sample) => number): string =>
      `${(median((results.get(b) ?? []).map(f)) / median((results.get(a) ?? []).map(f))).toFixed(1)}x`;
    ratios.push([
      `${b}/${a} (linear: ${(b / a).toFixed(0)}x)`,
      ratio((s) => s.compileMs),
      ratio((s) => s.emitMs),
      ratio(stages.generate.ms),
      ratio((s) => s.generatePeakRss - s.baseRss),
    ]);
  }
  return ratios;
}
