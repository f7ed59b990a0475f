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
export function preparedOnce(
  connection: SqliteConnection,
  prepare: SqliteConnection['prepare'],
): SqliteConnection['prepare'] {
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
