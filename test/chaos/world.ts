/**
 * The run's resources, built once by the orchestrator and handed to every child process in
 * `CHAOS_WORLD`: a PostgreSQL schema holding Chinook for the publisher (plus a copy of its rows
 * to seed from), a SQLite file with Chinook's SQLite schema for the subscriber, a random AMQP
 * namespace and a Redis database of the suite's own.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource as replicaMigrations } from '../fixtures/chinook/generated/replica/migrations.js';
import { models } from '../fixtures/chinook/generated/store/publisher.js';
import { migrationSource as storeMigrations } from '../fixtures/chinook/generated/store/migrations.js';
import { generateKeyPair } from '../../src/runtime/index.js';
import { amqpUrl, randomName, redisUrl } from '../helpers/services.js';

export interface World {
  /** Logs, the SQLite file and the observers' invocation logs: `.tmp/chaos/<id>/`. */
  readonly dir: string;
  readonly pgSchema: string;
  readonly amqpUrl: string;
  readonly namespace: string;
  /** The suite's own Redis database (`CHAOS_REDIS_DB`, default 13), which it may flush. */
  readonly redisUrl: string;
  /** Off only to debug the rest of the suite: `--no-fk`. */
  readonly foreignKeys: boolean;
  /**
   * Start the subscriber's SQLite transactions with BEGIN IMMEDIATE instead of Knex's BEGIN
   * (`--sqlite-immediate`): a workaround, until the runtime does it, for the "database is
   * locked" errors of several worker processes on one file (see README.md).
   */
  readonly beginImmediate: boolean;
  /** Each app's signing key: store signs what it publishes, replica its acknowledgements and re-sync requests. */
  readonly keys: Record<'store' | 'replica', { readonly privatePem: string; readonly publicText: string }>;
}

/** The publishing app's subscriber-side name, the queue the workers share. */
export const replicaApp = 'replica';

/** Rows of a rolled-back transaction carry this in a string column, and no other row does. */
export const rollbackMarker = 'ROLLED-BACK';

/** New rows take ids from here up, far above Chinook's, so that no id is ever used twice. */
export const firstNewId = 1_000_000;

/**
 * The Chinook tables in an order where every parent comes before its children (an employee
 * reports to one with a smaller id).
 */
export const seedOrder = [
  'Genre',
  'MediaType',
  'Artist',
  'Album',
  'Track',
  'Employee',
  'Customer',
  'Invoice',
  'InvoiceLine',
  'Playlist',
  'PlaylistTrack',
] as const satisfies readonly (keyof typeof models)[];

const fixtures = new URL('../fixtures/chinook/', import.meta.url);

export function worldFromEnv(): World {
  const text = process.env.CHAOS_WORLD;
  if (!text) throw new Error('CHAOS_WORLD is not set: this process is started by test/chaos/run.ts');
  return JSON.parse(text) as World;
}

export function publisherKnex(world: World, poolMax = 10): Knex {
  return knex({
    client: 'pg',
    connection: { host: '127.0.0.1', user: 'postgres', database: 'test' },
    searchPath: [world.pgSchema],
    pool: { min: 0, max: poolMax },
  });
}

export function replicaFile(world: World): string {
  return join(world.dir, 'replica.sqlite');
}

/** What the suite uses of a better-sqlite3 connection (the project has no types for it). */
export interface SqliteConnection {
  exec(sql: string): void;
  pragma(pragma: string): unknown;
  prepare(sql: string): { run(...values: unknown[]): unknown };
}

/**
 * The subscriber's database. Every connection enforces foreign keys (a SQLite connection does
 * not unless told) and waits for the other workers' write locks instead of failing at once.
 */
