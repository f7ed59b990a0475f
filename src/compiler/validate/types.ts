/** Field types: resolving one as written (P103-P105), printing one, and comparing key types. */
import type { TypeAst } from '../ast/ast.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { didYouMean } from '../diagnostics/suggest.js';
import { type FieldType, type ScalarName, scalarNames } from '../ir/ir.js';

export function resolveType(bag: DiagnosticBag, ast: TypeAst): FieldType | undefined {
  const base = baseType(bag, ast);
  if (!base) return undefined;
  return ast.array ? { kind: 'array', of: base } : base;
}

function baseType(bag: DiagnosticBag, ast: TypeAst): FieldType | undefined {
  const name = ast.name.text;
  if (name === 'enum') return enumType(bag, ast);
  if (!(scalarNames as readonly string[]).includes(name)) {
    // `line_count count(OrderLine)` reads the aggregate as the type: it lacks the type before it.
    const aggregate = ['count', 'sum', 'min', 'max'].includes(name);
    const help = aggregate
      ? `an aggregate follows the field's type: \`integer ${name}(...)\``
      : didYouMean(name, [...scalarNames, 'enum'], 'a type:');
    bag.error('P103', ast.name.span, `unknown type \`${name}\``, help);
    return undefined;
  }
  const scalar = name as ScalarName;
  if (scalar === 'decimal' && ast.args.length > 0) return decimalType(bag, ast);
  if (ast.args.length > 0) {
    bag.error('P105', ast.args[0]?.span ?? ast.span, `\`${name}\` takes no arguments`, `write \`${name}\``);
    return undefined;
  }
  return { kind: 'scalar', name: scalar };
}

function enumType(bag: DiagnosticBag, ast: TypeAst): FieldType | undefined {
  const values = ast.args.map((a) => a.text);
  const duplicate = ast.args.find((a, i) => values.indexOf(a.text) !== i);
  if (values.length === 0 || duplicate) {
    bag.error(
      'P104',
      duplicate?.span ?? ast.span,
      duplicate ? `enum value \`${duplicate.text}\` is listed twice` : 'an enum needs at least one value',
      duplicate ? 'remove the second one' : 'list the values: `enum(active, banned)`',
    );
    return undefined;
  }
  return { kind: 'enum', values };
}

function decimalType(bag: DiagnosticBag, ast: TypeAst): FieldType | undefined {
  const [p, s] = ast.args.map((a) => Number(a.text));
  if (ast.args.length !== 2 || !Number.isInteger(p) || !Number.isInteger(s) || (p ?? 0) < 1 || (s ?? 0) < 0) {
    bag.error('P105', ast.span, '`decimal` takes a precision and a scale', 'write `decimal(12, 2)`');
    return undefined;
  }
  if ((s ?? 0) > (p ?? 0)) {
    bag.error(
      'P105',
      ast.args[1]?.span ?? ast.span,
      `the scale (${s}) of \`decimal(${p}, ${s})\` is larger than its precision (${p})`,
      `the precision comes first: \`decimal(${s}, ${p})\``,
    );
    return undefined;
  }
  return { kind: 'scalar', name: 'decimal', precision: p as number, scale: s as number };
}

/** A type as the user writes it in a `.prom` file: `string?`, `enum(a, b)[]`, `decimal(12, 2)`. */
export function formatType(type: FieldType, nullable: boolean): string {
  return base(type) + (nullable ? '?' : '');
}

function base(type: FieldType): string {
  switch (type.kind) {
    case 'scalar':
      return type.precision === undefined ? type.name : `${type.name}(${type.precision}, ${type.scale ?? 0})`;
    case 'enum':
      return `enum(${type.values.join(', ')})`;
    case 'array':
      return `${base(type.of)}[]`;
    case 'embedded':
      return `embeds ${type.many ? 'many' : 'one'} ${type.model}`;
  }
}

/**
 * Whether a key of one type can hold the ids of another. `string` and `text` hold the same
 * values, and so do `integer` and `bigint` when ids fit; precision does not matter for keys.
 */
export function sameType(a: FieldType, b: FieldType): boolean {
  return family(a) === family(b);
}

function family(type: FieldType): string {
  if (type.kind !== 'scalar') return base(type);
  if (type.name === 'text') return 'string';
  if (type.name === 'bigint') return 'integer';
  return type.name;
}
