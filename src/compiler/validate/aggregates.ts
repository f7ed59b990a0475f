/**
 * Aggregates over a model's children: `count(OrderLine)`, `sum(OrderLine.amount via order_id)`.
 * The children's model belongs to this one through one `belongs_to` field, or the one `via`
 * names (P221-P223); the declared type fits the function and its source (P220).
 */
import type { AggregateAst, FieldAst, Name } from '../ast/ast.js';
import { didYouMean } from '../diagnostics/suggest.js';
import type { Derivation, Field, FieldType, Publication } from '../ir/ir.js';
import { snakeCase } from '../ir/names.js';
import { type AppContext, written } from './context.js';
import { type FieldResolver, storedField } from './derived-paths.js';
import { formatType } from './types.js';

/** What an aggregate resolves to: its derivation, and the field it reads (none for count). */
export interface ResolvedAggregate {
  readonly derivation: Derivation;
  readonly source?: Field;
}

export function resolveAggregate(
  app: AppContext,
  subject: Publication,
  ast: AggregateAst,
  resolver: FieldResolver,
): ResolvedAggregate | undefined {
  const model = app.publications.get(ast.model.text)?.value;
  if (!model) {
    if (!app.publishDecls.has(ast.model.text)) reportUnknownModel(app, ast.model);
    return undefined;
  }
  if (model.parent !== undefined) {
    // The runtime aggregates every row of the table that references the subject.
    const root = model.ancestors.at(-1) ?? model.parent;
    app.bag.error(
      'P221',
      ast.model.span,
      `\`${model.name}\` is a subtype: an aggregate reads every row of its table, ${root}s of every type`,
      `aggregate over \`${root}\`, the root of \`${model.name}\``,
    );
    return undefined;
  }
  if (!shapeFits(app, ast)) return undefined;
  const via = viaField(app, subject, model, ast);
  if (!via) return undefined;
  const source = ast.attribute ? storedField(app, model, ast.attribute, resolver) : undefined;
  if (ast.attribute && !source) return undefined;
  return {
    derivation: {
      kind: 'aggregate',
      function: ast.function,
      model: model.name,
      table: model.table,
      via: via.column ?? via.name,
      ...(source ? { column: source.column ?? source.name } : {}),
    },
    ...(source ? { source } : {}),
  };
}

function reportUnknownModel(app: AppContext, model: Name): void {
  app.bag.error(
    'P221',
    model.span,
    `\`${model.text}\` is not a published model of app \`${app.name}\``,
    didYouMean(model.text, [...app.publishDecls.keys()], 'a published model:') ??
      'an aggregate reads the rows of a model the app publishes',
  );
}

/** count counts rows; sum, min and max read an attribute of them. */
function shapeFits(app: AppContext, ast: AggregateAst): boolean {
  if (ast.function === 'count' && ast.attribute) {
    app.bag.error(
      'P221',
      ast.attribute.span,
      '`count` counts rows: it reads no attribute',
      `write \`count(${ast.model.text})\`, or \`sum(${ast.model.text}.${ast.attribute.text})\` to add it up`,
    );
    return false;
  }
  if (ast.function !== 'count' && !ast.attribute) {
    app.bag.error(
      'P221',
      ast.model.span,
      `\`${ast.function}\` needs the attribute it reads`,
      written(
        ast.model.span,
        `write \`${ast.function}(${ast.model.text}.<attribute>)\``,
        `write \`${ast.function}: '${ast.model.text}.<attribute>'\``,
      ),
    );
    return false;
  }
  return true;
}

