import type { Knex } from 'knex';
import type { Database } from './database.js';
import { MysqlDatabase } from './mysql.js';
import { PortableDatabase } from './portable.js';
import { PostgresDatabase } from './postgres.js';
import { SqliteDatabase } from './sqlite.js';

const databases = new WeakMap<Knex, Database>();

/** The database behind a Knex instance: PostgreSQL (pg), SQLite (better-sqlite3), MySQL or MariaDB (mysql2, mysql), or any other through portable Knex. */
export function databaseOf(knex: Knex): Database {
  let database = databases.get(knex);
  if (!database) {
    const client = knex.client.config.client as string;
    database =
      client === 'pg'
        ? new PostgresDatabase(knex)
        : client === 'better-sqlite3'
          ? new SqliteDatabase(knex)
          : client === 'mysql2' || client === 'mysql'
            ? new MysqlDatabase(knex)
            : new PortableDatabase(knex, true);
    databases.set(knex, database);
  }
  return database;
}
