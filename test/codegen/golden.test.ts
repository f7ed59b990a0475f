/**
 * Golden codegen folders: `test/codegen/<case>/input.prom` and the exact files it generates
 * (plain and mocks) under `expected/`. Missing and extra files both fail.
 * `UPDATE_GOLDEN=1 npm test golden` rewrites `expected/`; review the diff.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emitMocks, emitWorkspace, renderCompact } from '../../src/compiler/index.js';
import { compileCase, listFiles } from '../helpers/corpus.js';

const root = new URL('.', import.meta.url).pathname;
const update = process.env.UPDATE_GOLDEN === '1';
/** A fixed clock, so that the first migration of each app always has the same name. */
const migrations = { now: new Date('2026-01-02T03:04:05Z') };

const cases = readdirSync(root).filter((entry) => {
  try {
    return statSync(join(root, entry, 'input.prom')).isFile();
  } catch {
    return false;
  }
});

for (const name of cases) {
  test(`${name}: generates exactly the files in expected/`, async () => {
    const result = await compileCase(join(root, name), 'input.prom');
    assert.ok(result.workspace, result.diagnostics.map(renderCompact).join('\n'));
    const files = [...emitWorkspace(result.workspace, migrations), ...emitMocks(result.workspace)];
    const expectedDir = join(root, name, 'expected');
    if (update) {
      rmSync(expectedDir, { recursive: true, force: true });
      for (const file of files) {
        mkdirSync(dirname(join(expectedDir, file.path)), { recursive: true });
        writeFileSync(join(expectedDir, file.path), file.content);
      }
    }
    const actual = new Map(files.map((f) => [f.path, f.content]));
    const expected = listFiles(expectedDir)
      .map((p) => relative(expectedDir, p))
      .sort();
    assert.equal([...actual.keys()].sort(), expected, 'the same file list');
    for (const path of expected) {
      assert.fixture(actual.get(path) ?? '', readFileSync(join(expectedDir, path), 'utf8'), `${name}/${path}`);
    }
  });
}

test('generating twice gives byte-identical output', async () => {
  for (const name of cases) {
    const first = await compileCase(join(root, name), 'input.prom');
    const second = await compileCase(join(root, name), 'input.prom');
    assert.ok(first.workspace && second.workspace);
    assert.equal(emitWorkspace(first.workspace, migrations), emitWorkspace(second.workspace, migrations));
    assert.equal(emitMocks(first.workspace), emitMocks(second.workspace));
  }
});

test.run();
