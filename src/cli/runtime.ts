import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import knex, { type Knex } from 'knex';
import { findRoutes, isConfigFile, loadConfig } from '../common/config-file.js';
import type { RoutesConfig } from '../common/define-config.js';
import { type SignatureSettings, signatureSettings } from '../common/signature-settings.js';
import type { Logger, LogLevel } from '../common/logger.js';
import { importFile, loadAsEsm, NoTypeScriptLoader } from '../common/modules.js';
import { connectTransport, databaseFromUrl, type RuntimeSettings, runtimeSettings } from '../runtime/config.js';
import type { ReadinessChecks } from '../runtime/observability/http.js';
import type { Transport } from '../transport/transport.js';
import { ConfigError, exitCodes } from './exit-codes.js';
import type { Output } from './output.js';
import { commandLogger, type LogFormat } from './log.js';

/** What a runtime command needs: the config, the app, its database and a connected transport. */
export interface AppRuntime {
  readonly config: RoutesConfig;
  readonly settings: RuntimeSettings;
  readonly app: string;
  readonly knex: Knex;
  readonly transport: Transport;
  /** The config's `logger`, or the one `--log-format` and `--log-level` describe. */
  readonly logger: Logger;
  /** The app's signature settings (its key read from its file), from the config and the environment. */
  readonly signatures: SignatureSettings | undefined;
  /** Imports one of the app's generated modules (`subscriber`, `publisher`). */
  generated<T>(module: string): Promise<T>;
}

/**
 * What a command opened, closed last opened first: when the command ends, and as soon as its
 * start fails, so that a process that cannot start leaves nothing open and exits.
 */
export class Opened {
  private readonly closers: (() => Promise<unknown>)[] = [];

  /** Registers how to close what was just opened; returns it. */
  add<T>(value: T, close: (value: T) => Promise<unknown>): T {
    this.closers.push(() => close(value));
    return value;
  }

  /**
   * Closes everything, each even if another failed to close; resolves to false if that took
   * longer than `timeoutMs` (what is left goes on closing meanwhile).
   */
  async close(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const all = (async () => {
      for (let close = this.closers.pop(); close; close = this.closers.pop()) await close().catch(() => {});
      return true;
    })();
    if (!Number.isFinite(timeoutMs)) return all;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    return Promise.race([all, late]).finally(() => clearTimeout(timer));
  }
}

/**
 * Runs a command with the app's runtime, and closes whatever it opened however it ends, within
 * `shutdownTimeout` ms (default 30 s): past it, the command says so and fails, and the process
 * exits without waiting further (a message not acknowledged is delivered again).
 */
export async function withAppRuntime(
  options: RuntimeOptions & { shutdownTimeout?: number },
  output: Output,
  run: (runtime: AppRuntime, opened: Opened) => Promise<number>,
): Promise<number> {
  const opened = new Opened();
  let runtime: AppRuntime | undefined;
  let code: number;
  try {
    runtime = await appRuntime(options, opened);
    code = await run(runtime, opened);
  } finally {
    const timeout = options.shutdownTimeout ?? 30_000;
    if (!(await opened.close(timeout))) {
      if (runtime)
        runtime.logger.error({ app: runtime.app, timeoutMs: timeout }, 'did not finish closing: exiting anyway');
      else output.error(`did not finish closing within ${timeout} ms: exiting anyway`);
      code = exitCodes.failure;
    }
  }
  return code;
}

/** What picks a runtime command's config, app and logger. */
export interface RuntimeOptions {
  readonly config?: string;
  readonly app?: string;
  readonly logFormat?: LogFormat;
  readonly logLevel?: LogLevel;
}

/** The runtime config, and the folder of the generated code (one subfolder per app). */
export interface RuntimeSource {
  readonly config: RoutesConfig;
  readonly generated: string;
  /** The folder of the config file (or of the routes): what its paths are relative to. */
  readonly folder: string;
}

/**
 * The runtime config: `--config`, or else the `promiscuous.config.*` here. Routes kept in `.prom`
 * files need none: the settings then come from the environment, and the generated code is
 * beside the routes, where `promiscuous generate` wrote it.
 */
export async function runtimeConfig(options: { config?: string }): Promise<RuntimeSource> {
  const routes = findRoutes(options.config);
  const path = routes.find(isConfigFile);
  if (path === undefined) {
    if (routes.length === 0)
      throw new ConfigError('no config here: pass --config <file> (a promiscuous.config.* or .prom file)');
    const folder = dirname(routes[0] as string);
    return { config: {}, generated: join(folder, 'generated'), folder };
  }
  if (!existsSync(path)) throw new ConfigError(`${path} does not exist: pass the config's path with --config <file>`);
  const loaded = await loadConfig(path);
  if ('error' in loaded) {
    const at = loaded.line === undefined ? '' : `:${loaded.line}:${loaded.column ?? 1}`;
    throw new ConfigError(`${path}${at} could not be loaded: ${loaded.error}`);
  }
  const config = loaded.value as RoutesConfig;
  return { config, generated: join(dirname(path), config.generated ?? 'generated'), folder: dirname(path) };
}

