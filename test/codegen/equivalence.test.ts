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
import { readMigrationFolders } from '../../src/compiler/cli/files.js';
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
    // From empty migration folders (the first migrations), and from the committed ones.
    const fresh = { now: new Date('2026-01-02T03:04:05Z') };
    sameFiles(emitWorkspace(config, fresh), emitWorkspace(prom, fresh), `${name} generate`);
    const committed = await committedMigrations(name, prom);
    sameFiles(emitWorkspace(config, committed), emitWorkspace(prom, committed), `${name} generate again`);
    sameFiles(emitMocks(config), emitMocks(prom), `${name} generate mocks`);
  });

  test(`${name}: the committed generated/ folder holds exactly what the routes generate`, async () => {
    const workspace = await workspaceOf(name, 'routes.prom');
    const files = [
      ...emitWorkspace(workspace, await committedMigrations(name, workspace)),
      ...emitMocks(workspace),
    ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const dir = join(examples, name, 'generated');
    const committed = listFiles(dir).map((path) => relative(dir, path));
    // The migrations committed are written once; the routes generate no new one.
    const written = committed.filter((p) => /^[^/]+\/migrations\/[^/]+\.ts$/.test(p));
    const generated = [...files.map((f) => f.path), ...written];
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

test('`unmanaged` gives the same IR and the same files from a .prom file and from defineConfig', async () => {
  const twins = repoPath('test', 'codegen', 'twins');
  const prom = await compileCase(twins, 'unmanaged.prom');
  const config = await compileCase(twins, 'unmanaged.config.ts');
  assert.ok(
    prom.workspace && config.workspace,
    [...prom.diagnostics, ...config.diagnostics].map(renderCompact).join('\n'),
  );
  assert.equal(config.workspace, prom.workspace);
  const sniper = prom.workspace.apps.find((a) => a.name === 'sniper');
  assert.equal(
    sniper?.subscriptions.map((s) => `${s.name} ${s.table} ${s.managed}`),
    ['Buyer buyers true', 'Member members false', 'User members false'],
  );
  const now = { now: new Date('2026-01-02T03:04:05Z') };
  sameFiles(emitWorkspace(config.workspace, now), emitWorkspace(prom.workspace, now), 'unmanaged generate');
});

/** What the committed migrations folders of an example hold, at a time after all of them. */
async function committedMigrations(name: string, workspace: Workspace) {
  const apps = workspace.apps.map((a) => a.name);
  return {
    now: new Date('2100-01-01T00:00:00Z'),
    folders: await readMigrationFolders(join(examples, name, 'generated'), apps),
  };
}

test.run();
