import type { RequiredTable } from '../runtime/contract.js';
import { requireTables } from '../runtime/db/schema-check.js';
import { ConfigError } from './exit-codes.js';
import type { AppRuntime } from './runtime.js';

/**
 * Checks, before a command takes any work (a resync request included), that the app's
 * database has the tables and columns its generated schema lists, of types that hold their
 * values: anything wrong stops the command naming it and the migration that adds it (a
 * SchemaError, exit 78), where it would otherwise fail on the first message; a database that
 * cannot be reached is a ConnectionError (exit 69).
 */
export async function requireSchemaTables(
  runtime: AppRuntime,
  schema: { readonly tables?: readonly RequiredTable[] },
): Promise<void> {
  if (!schema.tables) {
    throw new ConfigError(`${runtime.app}'s generated code lists no tables: run \`promiscuous generate\` again`);
  }
  await requireTables(runtime.knex, runtime.app, schema.tables);
}
