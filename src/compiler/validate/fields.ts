/**
 * A model's list of fields: names and columns given once (P102, P213), and virtual attributes
 * that use columns of the same model (P207). Each field on its own is checked in field.ts.
 */
import type { FieldAst } from '../ast/ast.js';
import { didYouMean } from '../diagnostics/suggest.js';
import type { Field } from '../ir/ir.js';
import { type AppContext, type FieldsResult, written } from './context.js';
import { type FieldOwner, field } from './field.js';

/** The fields of a model, after the `inherited` ones of its parent. */
export function fields(
  app: AppContext,
  asts: readonly FieldAst[],
  owner: FieldOwner,
  inherited: readonly Field[],
): FieldsResult {
  const result: FieldsResult = { ok: true, fields: [...inherited], spans: new Map() };
  const byName = new Map(inherited.map((f) => [f.name, f]));
  const columns = new Set(inherited.flatMap((f) => (f.column === undefined ? [] : [f.column])));
  const pending: { field: Field; ast: FieldAst }[] = [];
  for (const ast of asts) {
    if (byName.has(ast.name.text)) {
      reportDuplicate(app, ast, inherited, result);
      result.ok = false;
      continue;
    }
    const resolved = field(app, ast, owner);
    if (!resolved) {
      result.ok = false;
      continue;
    }
    if (resolved.column !== undefined) {
      if (columns.has(resolved.column)) {
        app.bag.error(
          'P102',
          ast.name.span,
          `column \`${resolved.column}\` is published twice`,
          'map one of the fields to another column with `column <name>`',
        );
        result.ok = false;
        continue;
      }
      columns.add(resolved.column);
    }
    byName.set(resolved.name, resolved);
    result.spans.set(resolved.name, ast.name.span);
    result.fields.push(resolved);
    pending.push({ field: resolved, ast });
  }
  for (const { field, ast } of pending) {
    if (!checkUses(app, field, ast, byName)) result.ok = false;
  }
  return result;
}

function reportDuplicate(app: AppContext, ast: FieldAst, inherited: readonly Field[], result: FieldsResult): void {
  if (inherited.some((f) => f.name === ast.name.text)) {
    app.bag.error(
      'P213',
      ast.name.span,
      `\`${ast.name.text}\` is already published by the parent model`,
      "remove it here; a subtype publishes its parent's fields",
      [],
    );
    return;
  }
  app.bag.error('P102', ast.name.span, `field \`${ast.name.text}\` is declared twice`, 'remove one of them', [
    { message: 'first declared here', span: result.spans.get(ast.name.text) ?? ast.span },
  ]);
}

/** Each column a virtual attribute uses is a field of the model that is published as a column. */
function checkUses(app: AppContext, field: Field, ast: FieldAst, byName: ReadonlyMap<string, Field>): boolean {
  let ok = true;
  for (const use of field.virtual?.uses ?? []) {
    const target = byName.get(use);
    if (target && target.column !== undefined) continue;
    const useName = ast.modifiers
      .flatMap((m) => (m.kind === 'virtual' ? m.uses.flat() : []))
      .find((u) => u.text === use);
    const candidates = [...byName.values()].filter((f) => f.column !== undefined).map((f) => f.name);
    app.bag.error(
      'P207',
      useName?.span ?? ast.span,
      target
        ? `\`${use}\` is itself virtual; a virtual attribute uses columns`
        : `virtual attribute \`${field.name}\` uses \`${use}\`, which is not a field of this model`,
      target
        ? 'list the columns it is computed from'
        : (didYouMean(use, candidates, 'a field:') ??
            `declare it: ${written(ast.name.span, `\`${use} string private\``, `\`${use}: 'string private'\``)}`),
    );
    ok = false;
  }
  return ok;
}
