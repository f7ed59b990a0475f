/**
 * Primary keys: a model's own (P204-P206, P208) and the key a `belongs_to` takes its type from,
 * read from the target's declaration when it is not resolved yet.
 */
import type { Name } from '../ast/ast.js';
import type { FieldType, ScalarName } from '../ir/ir.js';
import type { Span } from '../source/source-file.js';
import { type AppContext, type FieldsResult, written } from './context.js';
import { chainRoot } from './order.js';
import { formatType } from './types.js';

/** The types a primary key may have (P206). */
const keyTypes: readonly string[] = ['string', 'integer', 'bigint', 'uuid'];

/** The name of the model's primary key: the field marked `primary`, or else its own `id`. */
export function primaryKey(app: AppContext, fields: FieldsResult, owner: Name, span: Span): string | undefined {
  const primaries = fields.fields.filter((f) => f.primary);
  if (primaries.length > 1) {
    const second = fields.spans.get(primaries[1]?.name ?? '') ?? span;
    app.bag.error(
      'P205',
      second,
      `\`${owner.text}\` has more than one primary key`,
      'keep `primary` on one field; composite keys are not supported',
    );
    return undefined;
  }
  const primary = primaries[0] ?? fields.fields.find((f) => f.name === 'id' && f.own);
  if (!primary) {
    app.bag.error(
      'P204',
      owner.span,
      `\`${owner.text}\` has no primary key`,
      written(
        owner.span,
        'add a field `id integer primary` (or mark the key field `primary`)',
        "add `id: 'integer primary'` to `fields` (or mark the key field `primary`)",
      ),
    );
    return undefined;
  }
  const scalar = primary.type.kind === 'scalar' ? primary.type.name : undefined;
  const fieldSpan = fields.spans.get(primary.name) ?? span;
  if (scalar === undefined || !keyTypes.includes(scalar) || primary.nullable) {
    app.bag.error(
      'P206',
      fieldSpan,
      `primary key \`${primary.name}\` is \`${formatType(primary.type, primary.nullable)}\``,
      'a primary key is a non-null `integer`, `bigint`, `uuid` or `string`',
    );
    return undefined;
  }
  if (primary.virtual || primary.private) {
    const word = primary.virtual ? 'virtual' : 'private';
    app.bag.error(
      'P208',
      fieldSpan,
      `primary key \`${primary.name}\` cannot be ${word}`,
      `drop \`${word}\`: subscribers match rows by the key, so it is published as a column`,
    );
    return undefined;
  }
  return primary.name;
}

/**
 * The key of the model a `belongs_to` names. A model not resolved yet (the field's own model,
 * one declared later or in an included file) is read from its declaration. `'broken'`: the
 * model is declared but its key cannot be known for an error of its own, reported there;
 * `'loop'`: keys that are relations lead back to `target`, so none has a type.
 */
export function relationKey(
  app: AppContext,
  target: string,
  visiting: Set<string>,
): { name: string; type: FieldType } | 'broken' | 'loop' | undefined {
  const resolved = app.publications.get(target)?.value;
  if (resolved) {
    const key = resolved.fields.find((f) => f.name === resolved.primaryKey);
    return key ? { name: key.name, type: key.type } : 'broken';
  }
  const decl = app.publishDecls.get(target);
  if (!decl) return undefined;
  if (visiting.has(target)) return 'loop';
  visiting.add(target);
  // The key is declared on the root: a chain that breaks before it has none to read.
  const { root, complete } = chainRoot(app.publishDecls, decl);
  if (!complete) return 'broken';
  const primaries = root.fields.filter((f) => f.modifiers.some((m) => m.kind === 'primary'));
  const field = primaries.length > 0 ? primaries[0] : root.fields.find((f) => f.name.text === 'id');
  if (!field || primaries.length > 1) return 'broken';
  const type = field.type;
  if (type === undefined) {
    // A key that is itself a relation (`user_id belongs_to User primary`) has that model's key type.
    const relation = field.modifiers.find((m) => m.kind === 'belongsTo');
    if (relation?.kind !== 'belongsTo') return 'broken';
    const key = relationKey(app, relation.target.text, visiting);
    if (key === 'loop') return key;
    return key === undefined || key === 'broken' ? 'broken' : { name: field.name.text, type: key.type };
  }
  if (type.array || type.nullable || type.args.length > 0 || !keyTypes.includes(type.name.text)) return 'broken';
  return { name: field.name.text, type: { kind: 'scalar', name: type.name.text as ScalarName } };
}
