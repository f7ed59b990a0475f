/**
 * Prints plain data as a TypeScript literal, deterministically: keys in the order given,
 * identifiers unquoted, strings single-quoted, two-space indentation.
 */
export function literal(value: unknown, indent = ''): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v) => literal(v, inner));
    const flat = `[${items.join(', ')}]`;
    if (flat.length <= 80 && !flat.includes('\n')) return flat;
    return `[\n${items.map((i) => `${inner}${i},`).join('\n')}\n${indent}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const items = entries.map(([k, v]) => `${propertyKey(k)}: ${literal(v, inner)}`);
    const flat = `{ ${items.join(', ')} }`;
    if (flat.length <= 80 && !flat.includes('\n')) return flat;
    return `{\n${items.map((i) => `${inner}${i},`).join('\n')}\n${indent}}`;
  }
  throw new Error(`cannot print ${typeof value} as a literal`);
}

/**
 * An object literal from entries already printed as code (`key: value`, or a shorthand name),
 * one per line. A multi-line entry is printed at column 0 and indented here, so literals nest.
 */
export function literalCode(entries: readonly string[]): string {
  if (entries.length === 0) return '{}';
  return `{\n${entries.map((e) => `  ${e.replace(/\n/g, '\n  ')},`).join('\n')}\n}`;
}

export function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

export function propertyKey(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : quote(key);
}
