import type { Knex } from 'knex';

/** Where a publisher transaction's statements run: a query builder per table, and raw statements. */
export interface Session {
  table(name: string): Knex.QueryBuilder;
  raw(sql: string, bindings: readonly unknown[]): Promise<unknown>;
}

/** The statements of a transaction the publisher drives on a connection of Knex's pool. */
export function connectionSession(knex: Knex, connection: unknown): Session {
  return {
    table: (name) => knex(name).connection(connection),
    raw: async (sql, bindings) => knex.raw(sql, bindings as Knex.RawBinding[]).connection(connection),
  };
}
