/**
 * Runs every `*.test.ts` under test/ (or those whose path contains one of the arguments) with
 * uvu, then prints the plain summary line `N passed, N failed` that CI reads.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('.', import.meta.url).pathname;
const filters = process.argv.slice(2);

function find(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return entry === 'node_modules' || entry === 'expected' ? [] : find(path);
      return entry.endsWith('.test.ts') ? [path] : [];
    });
}

const files = find(root).filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)));
type Run = () => Promise<[string | true, number, number, number]>;
const g = globalThis as unknown as { UVU_DEFER: number; UVU_QUEUE: [string | null, ...Run[]][]; UVU_INDEX: number };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];
const uvu = await import('uvu');
let passed = 0;
let failed = 0;
for (const [index, file] of files.entries()) {
  g.UVU_INDEX = index;
  g.UVU_QUEUE.push([relative(root, file)]);
  await import(pathToFileURL(file).href);
}
// Count through uvu's own per-suite results, so the summary can never disagree with it.
for (const group of g.UVU_QUEUE) {
  for (let i = 1; i < group.length; i++) {
    const run = group[i] as Run;
    group[i] = async () => {
      const result = await run();
      passed += result[1];
      failed += result[3] - result[1];
      return result;
    };
  }
}
await uvu.exec(false);
if (files.length === 0) {
  console.log('no test files matched');
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