/** An app a runtime command can run, and what it does. */
export interface RuntimeApp {
  readonly name: string;
  readonly publishes: boolean;
  readonly subscribes: boolean;
}

/**
 * The apps of a config: those under its `apps`, and those of the `.prom` routes it names (or
 * stands in for), found in the generated code.
 */
export function runtimeApps({ config, generated }: RuntimeSource): RuntimeApp[] {
  const apps = Object.entries(config.apps ?? {}).map(([name, app]) => ({
    name,
    publishes: (app.publish?.length ?? 0) > 0 || Object.keys(app.ephemerals ?? {}).length > 0,
    subscribes: (app.subscribe?.length ?? 0) > 0 || (app.observe?.length ?? 0) > 0,
  }));
  if (config.apps !== undefined && config.routes === undefined) return apps;
  if (!existsSync(generated)) throw new ConfigError(`${generated} is missing: run \`promiscuous generate\` first`);
  const found = readdirSync(generated, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !apps.some((app) => app.name === entry.name))
    .map((entry) => ({
      name: entry.name,
      publishes: moduleFile(join(generated, entry.name), 'publisher') !== undefined,
      subscribes: moduleFile(join(generated, entry.name), 'subscriber') !== undefined,
    }))
    .filter((app) => app.publishes || app.subscribes);
  return [...apps, ...found].sort((a, b) => a.name.localeCompare(b.name));
}

/** A generated module's file: compiled JavaScript first, else the TypeScript. */
function moduleFile(folder: string, module: string): string | undefined {
  return ['.js', '.ts'].map((ext) => join(folder, `${module}${ext}`)).find((file) => existsSync(file));
}

/** The Knex config of an app's database: `PROMISCUOUS_DATABASE_URL`, or else the config's `database`. */
export function databaseConfig(config: RoutesConfig, app: string, env = process.env): Knex.Config {
  if (env.PROMISCUOUS_DATABASE_URL) return databaseFromUrl(env.PROMISCUOUS_DATABASE_URL);
  const database = typeof config.database === 'function' ? config.database(app) : config.database;
  if (!database) {
    throw new ConfigError(
      'no database: set PROMISCUOUS_DATABASE_URL, or `database` in the config (a Knex config, or a function of the app name)',
    );
  }
  return database as Knex.Config;
}

/**
 * A Knex instance for `config`. Its driver is the user's to install (an optional peer), and
 * Knex requires it at once: a missing one is a config to fix, named with its install command.
 */
export function openDatabase(config: Knex.Config): Knex {
  try {
    return knex(config);
  } catch (error) {
    const driver = /^Knex: run\n\$ npm install (\S+)/.exec(String((error as Error).message))?.[1];
    if (driver === undefined) throw error;
    throw new ConfigError(`the database driver \`${driver}\` is not installed: \`npm install ${driver}\``);
  }
}

/** Connects an app's runtime; what it opens is registered in `opened`. */
async function appRuntime(options: RuntimeOptions, opened: Opened): Promise<AppRuntime> {
  const source = await runtimeConfig(options);
  const { config, generated } = source;
  const settings = runtimeSettings({ ...config, ...(options.app ? { app: options.app } : {}) });
  const apps = runtimeApps(source).map((a) => a.name);
  const app = settings.app ?? (apps.length === 1 ? apps[0] : undefined);
  if (!app || !apps.includes(app)) {
    const which = apps.length === 0 ? `none is generated in ${generated}` : `one of ${apps.join(', ')}`;
    throw new ConfigError(`choose the app this process runs with --app or PROMISCUOUS_APP (${which})`);
  }
  const database = databaseConfig(config, app);
  const signatures = signatureSettings(config.signatures, app, source.folder);
  const logger = commandLogger(config.logger, { format: options.logFormat, level: options.logLevel });
  const transport = opened.add(await connectTransport(settings, logger), (t) => t.close());
  const db = opened.add(openDatabase(database), (k) => k.destroy());
  const folder = join(generated, app);
  loadAsEsm(generated);
  return {
    config,
    settings,
    app,
    knex: db,
    transport,
    logger,
    signatures,
    async generated<T>(module: string): Promise<T> {
      const file = moduleFile(folder, module);
      if (!file)
        throw new ConfigError(`${join(folder, `${module}.ts`)} is missing: run \`promiscuous generate\` first`);
      try {
        return (await importFile(file)) as T;
      } catch (error) {
        if (error instanceof NoTypeScriptLoader) throw new ConfigError(error.message);
        throw error;
      }
    },
  };
}

/** What every runtime command needs ready: the broker, and its database answering within 2 s. */
export async function runtimeChecks(runtime: AppRuntime): Promise<ReadinessChecks> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('the database did not answer within 2 s'), 2_000);
  });
  const database = await Promise.race([
    runtime.knex.raw('SELECT 1').then(
      () => true as const,
      (error: Error) => `the database failed: ${error.message}`,
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
  return { broker: runtime.transport.healthy() || 'not connected to RabbitMQ', database };
}

/** Resolves on the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const done = (signal: string) => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve(signal);
    };
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
}
