import { LineIndex } from '../source/source-file.js';
import type { Diagnostic } from './diagnostic.js';

/**
 * One line per diagnostic, for tests and editors:
 * `routes.prom:12:7: error[P404] message (help: fix)`.
 */
export function renderCompact(diagnostic: Diagnostic): string {
  const { span } = diagnostic;
  const where = `${span.file}:${span.line}:${span.column}`;
  const path = span.path ? ` at ${span.path}` : '';
  const help = diagnostic.suggestion ? ` (help: ${diagnostic.suggestion})` : '';
  return `${where}: ${diagnostic.severity}[${diagnostic.code}] ${diagnostic.message}${path}${help}`;
}

/**
 * The human form: the message, where it is, the source line with a caret under the spot, then
 * the notes and the fix.
 */
export function renderPretty(diagnostic: Diagnostic, sources: ReadonlyMap<string, string>): string {
  const { span } = diagnostic;
  const out = [`${diagnostic.severity}[${diagnostic.code}]: ${diagnostic.message}`];
  const path = span.path ? ` (${span.path})` : '';
  out.push(`  --> ${span.file}:${span.line}:${span.column}${path}`);
  const text = sources.get(span.file);
  if (text !== undefined) {
    const line = new LineIndex(span.file, text).lineText(span.line);
    const gutter = String(span.line);
    const pad = ' '.repeat(gutter.length);
    const width = Math.max(1, Math.min(span.length, line.length - span.column + 1));
    out.push(`${pad} |`, `${gutter} | ${line}`, `${pad} | ${' '.repeat(span.column - 1)}${'^'.repeat(width)}`);
  }
  for (const note of diagnostic.notes) {
    const at = note.span ? ` (${note.span.file}:${note.span.line}:${note.span.column})` : '';
    out.push(`  = note: ${note.message}${at}`);
  }
  if (diagnostic.suggestion) out.push(`  = help: ${diagnostic.suggestion}`);
  return out.join('\n');
}
