/**
 * Fresh databases (SQLite files, PostgreSQL schemas, MariaDB databases) and AMQP namespaces,
 * each registered so that `cleanup` removes what a run created, even when it fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import knex, { type Knex } from 'knex';
import { crowdtapTables, sniperTables } from '../../examples/users/schema.js';
import { names } from '../../src/transport/amqp/topology.js';
import { type Dialect, randomName, services } from './options.js';

/** Where a database is, in a form a child process can open. */
export interface DbRef {
  readonly dialect: Dialect;
  readonly filename?: string;
  readonly schema?: string;
  readonly database?: string;
}

interface SqliteConnection {
  pragma(source: string): unknown;
}

export interface ConnectOptions {
  readonly poolMax?: number;
  /** `wal`: journal WAL with synchronous=NORMAL (the default); `delete`: journal DELETE with synchronous=FULL. */
  readonly sqliteJournal?: 'wal' | 'delete';
}

export function connect(ref: DbRef, options: ConnectOptions = {}): Knex {
  const poolMax = options.poolMax ?? 10;
  if (ref.dialect === 'sqlite') {
    const wal = (options.sqliteJournal ?? 'wal') === 'wal';
    return knex({
      client: 'better-sqlite3',
      connection: { filename: ref.filename ?? ':memory:' },
      useNullAsDefault: true,
      pool: {
        afterCreate: (conn: SqliteConnection, done: (error: Error | null, conn: unknown) => void) => {
          conn.pragma(`journal_mode = ${wal ? 'WAL' : 'DELETE'}`);
          conn.pragma(`synchronous = ${wal ? 'NORMAL' : 'FULL'}`);
          conn.pragma('foreign_keys = ON');
          done(null, conn);
        },
      },
    });
  }
  if (ref.dialect === 'postgres') {
    return knex({
      client: 'pg',
      connection: services.pg,
      searchPath: [ref.schema ?? 'public'],
      pool: { min: 0, max: poolMax },
    });
  }
  return knex({
    client: 'mysql2',
    connection: { ...services.mariadb, database: ref.database ?? '', timezone: 'Z' },
    pool: { min: 0, max: poolMax },
  });
}

export interface TempDb {
  readonly ref: DbRef;
  drop(): Promise<void>;
}

const databases: TempDb[] = [];

/** A fresh database with the tables of one side of the users example, or none. */
export async function tempDb(
  kind: Dialect,
  side: 'publisher' | 'subscriber' | 'empty',
  options: ConnectOptions = {},
): Promise<TempDb> {
  const db = await emptyDb(kind);
  databases.push(db);
  if (side === 'empty') return db;
  const k = connect(db.ref, options);
  try {
    await (side === 'publisher' ? crowdtapTables(k) : sniperTables(k));
  } finally {
    await k.destroy();
  }
  return db;
}

async function emptyDb(kind: Dialect): Promise<TempDb> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(os.tmpdir(), 'promiscuous-bench-'));
    return {
      ref: { dialect: kind, filename: join(dir, 'db.sqlite') },
      drop: async () => rmSync(dir, { recursive: true }),
    };
  }
  const name = randomName('prom_bench');
  if (kind === 'postgres') {
    await admin((a) => a.raw('CREATE SCHEMA ??', [name]));
    return { ref: { dialect: kind, schema: name }, drop: () => admin((a) => a.raw('DROP SCHEMA ?? CASCADE', [name])) };
  }
  await admin((a) => a.raw('CREATE DATABASE ??', [name]), kind);
  return {
    ref: { dialect: kind, database: name },
    drop: () => admin((a) => a.raw('DROP DATABASE ??', [name]), kind),
  };
}

export async function dropDb(db: TempDb): Promise<void> {
  const i = databases.indexOf(db);
  if (i < 0) return;
  databases.splice(i, 1);
  await db.drop().catch((e: Error) => console.error(`could not drop a database: ${e.message}`));
}

/** Runs `fn` on a one-connection administrative pool of the server (PostgreSQL unless told). */
export async function admin(
  fn: (k: Knex) => Promise<unknown>,
  kind: 'postgres' | 'mariadb' = 'postgres',
): Promise<void> {
  const k =
    kind === 'postgres'
      ? knex({ client: 'pg', connection: services.pg, pool: { min: 0, max: 1 } })
      : knex({ client: 'mysql2', connection: services.mariadb, pool: { min: 0, max: 1 } });
  try {
    await fn(k);
  } finally {
    await k.destroy();
  }
}

/** Queues and exchanges of a namespace that the runtime's topology does not name. */
export interface ExtraTopology {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
}

const namespaces: { ns: string; apps: string[]; extra: ExtraTopology }[] = [];

/**
 * A random namespace, whose queues of `apps` (with their retry and parked queues), and `extra`'s
 * queues and exchanges, are deleted at the end.
 */
export function namespace(apps: readonly string[], extra?: (ns: string) => ExtraTopology): string {
  const ns = randomName('prom_bench');
  namespaces.push({ ns, apps: [...apps], extra: extra?.(ns) ?? { queues: [], exchanges: [] } });
  return ns;
}

/** Drops every database and AMQP namespace this run created. */
export async function cleanup(): Promise<void> {
  for (const db of [...databases]) await dropDb(db);
  if (namespaces.length === 0) return;
  try {
    const connection = await amqp.connect(services.amqpUrl);
    for (const { ns, apps, extra } of namespaces.splice(0)) {
      const n = names(ns);
      const queues = apps.flatMap((app) => [n.queue(app), n.parked(app), ...n.retries(app)]);
      // A channel per deletion: deleting what does not exist closes the channel.
      for (const queue of [...queues, ...extra.queues]) {
        const channel = await connection.createChannel();
        channel.on('error', () => {});
        await channel.deleteQueue(queue).catch(() => {});
        await channel.close().catch(() => {});
      }
      for (const exchange of [n.exchange, ...extra.exchanges]) {
        const channel = await connection.createChannel();
        channel.on('error', () => {});
        await channel.deleteExchange(exchange).catch(() => {});
        await channel.close().catch(() => {});
      }
    }
    await connection.close();
  } catch (error) {
    console.error(`could not remove the AMQP queues: ${(error as Error).message}`);
  }
}
