import type { Field, FieldType, SubscribedAttribute } from '../ir/ir.js';
import { pascalCase } from '../ir/names.js';
import { quote } from './literal.js';

/** The TypeScript type of an attribute as it travels in a message (JSON). */
export function wireType(type: FieldType, nullable: boolean): string {
  const base = wireBase(type);
  return nullable && base !== 'Json' ? `${base} | null` : base;
}

function wireBase(type: FieldType): string {
  switch (type.kind) {
    case 'scalar':
      if (type.name === 'integer' || type.name === 'float') return 'number';
      if (type.name === 'boolean') return 'boolean';
      if (type.name === 'json') return 'Json';
      return 'string';
    case 'enum':
      return type.values.map(quote).join(' | ');
    case 'array': {
      const of = wireBase(type.of);
      return /[ |]/.test(of) ? `(${of})[]` : `${of}[]`;
    }
    case 'embedded':
      return type.many ? `${attributesType(type.model)}[]` : attributesType(type.model);
  }
}

/**
 * The TypeScript type of a column value as drivers return it and accept it: SQLite gives
 * booleans as 0/1, PostgreSQL gives bigints and decimals as strings, dates come as `Date`.
 */
export function columnType(type: FieldType, nullable: boolean): string {
  const base = columnBase(type);
  return nullable && base !== 'Json' ? `${base} | null` : base;
}

function columnBase(type: FieldType): string {
  if (type.kind !== 'scalar') return wireBase(type);
  switch (type.name) {
    case 'bigint':
    case 'decimal':
      return 'string | number';
    case 'boolean':
      return 'boolean | number';
    case 'date':
    case 'timestamp':
      return 'Date | string';
    default:
      return wireBase(type);
  }
}

export function attributesType(model: string): string {
  return `${pascalCase(model)}Attributes`;
}

export function rowType(model: string): string {
  return `${pascalCase(model)}Row`;
}

/** `name: string;` lines for an interface body, in field order. */
export function fieldProperty(field: Pick<Field, 'name' | 'type' | 'nullable'>, optional = false): string {
  return `${propertyName(field.name)}${optional ? '?' : ''}: ${wireType(field.type, field.nullable)}`;
}

export function subscribedProperty(attribute: SubscribedAttribute): string {
  const type = attribute.type ? wireType(attribute.type, attribute.nullable ?? false) : 'unknown';
  return `${propertyName(attribute.name)}: ${type}`;
}

function propertyName(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : quote(name);
}

/** The runtime's attribute kind: the scalar's name, or `enum`, `array`, `embedded`. */
export function kindOf(type: FieldType): string {
  return type.kind === 'scalar' ? type.name : type.kind;
}
