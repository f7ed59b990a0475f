/**
 * Properties every generated file must have, checked over the committed examples and the
 * golden folders: TypeScript type-checks under `strict`, and every JSON Schema compiles under
 * `new Ajv2020({ strict: true })`.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listFiles, repoPath } from '../helpers/corpus.js';

const generated = [
  ...listFiles(repoPath('examples')).filter((p) => p.includes('/generated/')),
  ...listFiles(repoPath('test', 'codegen')).filter((p) => p.includes('/expected/')),
];

test('there is generated output to check', () => {
  assert.ok(generated.some((p) => p.endsWith('.ts')));
  assert.ok(generated.some((p) => p.endsWith('.schema.json')));
});

test('generated TypeScript type-checks under strict', () => {
  const roots = generated.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'));
  const program = ts.createProgram(roots, {
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['source'],
    skipLibCheck: true,
    types: ['node'],
  });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${relative(repoPath(), d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  assert.equal(diagnostics, []);
});

test('every generated JSON Schema compiles under Ajv strict mode', () => {
  const schemas = generated.filter((p) => p.endsWith('.schema.json'));
  for (const path of schemas) {
    const ajv = new Ajv2020({ strict: true });
    try {
      ajv.compile(JSON.parse(readFileSync(path, 'utf8')));
    } catch (error) {
      assert.unreachable(`${relative(repoPath(), path)}: ${(error as Error).message}`);
    }
  }
});

test.run();
