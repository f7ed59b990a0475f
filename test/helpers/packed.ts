/**
 * The packages as a user gets them: built, packed with `npm pack`, and installed from the
 * tarballs into a project of their own (dependencies come from npm's cache when it has them).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

function npm(args: readonly string[], cwd: string): string {
  return execFileSync('npm', [...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Builds the repository and packs both packages; resolves to the two tarballs' paths. */
export function pack(): { runtime: string; compiler: string } {
  const out = mkdtempSync(join(tmpdir(), 'promiscuous-pack-'));
  npm(['run', '-s', 'build'], root);
  execFileSync(process.execPath, ['packages/compiler/assemble.js'], { cwd: root });
  const name = (args: readonly string[]) =>
    join(
      out,
      npm(['pack', '--ignore-scripts', '--pack-destination', out, ...args], root)
        .trim()
        .split('\n')
        .pop() as string,
    );
  return { runtime: name([]), compiler: name(['-w', 'packages/compiler']) };
}

/**
 * A new project (in a temporary folder) that depends on the packed runtime and `dependencies`,
 * with the compiler and `devDependencies` as development dependencies, all installed.
 */
export function project(
  tarballs: { runtime: string; compiler: string },
  dependencies: Record<string, string>,
  devDependencies: Record<string, string>,
): string {
  const dir = mkdtempSync(join(tmpdir(), 'promiscuous-project-'));
  const manifest = {
    name: 'service',
    version: '1.0.0',
    private: true,
    dependencies: { promiscuous: `file:${tarballs.runtime}`, ...dependencies },
    devDependencies: { 'promiscuous-compiler': `file:${tarballs.compiler}`, ...devDependencies },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  install(dir);
  return dir;
}

/** `npm install` in `dir`, from npm's cache where it can. */
function install(dir: string, extra: readonly string[] = []): void {
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...extra], dir);
}

/** Removes the development dependencies, as a production install (`npm ci --omit=dev`) leaves them out. */
export function pruneDev(dir: string): void {
  npm(['prune', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], dir);
}

/** The installed packages of a project (each folder with a package.json under node_modules) and their size in bytes. */
export function installed(dir: string): { packages: string[]; bytes: number } {
  const packages: string[] = [];
  let bytes = 0;
  const walk = (folder: string, inPackages: boolean): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isSymbolicLink()) continue;
      if (entry.isDirectory()) {
        if (inPackages && entry.name.startsWith('@')) walk(path, true);
        else if (inPackages && entry.name !== '.bin') {
          packages.push(path.slice(path.lastIndexOf('node_modules/') + 13));
          walk(path, false);
        } else walk(path, entry.name === 'node_modules');
      } else bytes += statSync(path).size;
    }
  };
  walk(join(dir, 'node_modules'), true);
  return { packages: packages.sort(), bytes };
}

/** Creates `files` (path -> content) under `dir`. */
export function write(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

let shared: string | undefined;

/**
 * One project for the whole test run, with the packages packed and installed once (pg, and tsx
 * and typescript as development dependencies); removed when the process exits. Tests that
 * change what is installed work on a copy.
 */
export function sharedProject(): string {
  if (shared === undefined) {
    const tarballs = pack();
    const dir = project(tarballs, { pg: '8.23.1' }, { tsx: '4.23.15', typescript: '5.9.3' });
    process.once('exit', () => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(dirname(tarballs.runtime), { recursive: true, force: true });
    });
    shared = dir;
  }
  return shared;
}
