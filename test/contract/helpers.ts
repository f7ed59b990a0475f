/** Routes compiled in memory, and the schema files `generate` would write for them. */
import * as assert from 'uvu/assert';
import { compile, emitWorkspace, renderCompact, type SourceFile, type Workspace } from '../../src/compiler/index.js';

/** Compiles one `.prom` text, with the schemas of publishers outside it; fails the test on an error. */
export function compileText(text: string, schemas: readonly SourceFile[] = []): Workspace {
  const result = compile(
    { prom: ['routes.prom'], schemas },
    { readFile: (path) => (path === 'routes.prom' ? text : undefined), resolvePath: (_from, path) => path },
  );
  assert.ok(result.workspace, result.diagnostics.map(renderCompact).join('\n'));
  return result.workspace;
}

/** The `*.schema.json` files `generate` writes for the workspace, under `folder`. */
export function schemaFiles(workspace: Workspace, folder: string): SourceFile[] {
  return emitWorkspace(workspace)
    .filter((f) => f.path.endsWith('.schema.json'))
    .map((f) => ({ path: `${folder}/${f.path}`, text: f.content }));
}

/** `sniper.User`, `billing.User (exported)`, `sniper.Member (released)`: who a finding breaks, in short. */
export function short(described: string): string {
  const match = /^(\w+)'s (?:subscription|observer) (\w+)(?: \((its exported|as released|released))?/.exec(described);
  assert.ok(match, described);
  const origin = match[3] === undefined ? '' : match[3] === 'its exported' ? ' (exported)' : ' (released)';
  return `${match[1]}.${match[2]}${origin}`;
}
