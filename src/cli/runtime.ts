import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import knex, { type Knex } from 'knex';
import type { Logger, LogLevel } from '../common/logger.js';
import type { RoutesConfig } from '../compiler/config/define-config.js';
import { connectTransport, type RuntimeSettings, runtimeSettings } from '../runtime/config.js';
import type { ReadinessChecks } from '../runtime/observability/http.js';
import type { Transport } from '../transport/transport.js';
import { ConfigError, exitCodes } from './exit-codes.js';
import type { Output } from './output.js';
import { findRoutes, loadConfig } from './files.js';
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

/** The runtime config (`promiscuous.config.ts`) and the path it was read from. */
export async function runtimeConfig(options: { config?: string }): Promise<{ path: string; config: RoutesConfig }> {
  const path = findRoutes(options.config).find((p) => p.endsWith('.ts'));
  if (!path) throw new ConfigError('the runtime commands read promiscuous.config.ts: pass --config <file>');
  if (!existsSync(path)) throw new ConfigError(`${path} does not exist: pass the config's path with --config <file>`);
  const loaded = await loadConfig(path);
  if ('error' in loaded) throw new ConfigError(`${path} could not be loaded: ${loaded.error}`);
  return { path, config: loaded.value as RoutesConfig };
}

/** The Knex config of an app's database. */
export function databaseConfig(config: RoutesConfig, app: string): Knex.Config {
  const database = typeof config.database === 'function' ? config.database(app) : config.database;
  if (!database) throw new ConfigError('the config has no `database` (a Knex config, or a function of the app name)');
  return database as Knex.Config;
}

/** Connects an app's runtime; what it opens is registered in `opened`. */
async function appRuntime(options: RuntimeOptions, opened: Opened): Promise<AppRuntime> {
  const { path, config } = await runtimeConfig(options);
  const settings = runtimeSettings({ ...config, ...(options.app ? { app: options.app } : {}) });
  const apps = Object.keys(config.apps ?? {});
  const app = settings.app ?? (apps.length === 1 ? apps[0] : undefined);
  if (!app || !apps.includes(app)) {
    throw new ConfigError(`choose the app this process runs with --app or PROMISCUOUS_APP (one of ${apps.join(', ')})`);
  }
  const database = databaseConfig(config, app);
  const logger = commandLogger(config.logger, { format: options.logFormat, level: options.logLevel });
  const transport = opened.add(await connectTransport(settings, logger), (t) => t.close());
  const db = opened.add(knex(database), (k) => k.destroy());
  const folder = join(dirname(resolve(path)), config.generated ?? 'generated', app);
  return {
    config,
    settings,
    app,
    knex: db,
    transport,
    logger,
    async generated<T>(module: string): Promise<T> {
      const file = join(folder, `${module}.ts`);
      if (!existsSync(file)) throw new ConfigError(`${file} is missing: run \`promiscuous generate\` first`);
      const { tsImport } = await import('tsx/esm/api');
      return (await tsImport(pathToFileURL(file).href, import.meta.url)) as T;
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
