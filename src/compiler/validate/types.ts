import type { FieldType } from '../ir/ir.js';

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
