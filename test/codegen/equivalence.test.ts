/**
 * The two front ends agree: every example folder with both a `routes.prom` and its
 * `promiscuous.config.ts` twin generates byte-identical files from each (header hash
 * included), and those files are exactly the ones committed under `generated/`. Missing and
 * extra files both fail. Regenerate a folder with
 * `node --conditions=source --import tsx bin/promiscuous.js generate [mocks] --config examples/<name>/routes.prom`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type EmittedFile, emitMocks, emitWorkspace, renderCompact, type Workspace } from '../../src/compiler/index.js';
import { compileCase, listFiles, repoPath } from '../helpers/corpus.js';

const examples = repoPath('examples');

const twins = readdirSync(examples)
  .sort()
  .filter(
    (name) =>
      existsSync(join(examples, name, 'routes.prom')) && existsSync(join(examples, name, 'promiscuous.config.ts')),
  );

async function workspaceOf(name: string, path: string): Promise<Workspace> {
  const result = await compileCase(join(examples, name), path);
  assert.ok(result.workspace, `${name}/${path} does not compile:\n${result.diagnostics.map(renderCompact).join('\n')}`);
  assert.equal(result.diagnostics.map(renderCompact), [], `${name}/${path} compiles without warnings`);
  return result.workspace;
}

function sameFiles(actual: readonly EmittedFile[], expected: readonly EmittedFile[], what: string): void {
  assert.equal(
    actual.map((f) => f.path),
    expected.map((f) => f.path),
    `${what}: the same file list`,
  );
  const byPath = new Map(expected.map((f) => [f.path, f.content]));
  for (const file of actual) assert.fixture(file.content, byPath.get(file.path) ?? '', `${what}: ${file.path}`);
}

test('there is at least one example written in both forms', () => {
  assert.ok(twins.length > 0, 'no folder in examples/ has both routes.prom and promiscuous.config.ts');
});

for (const name of twins) {
  test(`${name}: routes.prom and promiscuous.config.ts generate the same files, byte for byte`, async () => {
    const prom = await workspaceOf(name, 'routes.prom');
    const config = await workspaceOf(name, 'promiscuous.config.ts');
    sameFiles(emitWorkspace(config), emitWorkspace(prom), `${name} generate`);
    sameFiles(emitMocks(config), emitMocks(prom), `${name} generate mocks`);
  });

  test(`${name}: the committed generated/ folder holds exactly what the routes generate`, async () => {
    const workspace = await workspaceOf(name, 'routes.prom');
    const files = [...emitWorkspace(workspace), ...emitMocks(workspace)].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
    );
    const dir = join(examples, name, 'generated');
    const committed = listFiles(dir).map((path) => relative(dir, path));
    const generated = files.map((f) => f.path);
    const missing = generated.filter((p) => !committed.includes(p));
    const extra = committed.filter((p) => !generated.includes(p));
    assert.equal(missing, [], `${relative(repoPath(), dir)} lacks generated files: regenerate it`);
    assert.equal(extra, [], `${relative(repoPath(), dir)} has files the routes no longer generate: remove them`);
    for (const file of files) {
      assert.fixture(
        readFileSync(join(dir, file.path), 'utf8'),
        file.content,
        `${name}/generated/${file.path} is stale`,
      );
    }
  });
}

test.run();
