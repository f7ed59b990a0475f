/** Running the compiler on a mutant and checking the invariants. */
import { posix } from 'node:path';
import {
  type CompileOutput,
  type CompilerHost,
  type Diagnostic,
  emitWorkspace,
  renderCompact,
  renderPretty,
  type Span,
} from '../../../src/compiler/index.js';
import { emitCap } from './settings.js';

export function memoryHost(files: ReadonlyMap<string, string>): CompilerHost {
  return {
    readFile: (path) => files.get(path),
    resolvePath: (from, specifier) => posix.normalize(posix.join(posix.dirname(from), specifier)),
  };
}

/** Where an offset falls, computed independently of the compiler's LineIndex. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line += 1;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

export interface Failure {
  /** Groups failures of one kind: `crash: ...`, `position P001`, `no fix P005 ...`. */
  readonly signature: string;
  readonly detail: string;
}

function spanProblem(span: Span | undefined, sources: ReadonlyMap<string, string>): string | undefined {
  if (!span) return 'has no span';
  if (typeof span.file !== 'string' || span.file === '') return 'has no file';
  const text = sources.get(span.file);
  if (text === undefined) return `names the file \`${span.file}\`, which was not read`;
  if (!Number.isInteger(span.line) || span.line < 1) return `has line ${span.line}`;
  if (!Number.isInteger(span.column) || span.column < 1) return `has column ${span.column}`;
  if (!Number.isInteger(span.offset) || span.offset < 0 || span.offset > text.length) {
    return `has offset ${span.offset} outside the text (length ${text.length})`;
  }
  if (!Number.isInteger(span.length) || span.length < 0) return `has length ${span.length}`;
  const expected = lineColumn(text, span.offset);
  if (expected.line !== span.line || expected.column !== span.column) {
    return `says ${span.line}:${span.column} but offset ${span.offset} is at ${expected.line}:${expected.column}`;
  }
  return undefined;
}

/** A message with its quoted names removed, so that one missing fix is one signature. */
function shape(message: string): string {
  return message.replace(/`[^`]*`/g, '`…`').replace(/"[^"]*"/g, '"…"');
}

function crashSignature(stage: string, error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  // The project's innermost frame, by function and file (line numbers move as the code changes).
  const frame = (e.stack ?? '').split('\n').find((l) => l.includes('/src/') || l.includes('/grammar/')) ?? '';
  const match = /at (?:(\S+) \()?.*?\/((?:src|grammar)\/[^:]+)/.exec(frame);
  const where = match ? `${match[1] ?? '<anonymous>'} (${match[2]})` : 'an unknown place';
  const message = shape(e.message.split('\n')[0] ?? '').replace(/\d+/g, 'N');
  return `${stage} throws ${e.name}: ${message} in ${where}`;
}

export interface Emits {
  /** The apps generated so far, as JSON (the IR is span-free, so equal JSON means equal output). */
  readonly seen: Set<string>;
  /** Apps generated, and apps left out because of FUZZ_EMITS. */
  done: number;
  skipped: number;
  ms: number;
}

/** Compiles, checks every invariant, and generates clean workspaces (each distinct one once). */
export function check(
  run: () => CompileOutput,
  emits: Emits | undefined,
): { failures: Failure[]; output?: CompileOutput } {
  let output: CompileOutput;
  try {
    output = run();
  } catch (error) {
    return {
      failures: [{ signature: crashSignature('compile', error), detail: String((error as Error)?.stack ?? error) }],
    };
  }
  const failures: Failure[] = [];
  const each = (d: Diagnostic): void => {
    let rendered = `[${d.code}] ${d.message}`;
    try {
      rendered = renderCompact(d);
      renderPretty(d, output.sources);
    } catch (error) {
      failures.push({
        signature: crashSignature(`rendering ${d.code}`, error),
        detail: String((error as Error)?.stack ?? error),
      });
    }
    const problem = spanProblem(d.span, output.sources);
    if (problem)
      failures.push({
        signature: `position ${d.code}: the span ${problem.replace(/\d+/g, 'N')}`,
        detail: `${rendered}: the span ${problem}`,
      });
    for (const note of d.notes) {
      const noteProblem = note.span ? spanProblem(note.span, output.sources) : undefined;
      if (noteProblem)
        failures.push({
          signature: `position ${d.code} note`,
          detail: `${rendered}, note "${note.message}": the span ${noteProblem}`,
        });
    }
    if (d.severity === 'error' && !(typeof d.suggestion === 'string' && d.suggestion.trim() !== '')) {
      // One signature per code and kind of message: syntax errors differ only in what was expected.
      const message = shape(d.message).replace(/^expected .*, found .*$/, 'expected …, found …');
      failures.push({ signature: `no fix ${d.code}: ${message}`, detail: `${rendered} has no suggestion` });
    }
  };
  for (const d of output.diagnostics) each(d);
  if (output.workspace && emits) {
    // Each app is generated on its own (emitWorkspace loops over apps and reads nothing across
    // them), so only the apps never generated before are: a mutant that changed one app of
    // three costs a third of a full generate, and one that changed nothing costs nothing.
    const fresh = output.workspace.apps.filter((app) => !emits.seen.has(JSON.stringify(app)));
    for (const app of fresh) emits.seen.add(JSON.stringify(app));
    const room = Math.max(0, emitCap - emits.done);
    emits.skipped += Math.max(0, fresh.length - room);
    const apps = fresh.slice(0, room);
    if (apps.length > 0 || output.workspace.apps.length === 0) {
      emits.done += apps.length;
      const started = performance.now();
      try {
        const files = emitWorkspace({ ...output.workspace, apps });
        if (!Array.isArray(files) || (files.length === 0) !== (apps.length === 0)) {
          failures.push({ signature: 'emitWorkspace returns no files for an app', detail: `${apps.length} apps` });
        }
      } catch (error) {
        failures.push({
          signature: crashSignature('emitWorkspace', error),
          detail: String((error as Error)?.stack ?? error),
        });
      }
      emits.ms += performance.now() - started;
    }
  }
  return { failures, output };
}
