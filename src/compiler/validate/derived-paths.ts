/**
 * What a derived attribute reads: a path of `belongs_to` relations from its model (P215, P216)
 * to a stored field (P217, P218), and that field resolved first when it is derived itself, so
 * that a chain of derived attributes takes its types from its sources.
 */
import type { Name, PathAst } from '../ast/ast.js';
import { didYouMean } from '../diagnostics/suggest.js';
import type { Field, Publication, RelationStep } from '../ir/ir.js';
import { type AppContext, written } from './context.js';

/** Gives a field of a model as it is once its derivation is resolved; undefined when it cannot be (reported). */
export type FieldResolver = (model: Publication, field: Field) => Field | undefined;

/** The row a path leads to, and whether a relation along it may be null. */
export interface Reached {
  readonly steps: readonly RelationStep[];
  readonly model: Publication;
  readonly nullable: boolean;
}

/** The relation's name in a path and in `related`: the field less a trailing `_id`. */
export function relationName(field: string): string {
  return field.replace(/_id$/, '') || field;
}

/** A model's field a path step names, by its name or that name less `_id`. */
function namedField(model: Publication, name: string, relations: boolean): Field | undefined {
  const fields = model.fields.filter((f) => (relations ? f.relation !== undefined : true));
  return fields.find((f) => f.name === name) ?? fields.find((f) => f.name === `${name}_id`);
}

/** Follows the relations a path names, all but its last name; undefined when one is not there. */
export function walk(app: AppContext, from: Publication, path: PathAst): Reached | undefined {
  const steps: RelationStep[] = [];
  let model = from;
  let nullable = false;
  for (const name of path.slice(0, -1)) {
    const field = namedField(model, name.text, true);
    if (!field?.relation) {
      reportNotRelation(app, model, name);
      return undefined;
    }
    // A model that failed for an error of its own is reported there.
    const target = app.publications.get(field.relation.model)?.value;
    if (!target) return undefined;
    steps.push({
      name: relationName(field.name),
      column: field.column ?? field.name,
      model: target.name,
      table: target.table,
      key: keyColumn(target),
    });
    nullable ||= field.nullable;
    model = target;
  }
  return { steps, model, nullable };
}

export function keyColumn(model: Publication): string {
  return model.fields.find((f) => f.name === model.primaryKey)?.column ?? model.primaryKey;
}

function reportNotRelation(app: AppContext, model: Publication, name: Name): void {
  const plain = namedField(model, name.text, false);
  const relations = model.fields.filter((f) => f.relation !== undefined).map((f) => relationName(f.name));
  if (plain) {
    app.bag.error(
      'P216',
      name.span,
      `\`${model.name}.${plain.name}\` is not a relation: a path goes through \`belongs_to\` fields`,
      relations.length > 0
        ? `go through ${relations.length > 1 ? 'one of ' : ''}${relations.map((r) => `\`${r}\``).join(', ')}, or end the path at \`${plain.name}\``
        : `\`${model.name}\` has no \`belongs_to\` field: end the path at \`${plain.name}\``,
    );
    return;
  }
  app.bag.error(
    'P215',
    name.span,
    `\`${model.name}\` has no relation \`${name.text}\``,
    didYouMean(name.text, relations, 'a relation of it:') ??
      written(
        name.span,
        `declare it on \`${model.name}\`: \`${name.text}_id belongs_to <Model>\``,
        `declare it on \`${model.name}\`: \`${name.text}_id: { belongsTo: '<Model>' }\``,
      ),
  );
}

/**
 * The field a derived attribute reads at the end of a path, or an aggregate over its model:
 * stored in a column (published or private, or derived itself), never a plain virtual
 * attribute nor an embedded document. Derived, it is resolved first.
 */
export function storedField(
  app: AppContext,
  model: Publication,
  name: Name,
  resolver: FieldResolver,
): Field | undefined {
  const field = model.fields.find((f) => f.name === name.text);
  if (!field) {
    const stored = model.fields.filter((f) => f.column !== undefined).map((f) => f.name);
    app.bag.error(
      'P217',
      name.span,
      `\`${model.name}\` has no field \`${name.text}\``,
      didYouMean(name.text, stored, 'a field of it:') ?? `declare \`${name.text}\` on \`${model.name}\``,
    );
    return undefined;
  }
  if (field.virtual || field.column === undefined || field.type.kind === 'embedded') {
    const plain = field.type.kind === 'embedded' ? 'an embedded document' : 'virtual, and not stored';
    app.bag.error(
      'P218',
      name.span,
      `\`${model.name}.${field.name}\` is ${plain}: a derived attribute reads stored columns`,
      field.type.kind === 'embedded'
        ? `read a column of \`${model.name}\` instead`
        : 'read the columns it is computed from, or make it a derived attribute (read across relations), which is stored',
    );
    return undefined;
  }
  return resolver(model, field);
}

/** Where a path starts and ends, for messages: `customer.region.name`. */
export function pathText(path: PathAst): string {
  return path.map((n) => n.text).join('.');
}

/** The span of a whole path, from its first name to its last. */
export function pathSpan(path: PathAst): Name['span'] | undefined {
  const first = path[0];
  const last = path.at(-1);
  if (!first || !last) return undefined;
  if (first.span.file !== last.span.file || first.span.path !== undefined) return first.span;
  return { ...first.span, length: last.span.offset + last.span.length - first.span.offset };
}
