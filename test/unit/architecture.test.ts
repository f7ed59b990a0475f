/**
 * The direction of imports is part of the design: the compiler and the runtime never import
 * each other, a transport knows nothing of the runtime, and no module of src/ reaches itself
 * again through its imports.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listFiles, repoPath } from '../helpers/corpus.js';

/**
 * Every module a file names: static imports and re-exports, type-only ones included, and
 * dynamic imports. TypeScript's own scanner reads them, so that an import written inside a
 * string (the code generator's templates hold many) is not taken for one.
 */
function specifiers(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** A specifier as a path relative to the repository (`src/common/errors.ts`); a package's name as it is. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return relative(repoPath(), resolve(dirname(file), specifier)).replace(/\.js$/, '.ts');
}

function sources(folder: string): string[] {
  return listFiles(repoPath(folder)).filter((f) => f.endsWith('.ts'));
}

/** Each transport's folder (`src/transport/amqp`, ...). */
function transports(): string[] {
  return readdirSync(repoPath('src/transport'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `src/transport/${entry.name}`)
    .sort();
}

function within(path: string, folders: readonly string[]): boolean {
  return folders.some((f) => path === f || path.startsWith(`${f}/`));
}

interface Import {
  readonly file: string;
  readonly specifier: string;
  /** What it names, as {@link target} gives it. */
  readonly target: string;
}

function imports(folder: string): Import[] {
  return sources(folder).flatMap((path) => {
    const file = relative(repoPath(), path);
    return specifiers(path).map((specifier) => ({ file, specifier, target: target(path, specifier) }));
  });
}

function listed(found: readonly Import[]): string[] {
  return found.map((i) => `${i.file} imports ${i.specifier}`);
}

/** The imports of `folder`'s files that reach into any of `forbidden`. */
function violations(folder: string, forbidden: readonly string[]): string[] {
  return listed(imports(folder).filter((i) => within(i.target, forbidden)));
}

/** The imports of `folder`'s files into the project (src/, grammar/, the package) outside of `allowed`. */
function outside(folder: string, allowed: readonly string[]): string[] {
  const project = ['src', 'grammar', 'promiscuous'];
  return listed(imports(folder).filter((i) => within(i.target, project) && !within(i.target, allowed)));
}

/**
 * The module graph of src/, with type-only imports: they vanish from the emitted code, but a
 * cycle through them still ties two modules' designs together (metrics once read status
 * types, and status read the relay, which records metrics).
 */
function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const { file, target } of imports('src')) {
    const next = edges.get(file) ?? [];
    if (target.startsWith('src/') && !next.includes(target)) next.push(target);
    edges.set(file, next);
  }
  return edges;
}

/**
 * The cycles a depth-first walk closes, each as its path (`a -> b -> a`): not every cycle of
 * the graph, but none exactly when the graph has none.
 */
function cycles(edges: Map<string, readonly string[]>): string[] {
  const found: string[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (node: string): void => {
    const at = path.indexOf(node);
    if (at !== -1) {
      found.push([...path.slice(at), node].join(' -> '));
      return;
    }
    if (done.has(node)) return;
    path.push(node);
    for (const next of edges.get(node) ?? []) visit(next);
    path.pop();
    done.add(node);
  };
  for (const node of [...edges.keys()].sort()) visit(node);
  return found;
}

test('the compiler imports neither the runtime nor the transports', () => {
  assert.equal(violations('src/compiler', ['src/runtime', 'src/transport', 'promiscuous/runtime']), []);
  assert.equal(violations('grammar', ['src/runtime', 'src/transport']), []);
});

test('the runtime never imports the compiler', () => {
  assert.equal(violations('src/runtime', ['src/compiler', 'grammar', 'promiscuous-compiler']), []);
});

test('a transport imports only the common module, the transport seam and its own folder', () => {
  const seam = ['src/common', 'src/transport/transport.ts'];
  const found = [
    ...outside('src/transport', [...seam, ...transports()]),
    ...transports().flatMap((folder) => outside(folder, [...seam, folder])),
  ];
  assert.equal([...new Set(found)], []);
});

test('the common module imports nothing else of the project', () => {
  assert.equal(outside('src/common', ['src/common']), []);
});

test('no module of src/ imports itself again through others', () => {
  assert.equal(cycles(graph()), []);
});

test('the cycle search finds a cycle, and only a cycle', () => {
  const edges = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a', 'c']],
  ]);
  assert.equal(cycles(edges), ['a -> b -> c -> a']);
  assert.equal(cycles(new Map([...edges, ['c', []]])), []);
});

test('the import scan sees real imports, type-only ones too, and not those in strings', () => {
  assert.ok(specifiers(repoPath('src/compiler/compile.ts')).includes('./parse/parse-prom.js'));
  assert.ok(graph().get('src/runtime/observability/subscriber-observer.ts')?.includes('src/transport/transport.ts'));
  assert.equal(
    specifiers(repoPath('src/compiler/emit/validators.ts')).filter((s) => s.startsWith('promiscuous')),
    [],
  );
});

test.run();
