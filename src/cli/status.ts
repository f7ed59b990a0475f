import type { Knex } from 'knex';
import { redact } from '../common/redact.js';
import { connectTransport, runtimeSettings } from '../runtime/config.js';
import { readOnlyConfig } from '../runtime/db/read-only.js';
import {
  type PublisherStatus,
  publisherStatus,
  type SubscriberStatus,
  subscriberStatus,
} from '../runtime/observability/status.js';
import { RedisCoordinator } from '../transport/redis/coordinator.js';
import type { Output } from './output.js';
import { databaseConfig, openDatabase, runtimeApps, runtimeConfig } from './runtime.js';

export interface StatusOptions {
  readonly config?: string;
  readonly app?: string;
  readonly json?: boolean;
}

type Failed = { readonly app: string; readonly error: string };

/**
 * `promiscuous status`: for each subscribing app, its queues, the messages waiting for a
 * dependency and how far behind it is; for each publishing app, its outbox backlog. Reads the
 * broker, Redis and the publishers' databases; writes nothing.
 */
export async function status(options: StatusOptions, output: Output): Promise<number> {
  const source = await runtimeConfig(options);
  const { config } = source;
  const settings = runtimeSettings(config);
  const all = runtimeApps(source);
  const apps = all.filter((app) => options.app === undefined || app.name === options.app);
  if (apps.length === 0) {
    output.error(`no app ${options.app} in the config (it has ${all.map((a) => a.name).join(', ')})`);
    return 1;
  }
  const transport = await connectTransport(settings);
  const subscribers: (SubscriberStatus | Failed)[] = [];
  const publishers: (PublisherStatus | Failed)[] = [];
  try {
    for (const { name: app } of apps.filter((a) => a.subscribes)) {
      const coordinator =
        settings.backend === 'amqp'
          ? await connectRedis(settings.redisUrl, `${settings.namespace}:${app}`, output)
          : undefined;
      try {
        subscribers.push(await subscriberStatus(transport, app, coordinator));
      } catch (error) {
        subscribers.push({ app, error: (error as Error).message });
      } finally {
        await coordinator?.close();
      }
    }
    for (const { name: app } of apps.filter((a) => a.publishes)) {
      let db: Knex | undefined;
      try {
        db = openDatabase(readOnlyConfig(databaseConfig(config, app)));
        publishers.push(await publisherStatus(db, transport, app));
      } catch (error) {
        publishers.push({ app, error: `cannot read its outbox: ${(error as Error).message}` });
      } finally {
        await db?.destroy();
      }
    }
  } finally {
    await transport.close();
  }
  if (options.json) output.info(JSON.stringify({ at: Date.now(), subscribers, publishers }, null, 2));
  else print(subscribers, publishers, output);
  return [...subscribers, ...publishers].some((s) => 'error' in s) ? 1 : 0;
}

/** Without Redis the status still reports what the broker knows. */
async function connectRedis(url: string, namespace: string, output: Output): Promise<RedisCoordinator | undefined> {
  try {
    return await RedisCoordinator.connect(url, namespace);
  } catch {
    output.error(`cannot reach Redis at ${redact(url)}: waiting messages and lag in seconds are unknown`);
    return undefined;
  }
}

function print(
  subscribers: readonly (SubscriberStatus | Failed)[],
  publishers: readonly (PublisherStatus | Failed)[],
  output: Output,
): void {
  const notes: string[] = [];
  if (subscribers.length > 0) table(subscriberRows(subscribers, notes), output);
  if (publishers.length > 0) {
    if (subscribers.length > 0) output.info('');
    table(publisherRows(publishers, notes), output);
  }
  if (subscribers.some((s) => !('error' in s) && s.waiting === null)) {
    notes.push('? : unknown without Redis (the workers record waiting messages and applied commits there)');
  }
  if (notes.length > 0) output.info('');
  for (const note of notes) output.info(note);
}

/** The subscribers' table, a header and a row each; what cannot be shown goes to `notes`. */
function subscriberRows(subscribers: readonly (SubscriberStatus | Failed)[], notes: string[]): string[][] {
  const queues = ['workers', 'queued', 'retrying', 'parked'];
  const rows = [['subscriber', ...queues, 'waiting', 'oldest waiting', 'lag (msgs)', 'lag (ops)', 'lag (s)']];
  for (const s of subscribers) {
    if ('error' in s) {
      notes.push(`${s.app}: ${s.error}`);
      continue;
    }
    if (!s.declared) notes.push(`${s.app}: no queue yet (no subscriber of it has started)`);
    const failures = (s.signatureFailures ?? []).map((f) => `${f.count} ${f.reason} from ${f.publisher}`);
    if (failures.length > 0) notes.push(`${s.app}: parked for failing verification: ${failures.join(', ')}`);
    const queue = (n: number) => (s.declared ? String(n) : '-');
    rows.push([
      s.app,
      queue(s.consumers),
      queue(s.ready),
      queue(s.retrying),
      queue(s.parked),
      s.waiting === null ? '?' : String(s.waiting),
      s.oldestWaitingSeconds === null ? '-' : duration(s.oldestWaitingSeconds),
      String(s.lagMessages),
      s.lagOperations === null ? '?' : String(s.lagOperations),
      s.lagSeconds === null ? '?' : duration(s.lagSeconds),
    ]);
  }
  return rows;
}

/** The publishers' table, a header and a row each; what cannot be shown goes to `notes`. */
function publisherRows(publishers: readonly (PublisherStatus | Failed)[], notes: string[]): string[][] {
  const rows = [['publisher', 'outbox', 'oldest row', 're-sync requests']];
  for (const p of publishers) {
    if ('error' in p) {
      notes.push(`${p.app}: ${p.error}`);
      continue;
    }
    rows.push([
      p.app,
      String(p.outbox),
      p.oldestRowSeconds === null ? '-' : duration(p.oldestRowSeconds),
      p.resyncRequests === null ? '-' : String(p.resyncRequests),
    ]);
  }
  return rows;
}

/** Columns aligned: the first to the left, figures to the right. */
function table(rows: readonly (readonly string[])[], output: Output): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows) {
    output.info(
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  '),
    );
  }
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3_600) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 86_400) return `${(seconds / 3_600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}
