/**
 * The generated types of derived attributes, type-checked with the TypeScript compiler: the
 * golden case's generated files compile; a derived virtual attribute's function gets the own
 * columns it reads and its related rows, nested by relation, and no other; the app writes no
 * derived column, and reads one that may be empty.
 */
import ts from 'typescript';
import { snippetProgram } from '../helpers/typescript.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listFiles, repoPath } from '../helpers/corpus.js';

const folder = repoPath('test', 'codegen', 'derived');

const imports = `import type { OrderCreate, OrderRow, Virtuals } from './expected/shop/publisher.js';
declare const row: OrderRow;
void row;
`;

/** Each snippet, and the TypeScript error codes it must give (none: it compiles). */
const cases: readonly (readonly [name: string, body: string, errors: readonly number[]])[] = [
  [
    'a derived virtual function reads its own columns and its related rows',
    `export const virtuals: Virtuals = {
  Order: { customer_full_name: (own, related) => \`\${own.status}: \${related.customer.first_name} \${related.customer.last_name}\` },
};`,
    [],
  ],
  [
    'a related column it does not read is not there',
    `export const virtuals: Virtuals = { Order: { customer_full_name: (_, related) => String(related.customer.region_id) } };`,
    [2339],
  ],
  [
    'an own column it does not read is not there',
    `export const virtuals: Virtuals = { Order: { customer_full_name: (own) => String(own.customer_id) } };`,
    [2339],
  ],
  [
    'the app never writes a derived column',
    `export const create: OrderCreate = { customer_id: 1, status: 'paid', line_count: 2 };`,
    [2353],
  ],
  ['a derived column of a row may be empty', `export const lines: number = row.line_count;`, [2322]],
  ['a derived column of a row, read as it may be', `export const lines: number = row.line_count ?? 0;`, []],
];

const files = new Map(cases.map(([, body], i) => [`${folder}/derived-types-case-${i}.ts`, `${imports}${body}\n`]));

function program(): ts.Program {
  return snippetProgram(
    files,
    listFiles(`${folder}/expected`).filter((f) => f.endsWith('.ts')),
  );
}

const checked = program();

test("the golden case's generated files type-check", () => {
  const generated = listFiles(`${folder}/expected`).filter((f) => f.endsWith('.ts'));
  assert.ok(generated.length > 5, generated.join(', '));
  for (const path of generated) {
    const file = checked.getSourceFile(path);
    assert.ok(file, path);
    const errors = ts
      .getPreEmitDiagnostics(checked, file)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
    assert.equal(errors, [], path);
  }
});

for (const [i, [name, , errors]] of cases.entries()) {
  test(`${name}: ${errors.length === 0 ? 'no error' : errors.map((c) => `TS${c}`).join(', ')}`, () => {
    const file = checked.getSourceFile(`${folder}/derived-types-case-${i}.ts`);
    assert.ok(file);
    const found = ts.getPreEmitDiagnostics(checked, file);
    assert.equal(
      found.map((d) => d.code),
      errors,
      found.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')).join('\n'),
    );
  });
}

test.run();
