import type { AppAst } from './ast/ast.js';
import { type ConfigSource, lowerConfig } from './config/lower-config.js';
import { type Diagnostic, DiagnosticBag, hasErrors, sortDiagnostics } from './diagnostics/diagnostic.js';
import type { Workspace } from './ir/ir.js';
import { parseProm } from './parse/parse-prom.js';
import { readEndpointSchemas } from './schemas/read-schema.js';
import { type SourceFile, withoutByteOrderMark } from './source/source-file.js';
import { resolve } from './validate/resolve.js';

/** The compiler reads nothing itself: the CLI (or a test) lends it a host. */
export interface CompilerHost {
  /** The file's text, or `undefined` when it does not exist. */
  readFile(path: string): string | undefined;
  /** The path of `specifier` as written in the file at `from`. */
  resolvePath(from: string, specifier: string): string;
}

export interface CompileInput {
  /** `.prom` files; the files they `include` are read through the host. */
  readonly prom?: readonly string[];
  /** Evaluated `promiscuous.config.ts` files. */
  readonly configs?: readonly ConfigSource[];
  /** Endpoint schemas exported by apps outside the workspace (`--schemas`). */
  readonly schemas?: readonly SourceFile[];
}

export interface CompileOutput {
  /** Absent when any error was found. */
  readonly workspace?: Workspace;
  /** Sorted by file and position. */
  readonly diagnostics: readonly Diagnostic[];
  /** Every source read, by path, for rendering diagnostics. */
  readonly sources: ReadonlyMap<string, string>;
}

/** parse -> AST -> validate -> IR. Syntax errors stop before validation, to avoid cascades. */
export function compile(input: CompileInput, host: CompilerHost): CompileOutput {
  const sources = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const apps: AppAst[] = [];

  const queue = [...(input.prom ?? [])].map((path) => ({
    path,
    from: undefined as undefined | { span: Diagnostic['span'] },
  }));
  const seen = new Set<string>();
  while (queue.length > 0) {
    const next = queue.shift() as (typeof queue)[number];
    if (seen.has(next.path)) continue;
    seen.add(next.path);
    const read = host.readFile(next.path);
    if (read === undefined) {
      const bag = new DiagnosticBag();
      const span = next.from?.span ?? { file: next.path, offset: 0, length: 0, line: 1, column: 1 };
      bag.error(
        'P002',
        span,
        `cannot read \`${next.path}\``,
        'check the path; includes are relative to the including file',
      );
      diagnostics.push(...bag.items);
      continue;
    }
    const text = withoutByteOrderMark(read);
    sources.set(next.path, text);
    const parsed = parseProm({ path: next.path, text });
    diagnostics.push(...parsed.diagnostics);
    apps.push(...parsed.value.apps);
    for (const include of parsed.value.includes) {
      queue.push({ path: host.resolvePath(next.path, include.text), from: { span: include.span } });
    }
  }
  for (const loaded of input.configs ?? []) {
    const config = { ...loaded, text: withoutByteOrderMark(loaded.text) };
    sources.set(config.path, config.text);
    const lowered = lowerConfig(config);
    diagnostics.push(...lowered.diagnostics);
    apps.push(...lowered.value);
  }
  const external = readEndpointSchemas(input.schemas ?? []);
  for (const file of input.schemas ?? []) sources.set(file.path, file.text);
  diagnostics.push(...external.diagnostics);

  if (hasErrors(diagnostics)) return { diagnostics: sortDiagnostics(diagnostics), sources };
  const resolved = resolve({ kind: 'workspace', apps }, external.value);
  diagnostics.push(...resolved.diagnostics);
  const failed = hasErrors(diagnostics);
  return { ...(failed ? {} : { workspace: resolved.value }), diagnostics: sortDiagnostics(diagnostics), sources };
}
