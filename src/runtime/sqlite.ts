import type { Knex } from 'knex';

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