/** The children's `belongs_to` field that holds this model's key: the only one, or the one `via` names. */
function viaField(app: AppContext, subject: Publication, model: Publication, ast: AggregateAst): Field | undefined {
  const candidates = model.fields.filter((f) => f.relation && subject.ancestors.includes(f.relation.model));
  const names = candidates.map((f) => `\`${f.name}\``).join(', ');
  if (ast.via) {
    const via = ast.via;
    const found = candidates.find((f) => f.name === via.text) ?? candidates.find((f) => f.name === `${via.text}_id`);
    if (found) return found;
    const other = model.fields.find((f) => f.name === via.text);
    app.bag.error(
      'P223',
      via.span,
      other
        ? `\`${model.name}.${other.name}\` does not belong to \`${subject.name}\``
        : `\`${model.name}\` has no field \`${via.text}\``,
      candidates.length === 0
        ? `\`${model.name}\` has no \`belongs_to ${subject.name}\`: add one`
        : (didYouMean(
            via.text,
            candidates.map((f) => f.name),
            'a relation to it:',
          ) ?? `use ${names}`),
    );
    return undefined;
  }
  const [only, ...more] = candidates;
  if (only && more.length === 0) return only;
  if (!only) {
    app.bag.error(
      'P221',
      ast.model.span,
      `\`${model.name}\` has no \`belongs_to\` field that points at \`${subject.name}\``,
      written(
        ast.model.span,
        `add one to \`${model.name}\`: \`${snakeCase(subject.name)}_id belongs_to ${subject.name}\``,
        `add one to \`${model.name}\`: \`${snakeCase(subject.name)}_id: { belongsTo: '${subject.name}' }\``,
      ),
    );
    return undefined;
  }
  app.bag.error(
    'P222',
    ast.model.span,
    `\`${model.name}\` belongs to \`${subject.name}\` through ${names}: which one does it aggregate over?`,
    written(
      ast.model.span,
      `name it with \`via\`: \`${ast.function}(${ast.model.text}${ast.attribute ? `.${ast.attribute.text}` : ''} via ${only.name})\``,
      `name it with \`via: '${only.name}'\``,
    ),
  );
  return undefined;
}

const summable = ['integer', 'bigint', 'decimal', 'float'];
const ordered = ['string', 'text', 'integer', 'bigint', 'decimal', 'float', 'date', 'timestamp'];

/**
 * Whether the declared type fits: count is an integer or bigint; sum the source's numeric type
 * (an integer's may be a bigint); min and max the source's type; a decimal's precision may
 * differ. count and sum are never null (0 for no rows); min and max are (no rows).
 */
export function aggregateTypeFits(
  app: AppContext,
  ast: FieldAst,
  aggregate: AggregateAst,
  declared: { type: FieldType; nullable: boolean },
  source: Field | undefined,
): boolean {
  const problem = typeProblem(aggregate, declared, source);
  if (problem) {
    app.bag.error('P220', ast.type?.span ?? aggregate.span, problem.message, problem.fix);
    return false;
  }
  const { function: fn } = aggregate;
  if ((fn === 'count' || fn === 'sum') && declared.nullable) {
    const fix = `write \`${formatType(declared.type, false)}\``;
    app.bag.error('P220', ast.type?.span ?? aggregate.span, `\`${fn}\` is never null: it is 0 for no rows`, fix);
    return false;
  }
  if ((fn === 'min' || fn === 'max') && !declared.nullable) {
    const fix = `write \`${formatType(declared.type, true)}\``;
    app.bag.error('P220', ast.type?.span ?? aggregate.span, `\`${fn}\` of no rows is null`, fix);
    return false;
  }
  return true;
}

function typeProblem(
  aggregate: AggregateAst,
  declared: { type: FieldType },
  source: Field | undefined,
): { message: string; fix: string } | undefined {
  const type = declared.type;
  const name = type.kind === 'scalar' ? type.name : undefined;
  const shown = formatType(type, false);
  if (aggregate.function === 'count') {
    if (name === 'integer' || name === 'bigint') return undefined;
    return { message: `a count is an \`integer\` or a \`bigint\`, not \`${shown}\``, fix: 'declare it `integer`' };
  }
  if (!source) return undefined;
  const from = `\`${aggregate.model.text}.${source.name}\``;
  const sourceType = formatType(source.type, false);
  const sourceName = source.type.kind === 'scalar' ? source.type.name : undefined;
  const kinds = aggregate.function === 'sum' ? summable : ordered;
  if (sourceName === undefined || !kinds.includes(sourceName)) {
    const what = aggregate.function === 'sum' ? 'adds up numbers' : 'compares numbers, strings, dates and timestamps';
    return {
      message: `\`${aggregate.function}\` ${what}: ${from} is \`${sourceType}\``,
      fix: 'aggregate another attribute, or compute it in a virtual attribute',
    };
  }
  const widened = aggregate.function === 'sum' && sourceName === 'integer' && name === 'bigint';
  if (name === sourceName || widened) return undefined;
  const wanted = sourceName === 'decimal' ? 'decimal(p, s)' : sourceName;
  return {
    message: `${from} is \`${sourceType}\`, so its ${aggregate.function} is not \`${shown}\``,
    fix: `declare it \`${wanted}\``,
  };
}
