import type { Knex } from 'knex';
import type { Session } from './session.js';

/** What better-sqlite3's database offers that the runtime's SQLite transactions use. */
export interface SqliteConnection {
  exec(sql: string): unknown;
  prepare(sql: string): SqliteStatement;
  readonly inTransaction: boolean;
}

export interface SqliteStatement {
  readonly reader: boolean;
  run(...bindings: unknown[]): unknown;
  all(...bindings: unknown[]): unknown[];
}

/** Prepared statements by connection and SQL text, for the transactions the runtime drives on SQLite. */
const statements = new WeakMap<SqliteConnection, Map<string, ReturnType<SqliteConnection['prepare']>>>();

/** `prepare`, remembering what it prepared on this connection (at most a few hundred statements). */
function preparedOnce(connection: SqliteConnection, prepare: SqliteConnection['prepare']): SqliteConnection['prepare'] {
  let cache = statements.get(connection);
  if (!cache) statements.set(connection, (cache = new Map()));
  const known = cache;
  return (sql) => {
    let statement = known.get(sql);
    if (!statement) {
      if (known.size >= 500) known.clear();
      statement = prepare.call(connection, sql);
      known.set(sql, statement);
    }
    return statement;
  };
}

/**
 * Runs `fn` on a connection of Knex's pool whose statements, while it runs, are prepared once
 * per connection and reused: preparing costs SQLite more than running a one-row write, or a
 * BEGIN or COMMIT. The connection goes back to the pool after.
 */
export async function withPreparedStatements<T>(
  knex: Knex,
  fn: (connection: SqliteConnection) => Promise<T>,
): Promise<T> {
  const connection = (await knex.client.acquireConnection()) as SqliteConnection;
  const prepare = connection.prepare;
  connection.prepare = preparedOnce(connection, prepare);
  try {
    return await fn(connection);
  } finally {
    connection.prepare = prepare;
    await knex.client.releaseConnection(connection);
  }
}

/** Which bindings of a raw statement are identifiers (`??`) rather than values (`?`), by its SQL text. */
const placeholders = new Map<string, readonly boolean[]>();
/** Raw statements with their identifiers written in, by SQL text and identifiers. */
const inlined = new Map<string, string>();

/**
 * Raw statements on SQLite, run on the connection without Knex: the identifiers (`??`) are
 * written into the SQL once per statement shape, the values bound (converted as Knex
 * converts them), and the statement prepared once per connection (see {@link preparedOnce}).
 * Knex's query building costs more than SQLite's own work on a one-row write.
 */
export function sqliteRaw(connection: SqliteConnection): Session['raw'] {
  return async (sql, bindings) => {
    let kinds = placeholders.get(sql);
    if (!kinds) {
      kinds = (sql.match(/\?\??/g) ?? []).map((p) => p === '??');
      if (placeholders.size >= 500) placeholders.clear();
      placeholders.set(sql, kinds);
    }
    const identifiers: string[] = [];
    const values: unknown[] = [];
    kinds.forEach((identifier, i) => {
      const value = bindings[i];
      if (identifier) identifiers.push(String(value));
      else values.push(value instanceof Date ? value.valueOf() : typeof value === 'boolean' ? Number(value) : value);
    });
    const key = `${sql}\0${identifiers.join('\0')}`;
    let text = inlined.get(key);
    if (text === undefined) {
      let next = 0;
      text = sql.replace(/\?\??/g, (p) =>
        p === '??' ? `"${(identifiers[next++] as string).replace(/"/g, '""')}"` : p,
      );
      if (inlined.size >= 500) inlined.clear();
      inlined.set(key, text);
    }
    const statement = connection.prepare(text);
    return statement.reader ? statement.all(...values) : statement.run(...values);
  };
}
