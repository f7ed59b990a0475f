/**
 * The released schemas `contract check --against` compares with: a folder (a released generated
 * folder, or a folder of exported schemas), or a git ref, at which the generated folder is read
 * from the repository that holds it.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { display } from '../../common/config-file.js';
import type { SourceFile } from '../source/source-file.js';
import { readSchemas } from './files.js';

export interface Released {
  readonly files: SourceFile[];
  /** What was read, for the summary: the folder, or `<ref>:<folder>`. */
  readonly label: string;
  /** The git ref the files were read at: their paths are `<ref>:<path in the repository>`. */
  readonly ref?: string;
}

/** The released schema files; an error (a usage error: the command line names nothing usable) otherwise. */
export function readReleased(against: string, generated: string): Released | { error: string } {
  if (existsSync(against)) {
    if (!statSync(against).isDirectory()) {
      return { error: `\`${against}\` is a file: --against takes a folder of released schemas or a git ref` };
    }
    const files = readSchemas(against);
    if (files.length === 0) return { error: `\`${display(against)}\` holds no \`*.schema.json\` file` };
    return { files, label: display(against) };
  }
  return readAtRef(against, generated);
}

function readAtRef(ref: string, generated: string): Released | { error: string } {
  const where = existingFolder(resolve(generated));
  const top = git(where, ['rev-parse', '--show-toplevel']);
  if (top.error) {
    return {
      error: `\`${ref}\` is not a folder, and git, which would read it as a ref, cannot run: ${top.error.message}`,
    };
  }
  if (top.status !== 0) {
    return {
      error: `\`${ref}\` is not a folder, and \`${display(where)}\` is not in a git repository to read it as a ref from`,
    };
  }
  const root = top.stdout.toString().trim();
  // A ref that starts with `-` would be read as an option.
  const commit = ref.startsWith('-') ? undefined : git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (!commit || commit.status !== 0) {
    return { error: `\`${ref}\` is neither a folder nor a commit of the git repository at \`${display(root)}\`` };
  }
  const sha = commit.stdout.toString().trim();
  const folder = relative(realpathSync(root), realPath(resolve(generated)))
    .split(sep)
    .join('/');
  if (folder.startsWith('..')) {
    return {
      error: `the generated folder \`${display(generated)}\` is outside the git repository at \`${display(root)}\``,
    };
  }
  const listed = git(root, ['ls-tree', '-r', '-z', sha, '--', folder === '' ? '.' : `${folder}/`]);
  const blobs = listed.stdout
    .toString()
    .split('\0')
    .map((entry) => /^\d+ blob ([0-9a-f]+)\t(.*)$/s.exec(entry))
    .filter((m): m is RegExpExecArray => m !== null && (m[2] as string).endsWith('.schema.json'))
    .map((m) => ({ object: m[1] as string, path: m[2] as string }));
  if (listed.status !== 0 || blobs.length === 0) {
    return {
      error: `\`${folder}/\` holds no \`*.schema.json\` file at \`${ref}\`: was the generated folder committed there? (\`--generated\` names another one)`,
    };
  }
  const texts = catFiles(
    root,
    blobs.map((b) => b.object),
  );
  return {
    files: blobs.map((b, i) => ({ path: `${ref}:${b.path}`, text: texts[i] ?? '' })),
    label: `${ref}:${folder}`,
    ref,
  };
}

/** The contents of many objects through one `git cat-file --batch`. */
function catFiles(root: string, objects: readonly string[]): string[] {
  const run = git(root, ['cat-file', '--batch'], `${objects.join('\n')}\n`);
  const out = run.stdout;
  const texts: string[] = [];
  let at = 0;
  for (let i = 0; i < objects.length; i++) {
    const header = out.indexOf(10, at);
    const size = Number(out.subarray(at, header).toString().split(' ')[2]);
    texts.push(out.subarray(header + 1, header + 1 + size).toString('utf8'));
    at = header + 1 + size + 1;
  }
  return texts;
}

function git(cwd: string, args: readonly string[], input?: string): SpawnSyncReturns<Buffer> {
  return spawnSync('git', args, {
    cwd,
    input,
    maxBuffer: 1 << 30,
    // Paths are paths, never pathspec magic.
    env: { ...process.env, GIT_LITERAL_PATHSPECS: '1' },
  });
}

/** The nearest folder that exists, from `path` up: the generated folder need not exist now. */
function existingFolder(path: string): string {
  let at = path;
  while (!existsSync(at) || !statSync(at).isDirectory()) {
    const up = dirname(at);
    if (up === at) return at;
    at = up;
  }
  return at;
}

/** `path` with the symbolic links of its existing part resolved, as git's top level is. */
export function realPath(path: string): string {
  if (existsSync(path)) return realpathSync(path);
  const parent = dirname(path);
  return parent === path ? path : join(realPath(parent), basename(path));
}

/** The root of the repository that holds `folder`, if one does. */
export function repositoryRoot(folder: string): string | undefined {
  const top = git(existingFolder(resolve(folder)), ['rev-parse', '--show-toplevel']);
  return top.status === 0 ? top.stdout.toString().trim() : undefined;
}
