/**
 * `promiscuous dashboard`: one web page for every app of the config, with what
 * `promiscuous status` reads (the broker, Redis, the publishers' outboxes) and the recent
 * activity the workers record in Redis, sampled every two seconds and pushed to the page.
 */
import type { Server } from 'node:http';
import type { Knex } from 'knex';
import { connectTransport, runtimeSettings } from '../runtime/config.js';
import { readOnlyConfig } from '../runtime/db/read-only.js';
import { listeningPort } from '../runtime/observability/http.js';
import { RedisCoordinator } from '../transport/redis/coordinator.js';
import type { Sources } from './dashboard-figures.js';
import { serveDashboard } from './dashboard-server.js';
import type { Output } from './output.js';
import { databaseConfig, openDatabase, runtimeApps, runtimeConfig, untilSignal } from './runtime.js';

export interface DashboardOptions {
  readonly config?: string;
  readonly port?: number;
  readonly host?: string;
}

/** `promiscuous dashboard`: serves until SIGTERM or SIGINT. */
export async function dashboard(options: DashboardOptions, output: Output): Promise<number> {
  const running = await startDashboard(options, output);
  output.info(`dashboard on ${running.url}${running.writable ? '' : ' (read-only: no PROMISCUOUS_DASHBOARD_TOKEN)'}`);
  await untilSignal();
  await running.close();
  return 0;
}

/** Opens the connections and the server; resolves once it listens. */
export async function startDashboard(
  options: DashboardOptions,
  output: Output,
): Promise<{ url: string; writable: boolean; close(): Promise<void> }> {
  const source = await runtimeConfig(options);
  const settings = runtimeSettings(source.config);
  const apps = runtimeApps(source);
  const token = process.env.PROMISCUOUS_DASHBOARD_TOKEN || undefined;
  const transport = await connectTransport(settings);
  const coordinators = new Map<string, RedisCoordinator | undefined>();
  const databases = new Map<string, Knex | string>();
  for (const { name } of apps.filter((a) => a.subscribes)) {
    coordinators.set(name, settings.backend === 'amqp' ? await redisFor(settings, name, output) : undefined);
  }
  for (const { name } of apps.filter((a) => a.publishes)) {
    try {
      databases.set(name, openDatabase(readOnlyConfig(databaseConfig(source.config, name))));
    } catch (error) {
      databases.set(name, `cannot open its database: ${(error as Error).message}`);
    }
  }
  const sources: Sources = { transport, coordinators, databases, writable: token !== undefined };
  const server: Server = await serveDashboard(sources, token, options.port ?? 4040, options.host ?? '127.0.0.1');
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${listeningPort(server)}/`,
    writable: sources.writable,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      for (const coordinator of coordinators.values()) await coordinator?.close();
      for (const db of databases.values()) if (typeof db !== 'string') await db.destroy();
      await transport.close();
    },
  };
}

/** Without Redis the page still shows what the broker and the outboxes say. */
async function redisFor(
  settings: ReturnType<typeof runtimeSettings>,
  app: string,
  output: Output,
): Promise<RedisCoordinator | undefined> {
  try {
    return await RedisCoordinator.connect(settings.redisUrl, `${settings.namespace}:${app}`);
  } catch (error) {
    output.error(`${app}: ${(error as Error).message}: waiting messages, lag in seconds and activity are unknown`);
    return undefined;
  }
}
