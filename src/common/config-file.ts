import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { importFile } from './modules.js';

/** A path as shown to the user: relative to the working directory when it is below it. */
export function display(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return rel === '' ? '.' : rel.startsWith('..') ? resolve(path) : rel;
}

/** The names a config file is looked for under, in this order. */
const configNames = [
  'promiscuous.config.ts',
  'promiscuous.config.mts',
  'promiscuous.config.js',
  'promiscuous.config.mjs',
  'promiscuous.config.cjs',
] as const;

/** A config file (TypeScript or JavaScript), as opposed to a `.prom` routes file. */
export function isConfigFile(path: string): boolean {
  return /\.[cm]?[jt]s$/.test(path);
}

/** `--config`, or else the first `promiscuous.config.*` here, or else every `*.prom` here. */
export function findRoutes(config: string | undefined): string[] {
  if (config !== undefined) return [display(config)];
  const named = configNames.find((name) => existsSync(name));
  if (named) return [named];
  return readdirSync('.')
    .filter((f) => f.endsWith('.prom'))
    .sort();
}

/** An evaluated config file: its text (for positions) and its default export. */
export interface LoadedConfig {
  readonly path: string;
  readonly text: string;
  readonly value: unknown;
}

/** A config file that could not be evaluated: why, and where in it when that is known (1-based). */
export interface ConfigLoadError {
  readonly path: string;
  readonly text: string;
  readonly error: string;
  readonly line?: number;
  readonly column?: number;
}

/** Evaluates a config file with its imports: JavaScript natively, TypeScript as `importFile` can. */
export async function loadConfig(path: string): Promise<LoadedConfig | ConfigLoadError> {
  const text = readFileSync(path, 'utf8');
  try {
    const module = await importFile(path);
    // Loaded as CommonJS, a file's default is its whole exports object: unwrap a real default,
    // and tell a file without one (its exports merely mirrored) from a config.
    const exported = module.default;
    let value: unknown = exported;
    if (isObject(exported) && 'default' in exported) value = exported.default;
    else if (
      isObject(exported) &&
      Object.keys(exported).every((key) => key !== 'apps' && module[key] === exported[key])
    ) {
      value = undefined;
    }
    if (value === undefined)
      return { path, text, error: 'it has no default export: write `export default defineConfig({ ... })`' };
    return { path, text, value };
  } catch (error) {
    return { path, text, ...configError(error, resolve(path)) };
  }
}

/**
 * What went wrong in a config and where: a syntax error as the TypeScript transform reports it
 * (`<file>:<line>:<column>: ERROR: <text>` under "Transform failed", its column 0-based), or an
 * error the file threw, placed by the first frame of its stack in the file.
 */
function configError(error: unknown, file: string): Pick<ConfigLoadError, 'error' | 'line' | 'column'> {
  const message = String((error as Error).message ?? error);
  const syntax = /:(\d+):(\d+): ERROR: (.*)/.exec(message);
  if (syntax) return { error: syntax[3] as string, line: Number(syntax[1]), column: Number(syntax[2]) + 1 };
  const first = message.split('\n')[0] as string;
  const frame = String((error as Error).stack ?? '')
    .split('\n')
    .find((line) => line.includes(file));
  const place = frame === undefined ? undefined : /:(\d+):(\d+)\)?\s*$/.exec(frame);
  return place ? { error: first, line: Number(place[1]), column: Number(place[2]) } : { error: first };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
