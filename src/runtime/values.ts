import type { AttributeDescriptor, AttributeKind } from './contract.js';

/**
 * Conversions between what database drivers return and the wire's JSON, the same on every
 * database: SQLite gives booleans as 0/1 and JSON as text, PostgreSQL gives bigints and
 * decimals as strings and timestamps as `Date`, MySQL gives JSON as text or objects.
 */

const jsonKinds: ReadonlySet<AttributeKind> = new Set(['json', 'array', 'embedded']);

/** Whether values of a kind are JSON (objects or arrays), stored as JSON text. */
export function isJsonKind(kind: AttributeKind): boolean {
  return jsonKinds.has(kind);
}

/** A column value as it is published. */
export function toWire(kind: AttributeKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'integer':
    case 'float':
      return Number(value);
    case 'bigint':
    case 'decimal':
      return String(value);
    case 'boolean':
      return value === true || value === 1 || value === '1' || value === 't' || value === 'true';
    case 'date':
      return value instanceof Date ? value.toISOString().slice(0, 10) : String(value).slice(0, 10);
    case 'timestamp':
      return new Date(value instanceof Date ? value : typeof value === 'number' ? value : String(value)).toISOString();
    case 'json':
    case 'array':
    case 'embedded':
      return typeof value === 'string' ? JSON.parse(value) : value;
    default:
      return String(value);
  }
}

/** A value as it is written to a column: JSON kinds as JSON text, which every database accepts. */
export function toColumn(kind: AttributeKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (isJsonKind(kind)) return typeof value === 'string' ? value : JSON.stringify(value);
  if (kind === 'timestamp' && typeof value === 'string') return new Date(value);
  return value;
}

/** Column writes for a set of values keyed by column, converted by each column's attribute kind. */
export function columnValues(
  attributes: readonly AttributeDescriptor[],
  values: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const kinds = new Map(attributes.filter((a) => a.column !== undefined).map((a) => [a.column as string, a.kind]));
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(values)) {
    const kind = kinds.get(column);
    out[column] = kind ? toColumn(kind, value) : value;
  }
  return out;
}

/** Two wire values are the same change-wise (JSON equality). */
export function sameWire(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