export function replicaKnex(world: World): Knex {
  return knex({
    client: 'better-sqlite3',
    connection: { filename: replicaFile(world) },
    useNullAsDefault: true,
    pool: {
      afterCreate: (db: SqliteConnection, done: (error: Error | null, db: SqliteConnection) => void) => {
        db.pragma(`foreign_keys = ${world.foreignKeys ? 'ON' : 'OFF'}`);
        db.pragma('busy_timeout = 10000');
        if (world.beginImmediate) {
          const prepare = db.prepare.bind(db);
          db.prepare = (sql: string) => prepare(sql === 'BEGIN;' ? 'BEGIN IMMEDIATE;' : sql);
        }
        done(null, db);
      },
    },
  });
}

/** The table where the observer's callback records every effect, in the apply transaction. */
export const effectsTable = 'chaos_effects';

export async function createWorld(options: {
  foreignKeys: boolean;
  beginImmediate: boolean;
  redisDb: number;
}): Promise<World> {
  const id = randomName('chaos');
  const dir = join(process.cwd(), '.tmp', 'chaos', id);
  mkdirSync(dir, { recursive: true });
  const redis = new URL(redisUrl);
  redis.pathname = `/${options.redisDb}`;
  const world: World = {
    dir,
    pgSchema: id,
    amqpUrl,
    namespace: id,
    redisUrl: redis.toString(),
    foreignKeys: options.foreignKeys,
    beginImmediate: options.beginImmediate,
    keys: { store: generateKeyPair(), replica: generateKeyPair() },
  };
  await createPublisherDatabase(world);
  await createReplicaDatabase(world);
  return world;
}

/**
 * Loads Chinook into the publisher's schema, copies its rows into `<schema>_seed` and empties
 * the tables: the workload creates every row again through the hooks, so that the subscriber,
 * which starts empty, receives the whole database through replication.
 */
async function createPublisherDatabase(world: World): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'test' });
  await client.connect();
  try {
    const seed = `${world.pgSchema}_seed`;
    await client.query(`CREATE SCHEMA "${world.pgSchema}"; CREATE SCHEMA "${seed}"`);
    await client.query(`SET search_path TO "${world.pgSchema}"`);
    // Through the driver, not Knex: the script is many statements, and Knex would read its `?`s as bindings.
    await client.query(readFileSync(new URL('chinook-postgres.sql', fixtures), 'utf8'));
    const tables = seedOrder.map((name) => models[name].table);
    for (const table of tables) await client.query(`CREATE TABLE "${seed}"."${table}" AS TABLE "${table}"`);
    await client.query(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')}`);
    await client.query(`
      CREATE SEQUENCE chaos_ids START ${firstNewId};
      CREATE TABLE chaos_seeded (table_name text PRIMARY KEY);
      CREATE TABLE chaos_rolled_back (tx text NOT NULL, object_id text NOT NULL);`);
  } finally {
    await client.end();
  }
  const db = publisherKnex(world, 1);
  await db.migrate.latest({ migrationSource: storeMigrations });
  await db.destroy();
}

async function createReplicaDatabase(world: World): Promise<void> {
  const replica = replicaKnex(world);
  const connection = (await replica.client.acquireConnection()) as SqliteConnection;
  // Several worker processes write the file: WAL lets them read while one writes.
  connection.pragma('journal_mode = WAL');
  connection.exec(readFileSync(new URL('chinook-sqlite.sql', fixtures), 'utf8'));
  connection.exec(readFileSync(new URL('derived-sqlite.sql', fixtures), 'utf8'));
  // No unique constraint: an effect applied twice must show as a repeated key.
  connection.exec(
    `CREATE TABLE ${effectsTable} (idempotency_key TEXT NOT NULL, operation TEXT NOT NULL, quantity INTEGER)`,
  );
  await replica.client.releaseConnection(connection);
  await replica.migrate.latest({ migrationSource: replicaMigrations });
  await replica.destroy();
}

export async function dropWorld(world: World, keepFiles: boolean): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'test' });
  await client.connect();
  await client.query(
    `DROP SCHEMA IF EXISTS "${world.pgSchema}" CASCADE; DROP SCHEMA IF EXISTS "${world.pgSchema}_seed" CASCADE`,
  );
  await client.end();
  if (!keepFiles) rmSync(world.dir, { recursive: true, force: true });
}
