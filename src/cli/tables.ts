import { ConnectionError } from '../common/errors.js';
import type { SubscriberSchema } from '../runtime/contract.js';
import { outboxTable, versionsTable } from '../runtime/db/tables.js';
import { ConfigError } from './exit-codes.js';
import type { AppRuntime } from './runtime.js';

/** The tables a command writes, each with the columns it writes. */
export type Needed = ReadonlyMap<string, readonly string[]>;

const versionColumns = ['publisher', 'endpoint', 'object_id', 'version', 'destroyed', 'updated_at'];
const outboxColumns = ['id', 'message', 'created_at', 'attempts', 'claimed_by', 'claimed_until'];

/** What a subscriber writes: its versions, and for each subscription its key, discriminator and attributes. */
export function subscriberTables(schema: SubscriberSchema): Needed {
  const needed = new Map<string, Set<string>>([[versionsTable, new Set(versionColumns)]]);
  for (const subscription of Object.values(schema.subscriptions)) {
    const columns = needed.get(subscription.table) ?? new Set<string>();
    columns.add(subscription.key);
    if (subscription.discriminator) columns.add(subscription.discriminator.column);
    for (const attribute of subscription.attributes) columns.add(attribute.column);
    needed.set(subscription.table, columns);
  }
  return new Map([...needed].map(([table, columns]) => [table, [...columns]]));
}

/** What a relay writes: the outbox. */
export const relayTables: Needed = new Map([[outboxTable, outboxColumns]]);

/** Error codes of a database that cannot be reached, as Node's network and the drivers give them. */
const unreachable = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN']);

/**
 * Checks, before a command takes any work, that the app's database answers and has the tables
 * and columns it writes: anything missing stops the command naming it (exit 78), where it
 * would otherwise fail on the first message; a database that cannot be reached is a
 * ConnectionError (exit 69).
 */
export async function requireTables(runtime: AppRuntime, needed: Needed): Promise<void> {
  const missing: string[] = [];
  for (const [table, columns] of [...needed].sort(([a], [b]) => a.localeCompare(b))) {
    const found = await runtime.knex
      .table(table)
      .columnInfo()
      .catch((error: NodeJS.ErrnoException) => {
        if (!unreachable.has(String(error.code)) && error.name !== 'KnexTimeoutError') throw error;
        throw new ConnectionError(`cannot reach ${runtime.app}'s database (${error.message})`, { cause: error });
      });
    if (Object.keys(found).length === 0) missing.push(`\`${table}\``);
    else missing.push(...columns.filter((column) => !(column in found)).map((column) => `\`${table}.${column}\``));
  }
  if (missing.length === 0) return;
  throw new ConfigError(
    `${runtime.app}'s database has no ${missing.join(', ')}: create the app's tables, then run its generated migrations (migrations/ in its generated folder)`,
  );
}
