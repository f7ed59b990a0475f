/** Printing a config object as `export default defineConfig(...)`, in a random layout. */
import type { Rng } from './random.js';
import type { Json } from './seeds.js';

function quote(r: Rng, s: string): string {
  const q = r() < 0.7 ? "'" : '"';
  let out = q;
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === q || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + q;
}

function printValue(r: Rng, value: Json, indent: string, pretty: boolean): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'number')
    return Number.isNaN(value) ? 'NaN' : value === Number.POSITIVE_INFINITY ? 'Infinity' : String(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return quote(r, value);
  const inner = `${indent}  `;
  const open = pretty ? `\n${inner}` : ' ';
  const sep = pretty ? `,\n${inner}` : ', ';
  const close = pretty ? `,\n${indent}` : ' ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${open}${value.map((v) => printValue(r, v, inner, pretty && r() < 0.7)).join(sep)}${close}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const key = (k: string): string => (/^[A-Za-z_$][\w$]*$/.test(k) && r() < 0.9 ? k : quote(r, k));
  return `{${open}${entries.map(([k, v]) => `${key(k)}: ${printValue(r, v, inner, pretty && r() < 0.7)}`).join(sep)}${close}}`;
}

export function printConfig(r: Rng, value: Json): string {
  return `import { defineConfig } from 'promiscuous';\n\nexport default defineConfig(${printValue(r, value, '', r() < 0.8)});\n`;
}
