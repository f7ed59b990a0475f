/** The direction of imports is part of the design: compiler and runtime never import each other. */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listFiles, repoPath } from '../helpers/corpus.js';

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1] as string);
}

function violations(folder: string, forbidden: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of listFiles(repoPath(folder)).filter((f) => f.endsWith('.ts'))) {
    for (const specifier of imports(file)) {
      const target = specifier.startsWith('.') ? relative(repoPath(), resolve(dirname(file), specifier)) : specifier;
      if (forbidden.some((f) => target === f || target.startsWith(`${f}/`)))
        found.push(`${relative(repoPath(), file)} imports ${specifier}`);
    }
  }
  return found;
}

test('the compiler imports neither the runtime nor the transports', () => {
  assert.equal(violations('src/compiler', ['src/runtime', 'src/transport', 'promiscuous/runtime']), []);
  assert.equal(violations('grammar', ['src/runtime', 'src/transport']), []);
});

test('the runtime never imports the compiler', () => {
  assert.equal(violations('src/runtime', ['src/compiler', 'grammar', 'promiscuous/compiler']), []);
});

test('the import scan sees real imports', () => {
  assert.ok(imports(repoPath('src/compiler/compile.ts')).includes('./parse/parse-prom.js'));
});

test.run();
