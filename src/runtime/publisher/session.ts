import type { Knex } from 'knex';
import type { SqliteConnection } from '../sqlite.js';

/** Where a transaction's statements run: the Knex client's name, and a query builder per table. */
export interface Session {
  readonly dialect: string;
  table(name: string): Knex.QueryBuilder;
  raw(sql: string, bindings: readonly unknown[]): Promise<unknown>;
}

/** The statements of a transaction the publisher drives on a connection of Knex's pool. */
export function connectionSession(knex: Knex, dialect: string, connection: unknown): Session {
  return {
    dialect,
    table: (name) => knex(name).connection(connection),
    raw: async (sql, bindings) => knex.raw(sql, bindings as Knex.RawBinding[]).connection(connection),
  };
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
