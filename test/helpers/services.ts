import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';

/**
 * The real services the integration tests talk to, each test with its own random names
 * (databases, schemas, exchange and queues) so that runs never see each other.
 */
export const amqpUrl = process.env.PROMISCUOUS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** Test namespaces are random: RabbitMQ deletes their queues ten minutes after the last use. */
export const queueExpiresMs = 10 * 60_000;
process.env.PROMISCUOUS_QUEUE_EXPIRES_MS ??= String(queueExpiresMs);

export const redisUrl = process.env.PROMISCUOUS_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type Dialect = 'sqlite' | 'postgres' | 'mariadb';

/** Whether a statement is the subscriber's version lookup (on PostgreSQL, sets joined by UNION ALL start with a parenthesis). */
export function isVersionLookup(sql: string, versionsTable: string): boolean {
  return /^\s*\(?\s*(select|with)\b/i.test(sql) && sql.includes(versionsTable);
}

export function randomName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export interface TestDatabase {
  readonly knex: Knex;
  readonly dialect: Dialect;
  drop(): Promise<void>;
}

/** A fresh, empty database of the given kind. */
export async function database(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'promiscuous-sqlite-'));
    const db = knex({
      client: 'better-sqlite3',
      connection: { filename: join(dir, 'db.sqlite') },
      useNullAsDefault: true,
    });
    await db.raw('PRAGMA foreign_keys = ON');
    return {
      knex: db,
      dialect,
      drop: async () => {
        await db.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (dialect === 'postgres') {
    const schema = randomName('prom');
    const admin = knex({ client: 'pg', connection: { host: '127.0.0.1', user: 'postgres', database: 'test' } });
    await admin.raw('CREATE SCHEMA ??', [schema]);
    await admin.destroy();
    const db = knex({
      client: 'pg',
      connection: { host: '127.0.0.1', user: 'postgres', database: 'test' },
      searchPath: [schema],
      pool: { min: 0, max: 10 },
    });
    return {
      knex: db,
      dialect,
      drop: async () => {
        await db.raw('DROP SCHEMA ?? CASCADE', [schema]);
        await db.destroy();
      },
    };
  }
  const name = randomName('prom');
  const admin = knex({ client: 'mysql2', connection: { host: '127.0.0.1', user: 'root', password: '' } });
  await admin.raw('CREATE DATABASE ??', [name]);
  await admin.destroy();
  const db = knex({
    client: 'mysql2',
    connection: { host: '127.0.0.1', user: 'root', password: '', database: name, timezone: 'Z' },
    pool: { min: 0, max: 10 },
  });
  return {
    knex: db,
    dialect,
    drop: async () => {
      await db.raw('DROP DATABASE ??', [name]);
      await db.destroy();
    },
  };
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'the condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Closes one AMQP connection from the broker's side, found by the name it gave; anything else on the broker is left alone. */
export function dropConnection(name: string): void {
  const listing = execFileSync('rabbitmqctl', ['list_connections', '--quiet', 'pid', 'client_properties'], {
    encoding: 'utf8',
  });
  const pid = listing
    .split('\n')
    .find((line) => line.includes(name))
    ?.split('\t')[0];
  if (!pid) throw new Error(`RabbitMQ lists no connection ${name}`);
  execFileSync('rabbitmqctl', ['close_connection', pid, 'test: dropping the connection'], { stdio: 'ignore' });
}
