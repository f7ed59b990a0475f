import { dirname, join } from 'node:path';
import { display, findRoutes, isConfigFile, loadConfig } from '../../common/config-file.js';
import { type CompileOutput, compile } from '../compile.js';
import type { ConfigSource } from '../config/lower-config.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { renderCompact, renderPretty } from '../diagnostics/render.js';
import { type EmittedFile, emitMocks, emitWorkspace } from '../emit/emit.js';
import type { Workspace } from '../ir/ir.js';
import { fileHost, isMigration, readMigrationFolders, readSchemas, type WritePlan, writeOutput } from './files.js';

/** Where the command prints: results, and diagnostics. */
export interface Output {
  info(line: string): void;
  error(line: string): void;
}

export interface GenerateOptions {
  readonly config?: string;
  readonly out?: string;
  readonly check?: boolean;
  readonly schemas?: string;
  readonly format?: 'pretty' | 'compact';
}

/** Reads the routes and compiles them; prints every diagnostic. */
export async function compileRoutes(
  options: GenerateOptions,
  output: Output,
  outcome = 'nothing was written',
): Promise<{ workspace?: Workspace; base: string }> {
  const routes = findRoutes(options.config);
  if (routes.length === 0) {
    output.error('no routes found: pass --config <file>, or add promiscuous.config.ts or a *.prom file here');
    return { base: '.' };
  }
  const prom = routes.filter((r) => !isConfigFile(r));
  const configs: ConfigSource[] = [];
  const loadErrors: Diagnostic[] = [];
  for (const path of routes.filter(isConfigFile)) {
    const loaded = await loadConfig(path);
    if ('error' in loaded) {
      loadErrors.push({
        code: 'P006',
        severity: 'error',
        message: `\`${path}\` could not be loaded: ${loaded.error}`,
        span: spanAt(loaded.text, path, loaded.line ?? 1, loaded.column ?? 1),
        notes: [],
        suggestion: 'fix the error above; the file must `export default defineConfig({ ... })`',
      });
    } else {
      prom.push(...routesOf(loaded.value, path));
      if (!isObject(loaded.value) || !('routes' in loaded.value) || 'apps' in loaded.value) configs.push(loaded);
    }
  }
  const result: CompileOutput = compile(
    { prom, configs, schemas: options.schemas ? readSchemas(options.schemas) : [] },
    fileHost,
  );
  const diagnostics = [...loadErrors, ...result.diagnostics];
  for (const d of diagnostics) {
    output.error(options.format === 'compact' ? renderCompact(d) : `${renderPretty(d, result.sources)}\n`);
  }
  const base = dirname(routes[0] as string);
  if (loadErrors.length > 0 || !result.workspace) {
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    output.error(`${errors} error${errors === 1 ? '' : 's'}: ${outcome}`);
    return { base };
  }
  return { workspace: result.workspace, base };
}

export async function generate(
  options: GenerateOptions,
  output: Output,
  mocks?: { file?: string; app?: string },
): Promise<number> {
  const { workspace, base } = await compileRoutes(options, output);
  if (!workspace) return 1;
  if (workspace.apps.length === 0) {
    const routes = findRoutes(options.config).join(', ');
    output.error(`warning: ${routes} declares no app: there is nothing to generate (start one with \`app <name>\`)`);
  }
  const outDir = options.out ?? join(base, 'generated');
  let files: EmittedFile[];
  let target = outDir;
  let owns: (path: string) => boolean;
  if (mocks) {
    files = emitMocks(workspace);
    if (mocks.app) files = files.filter((f) => f.path.startsWith(`${mocks.app}/`));
    if (mocks.file) {
      if (files.length !== 1) {
        const apps = files.map((f) => f.path.split('/')[0]).join(', ');
        output.error(
          files.length === 0
            ? `no publishing app${mocks.app ? ` named \`${mocks.app}\`` : ''}: nothing to mock`
            : `-o writes one app's factories, and ${apps} publish: choose one with --app <name>`,
        );
        return 1;
      }
      const only = files[0] as EmittedFile;
      target = dirname(mocks.file);
      files = [{ path: mocks.file.slice(target === '.' ? 0 : target.length + 1), content: only.content }];
    }
    owns = (path) => path.endsWith('/factories.ts');
  } else {
    const folders = await readMigrationFolders(
      outDir,
      workspace.apps.map((a) => a.name),
    );
    try {
      files = emitWorkspace(workspace, { now: new Date(), folders });
    } catch (error) {
      output.error(`error: ${(error as Error).message}`);
      return 1;
    }
    owns = (path) => !path.endsWith('/factories.ts');
  }
  const plan = await writeOutput(target, files, mocks?.file ? () => false : owns, options.check === true).catch(
    (error: Error) => error,
  );
  if (plan instanceof Error) {
    output.error(`error: ${plan.message}`);
    return 1;
  }
  return report(plan, files.length, display(target), options.check === true, mocks !== undefined, output);
}

/** What was written (or, with `--check`, what is stale): 0 when all is well, 1 when stale. */
function report(plan: WritePlan, count: number, where: string, check: boolean, mocks: boolean, output: Output): number {
  const migrations = plan.written.filter(isMigration);
  if (check) {
    const stale = [...plan.written, ...plan.removed];
    if (stale.length === 0) {
      output.info(`${count} generated files in ${where} are up to date`);
      return 0;
    }
    output.error(`${stale.length} generated file${stale.length === 1 ? ' is' : 's are'} stale in ${where}:`);
    for (const path of plan.written) {
      const why = isMigration(path) ? ' (a new migration: the routes changed what the database needs)' : '';
      output.error(`  ${join(where, path)}${why}`);
    }
    for (const path of plan.removed) output.error(`  ${join(where, path)} (no longer generated)`);
    output.error(`run \`npx promiscuous generate${mocks ? ' mocks' : ''}\` to update them`);
    return 1;
  }
  output.info(
    `${count} files in ${where}: ${plan.written.length} written, ${plan.unchanged.length} unchanged` +
      (plan.removed.length > 0 ? `, ${plan.removed.length} removed` : ''),
  );
  for (const path of migrations) output.info(`new migration: ${join(where, path)}`);
  return 0;
}

/** The `.prom` files a config names with `routes`, relative to the config's folder. */
function routesOf(config: unknown, path: string): string[] {
  if (!isObject(config) || config.routes === undefined) return [];
  const routes = Array.isArray(config.routes) ? config.routes : [config.routes];
  return routes.map((route) => display(join(dirname(path), String(route))));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The span of a 1-based line and column of a file's text. */
function spanAt(text: string, file: string, line: number, column: number) {
  const lines = text.split('\n');
  const before = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0);
  return { file, offset: Math.min(text.length, before + column - 1), length: 0, line, column };
}
