import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { Span } from '../source/source-file.js';
import { renderCompact, renderPretty } from '../diagnostics/render.js';
import type { Finding } from './findings.js';

export const contractFormats = ['pretty', 'compact', 'github'] as const;
export type ContractFormat = (typeof contractFormats)[number];

/**
 * A finding in the form of every diagnostic: pretty, with the schema line under it; compact, one
 * line; or a GitHub Actions workflow command, which the run's summary and the pull request's
 * diff show as an annotation. A safe change is a `note`, reported without its source line.
 * `fileOf` gives the path an annotation names (relative to the repository's root).
 */
export function renderFinding(
  finding: Finding,
  format: ContractFormat,
  sources: ReadonlyMap<string, string>,
  fileOf: (path: string) => string = (path) => path,
): string {
  if (format === 'github') {
    const title = finding.class === 'safe' ? 'safe change' : 'breaking change';
    return annotation(finding, title, fileOf(finding.span.file));
  }
  const { span } = finding;
  if (format === 'compact') {
    // The compact form of a diagnostic, with the notes too: they say who breaks.
    const notes = finding.notes.map((n) => ` (note: ${n.message}${n.span ? ` at ${where(n.span)}` : ''})`);
    const help = finding.suggestion ? ` (help: ${finding.suggestion})` : '';
    return `${where(span)}: ${finding.severity}[${finding.code}] ${finding.message}${notes.join('')}${help}`;
  }
  if (finding.severity !== 'note') return `${renderPretty({ ...finding, severity: finding.severity }, sources)}\n`;
  return `note[${finding.code}]: ${finding.message}\n  --> ${where(span)}\n`;
}

function where(span: Span): string {
  return `${span.file}:${span.line}:${span.column}`;
}

/**
 * A diagnostic that stopped the check (a schema file that cannot be read) in the same forms;
 * a routes diagnostic is printed by the compile step itself.
 */
export function renderDiagnostic(
  diagnostic: Diagnostic,
  format: ContractFormat,
  sources: ReadonlyMap<string, string>,
  fileOf: (path: string) => string = (path) => path,
): string {
  if (format === 'github') return annotation(diagnostic, 'cannot be read', fileOf(diagnostic.span.file));
  return format === 'compact' ? renderCompact(diagnostic) : `${renderPretty(diagnostic, sources)}\n`;
}

/** `::error file=...,line=...,col=...,title=...::message`, with the notes and the fix on lines of their own. */
function annotation(
  found: Pick<Finding, 'code' | 'message' | 'notes' | 'span' | 'suggestion'> & { severity: string },
  title: string,
  file: string,
): string {
  const command = found.severity === 'note' ? 'notice' : found.severity;
  const lines = [
    found.message,
    ...found.notes.map((n) => `note: ${n.message}${n.span ? ` (${where(n.span)})` : ''}`),
    ...(found.suggestion ? [`help: ${found.suggestion}`] : []),
  ];
  const properties = [
    `file=${property(file)}`,
    `line=${found.span.line}`,
    `col=${found.span.column}`,
    `title=${property(`${found.code} ${title}`)}`,
  ];
  return `::${command} ${properties.join(',')}::${data(lines.join('\n'))}`;
}

/** A workflow command's message: `%`, CR and LF escaped, as the runner decodes them. */
function data(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A workflow command's property value: also `:` and `,`, which separate properties. */
function property(text: string): string {
  return data(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
