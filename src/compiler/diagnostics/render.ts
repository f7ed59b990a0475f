import { LineIndex, type Span } from '../source/source-file.js';
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
    const { shown, caret, width } = excerpt(new LineIndex(span.file, text).lineText(span.line), span);
    const gutter = String(span.line);
    const pad = ' '.repeat(gutter.length);
    out.push(`${pad} |`, `${gutter} | ${shown}`, `${pad} | ${' '.repeat(caret)}${'^'.repeat(width)}`);
  }
  for (const note of diagnostic.notes) {
    const at = note.span ? ` (${note.span.file}:${note.span.line}:${note.span.column})` : '';
    out.push(`  = note: ${note.message}${at}`);
  }
  if (diagnostic.suggestion) out.push(`  = help: ${diagnostic.suggestion}`);
  return out.join('\n');
}

/** The most of a source line a diagnostic shows: a long line is cut around the spot. */
export const sourceWidth = 100;

/**
 * The part of a line shown under a diagnostic, the caret's offset in it and its width. A line
 * longer than {@link sourceWidth} is cut to that width around the spot, a third of it before,
 * with `…` where text was left out; the caret underlines what of the span is shown.
 */
function excerpt(line: string, span: Span): { shown: string; caret: number; width: number } {
  const at = Math.min(span.column - 1, line.length);
  const length = Math.max(1, Math.min(span.length, line.length - at));
  if (line.length <= sourceWidth) return { shown: line, caret: at, width: length };
  const start = Math.max(0, Math.min(at - Math.floor(sourceWidth / 3), line.length - sourceWidth));
  const end = start + sourceWidth;
  const before = start > 0 ? '…' : '';
  const after = end < line.length ? '…' : '';
  return {
    shown: `${before}${line.slice(start, end)}${after}`,
    caret: before.length + at - start,
    width: Math.max(1, Math.min(length, end - at)),
  };
}
