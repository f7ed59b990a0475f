/**
 * The derived attributes of a `defineConfig` field, lowered to the modifiers a `.prom` field
 * gives: `from: 'customer.name'` is `from customer.name`, `sum: 'OrderLine.amount', via:
 * 'order_id'` is `sum(OrderLine.amount via order_id)`. What the names mean is checked later, on
 * the AST, the same for both front ends.
 */
import type { AggregateFunction, ModifierAst, Name, PathAst } from '../ast/ast.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { Loc } from './config-loc.js';

type Obj = Record<string, unknown>;

/** What the lowering of the rest of the config lends: strings read and checked as it reads them. */
export interface ConfigReader {
  readonly bag: DiagnosticBag;
  string(object: Obj, key: string, loc: Loc, required: boolean): Name | undefined;
  /** Whether a name is one (letters, digits and `_`), reported (P106) when it is not. */
  isName(name: Name, what: string): boolean;
}

/** The keys of a field object that make it derived, beside `virtual`. */
export const derivedKeys = ['from', 'count', 'sum', 'min', 'max', 'via'] as const;

const aggregates: readonly AggregateFunction[] = ['count', 'sum', 'min', 'max'];

export function derivedModifiers(reader: ConfigReader, object: Obj, loc: Loc): ModifierAst[] {
  const modifiers: ModifierAst[] = [];
  const from = reader.string(object, 'from', loc, false);
  if (from) {
    const path = pathOf(reader, from.text, loc.key('from'));
    if (path) modifiers.push({ kind: 'from', span: loc.key('from').keySpan(), path });
  }
  const via = reader.string(object, 'via', loc, false);
  const given = aggregates.filter((fn) => object[fn] !== undefined);
  for (const fn of given) {
    const source = reader.string(object, fn, loc, false);
    if (!source) continue;
    const at = loc.key(fn);
    const path = pathOf(reader, source.text, at);
    if (!path) continue;
    const [model, attribute, ...rest] = path;
    if (!model || rest.length > 0) {
      const [what, example] =
        fn === 'count' ? ['a model', "count: 'OrderLine'"] : ["a model's attribute", `${fn}: 'OrderLine.amount'`];
      reader.bag.error('P005', at.span(), `\`${fn}\` names ${what}, not a path`, `write \`${example}\``);
      continue;
    }
    modifiers.push({
      kind: 'aggregate',
      span: at.keySpan(),
      function: fn,
      model,
      ...(attribute ? { attribute } : {}),
      ...(via ? { via } : {}),
    });
  }
  if (via && given.length === 0) {
    reader.bag.error(
      'P005',
      loc.key('via').keySpan(),
      '`via` names the relation of an aggregate, and this field has none',
      "add the aggregate (`count: 'OrderLine'`), or remove `via`",
    );
  }
  return modifiers;
}

/**
 * `customer.region.name` as the names of a path, each with its place in the string. Undefined,
 * reported, when a part is not a name.
 */
export function pathOf(reader: ConfigReader, text: string, at: Loc): PathAst | undefined {
  const names: Name[] = [];
  let offset = 0;
  for (const part of text.split('.')) {
    names.push({ text: part, span: at.isLiteral() ? at.span(offset, part.length) : at.span() });
    offset += part.length + 1;
  }
  return names.every((n) => reader.isName(n, 'a path step')) ? names : undefined;
}
