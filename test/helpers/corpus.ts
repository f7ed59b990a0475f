import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { loadConfig } from '../../src/common/config-file.js';
import { type CompileOutput, type CompilerHost, compile, type SourceFile } from '../../src/compiler/index.js';

/** A host that reads files relative to `root`, so that paths in messages are short and stable. */
export function folderHost(root: string): CompilerHost {
  return {
    readFile(path) {
      try {
        return readFileSync(join(root, path), 'utf8');
      } catch {
        return undefined;
      }
    },
    resolvePath(from, specifier) {
      return posix.normalize(posix.join(posix.dirname(from), specifier));
    },
  };
}

/** Compiles one routes file (`.prom` or `.config.ts`) found under `root`, by its relative path. */
export async function compileCase(
  root: string,
  path: string,
  schemas: readonly SourceFile[] = [],
): Promise<CompileOutput> {
  if (!path.endsWith('.ts')) return compile({ prom: [path], schemas }, folderHost(root));
  const loaded = await loadConfig(join(root, path));
  if ('error' in loaded) throw new Error(`${path} did not load: ${loaded.error}`);
  return compile({ configs: [{ ...loaded, path }], schemas }, folderHost(root));
}

/** The expected-diagnostics block at the end of a corpus file: `# expect:` (or `// expect:`). */
export function expectedBlock(text: string, comment: string): { body: string; expected: string[] } | undefined {
  const marker = `\n${comment} expect:`;
  const at = text.lastIndexOf(marker);
  if (at < 0) return undefined;
  const expected = text
    .slice(at + marker.length)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith(comment))
    .map((line) => line.slice(comment.length).trim())
    .filter((line) => line !== '');
  return { body: text.slice(0, at + 1), expected };
}

export function withBlock(body: string, comment: string, lines: readonly string[]): string {
  return `${body}${comment} expect:\n${lines.map((l) => `${comment} ${l}\n`).join('')}`;
}

export function repoPath(...parts: string[]): string {
  return join(dirname(new URL(import.meta.url).pathname), '..', '..', ...parts);
}

/** Every file below `dir`, sorted; none when it does not exist. */
export function listFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}
