import type { Knex } from 'knex';

/**
 * A Knex config that reads only: SQLite's file is opened read-only, so that a reader (such as
 * `promiscuous status`) never writes nor creates a database file that is not there. Other
 * databases' configs are left as they are.
 */
export function readOnlyConfig(config: Knex.Config): Knex.Config {
  if (config.client !== 'better-sqlite3' || typeof config.connection !== 'object' || config.connection === null) {
    return config;
  }
  const connection = config.connection as { options?: object };
  return {
    ...config,
    connection: { ...connection, options: { ...connection.options, readonly: true } },
    // The caller reports a failure; Knex need not log it as well.
    log: { ...config.log, warn: () => {}, error: () => {} },
  } as Knex.Config;
}
