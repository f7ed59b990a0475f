import type { Span } from '../source/source-file.js';
import type { Code } from './codes.js';

export type Severity = 'error' | 'warning';

export interface Note {
  readonly message: string;
  readonly span?: Span;
}

/** A problem found in a routes file. Diagnostics are data: stages return them, never throw them. */
export interface Diagnostic {
  readonly code: Code;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly notes: readonly Note[];
  /** How to fix it, in words a user can act on ("did you mean `email`?"). */
  readonly suggestion?: string;
}

/** What every compiler stage returns. */
export interface Result<T> {
  readonly value: T;
  readonly diagnostics: readonly Diagnostic[];
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Collects diagnostics for one stage. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];

  error(code: Code, span: Span, message: string, suggestion?: string, notes: Note[] = []): void {
    this.push({ code, severity: 'error', message, span, notes, ...(suggestion ? { suggestion } : {}) });
  }

  warning(code: Code, span: Span, message: string, suggestion?: string, notes: Note[] = []): void {
    this.push({ code, severity: 'warning', message, span, notes, ...(suggestion ? { suggestion } : {}) });
  }

  push(diagnostic: Diagnostic): void {
    this.items.push(diagnostic);
  }
}

/** Orders diagnostics by file, then position, then code, so that output is stable. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      compare(a.span.file, b.span.file) ||
      a.span.offset - b.span.offset ||
      compare(a.code, b.code) ||
      compare(a.message, b.message),
  );
}

/** Code-unit order, independent of locale, so that output is the same on every machine. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
