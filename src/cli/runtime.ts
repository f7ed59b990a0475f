import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import knex, { type Knex } from 'knex';
import type { RoutesConfig } from '../compiler/config/define-config.js';
import { connectTransport, type RuntimeSettings, runtimeSettings } from '../runtime/config.js';
import type { Transport } from '../transport/transport.js';
import { findRoutes, loadConfig } from './files.js';

/** What a runtime command needs: the config, the app, its database and a connected transport. */
export interface AppRuntime {
  readonly config: RoutesConfig;
  readonly settings: RuntimeSettings;
  readonly app: string;
  readonly knex: Knex;
  readonly transport: Transport;
  /** Imports one of the app's generated modules (`subscriber`, `publisher`). */
  generated<T>(module: string): Promise<T>;
  close(): Promise<void>;
}

/** The runtime config (`promiscuous.config.ts`) and the path it was read from. */
export async function runtimeConfig(options: { config?: string }): Promise<{ path: string; config: RoutesConfig }> {
  const path = findRoutes(options.config).find((p) => p.endsWith('.ts'));
  if (!path) throw new Error('the runtime commands read promiscuous.config.ts: pass --config <file>');
  const loaded = await loadConfig(path);
  if ('error' in loaded) throw new Error(`${path} could not be loaded: ${loaded.error}`);
  return { path, config: loaded.value as RoutesConfig };
}

/** The Knex config of an app's database. */
export function databaseConfig(config: RoutesConfig, app: string): Knex.Config {
  const database = typeof config.database === 'function' ? config.database(app) : config.database;
  if (!database) throw new Error('the config has no `database` (a Knex config, or a function of the app name)');
  return database as Knex.Config;
}

export async function appRuntime(options: { config?: string; app?: string }): Promise<AppRuntime> {
  const { path, config } = await runtimeConfig(options);
  const settings = runtimeSettings({ ...config, ...(options.app ? { app: options.app } : {}) });
  const apps = Object.keys(config.apps ?? {});
  const app = settings.app ?? (apps.length === 1 ? apps[0] : undefined);
  if (!app || !apps.includes(app)) {
    throw new Error(`choose the app this process runs with --app or PROMISCUOUS_APP (one of ${apps.join(', ')})`);
  }
  const database = databaseConfig(config, app);
  const transport = await connectTransport(settings);
  const db = knex(database);
  const folder = join(dirname(resolve(path)), config.generated ?? 'generated', app);
  return {
    config,
    settings,
    app,
    knex: db,
    transport,
    async generated<T>(module: string): Promise<T> {
      const { tsImport } = await import('tsx/esm/api');
      return (await tsImport(pathToFileURL(join(folder, `${module}.ts`)).href, import.meta.url)) as T;
    },
    async close() {
      await transport.close();
      await db.destroy();
    },
  };
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
