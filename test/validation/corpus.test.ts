/**
 * The validation corpus: every `.prom` and `.config.ts` file below this folder ends with the
 * diagnostics it must produce, in compact form, after an `expect:` comment line (an empty
 * block means it must compile cleanly). `UPDATE_GOLDEN=1 npm test validation` rewrites the
 * blocks; review the diff. Files in `_parts` folders are only included by other cases; the
 * `*.schema.json` files in `_schemas/<case>/` beside a case are the endpoint schemas it is
 * checked against, as with `promiscuous generate --schemas`.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderCompact, type SourceFile } from '../../src/compiler/index.js';
import { compileCase, expectedBlock, withBlock } from '../helpers/corpus.js';

const root = new URL('.', import.meta.url).pathname;
const update = process.env.UPDATE_GOLDEN === '1';

function cases(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return entry === '_parts' || entry === '_schemas' ? [] : cases(path);
      return entry.endsWith('.prom') || entry.endsWith('.config.ts') ? [relative(root, path)] : [];
    });
}

function schemasOf(path: string): SourceFile[] {
  const dir = join(dirname(path), '_schemas', basename(path).replace(/\.(prom|config\.ts)$/, ''));
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir))
    .sort()
    .filter((entry) => entry.endsWith('.schema.json'))
    .map((entry) => ({ path: join(dir, entry), text: readFileSync(join(root, dir, entry), 'utf8') }));
}

for (const path of cases(root)) {
  const comment = path.endsWith('.ts') ? '//' : '#';
  test(`${path} gives exactly the diagnostics its expect block lists`, async () => {
    const text = readFileSync(join(root, path), 'utf8');
    const block = expectedBlock(text, comment);
    assert.ok(block, `${path} has no "${comment} expect:" block`);
    const result = await compileCase(root, path, schemasOf(path));
    const actual = result.diagnostics.map(renderCompact);
    for (const d of result.diagnostics) {
      assert.ok(d.span.line >= 1 && d.span.column >= 1, `${renderCompact(d)} has a position`);
      assert.ok(d.suggestion || d.severity === 'warning', `${renderCompact(d)} says how to fix it`);
    }
    if (update) writeFileSync(join(root, path), withBlock(block.body, comment, actual));
    else assert.equal(actual, block.expected);
  });
}

test.run();
