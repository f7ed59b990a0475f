import { migrationBody } from '../../../templates/migration.js';
import type { App } from '../ir/ir.js';
import { literal } from './literal.js';

/** `migrations/promiscuous.ts`: a Knex migration for what the runtime needs in this app's database. */
export function emitMigration(app: App, header: string): string {
  const tables = [...new Set(app.publications.map((p) => p.table))].sort();
  const subscribes = app.subscriptions.length + app.observers.length > 0;
  return [
    header,
    "import type { Knex } from 'knex';",
    '',
    `/** Tables that app \`${app.name}\` publishes: each gets a \`_v\` version column. */`,
    `const publishedTables: readonly string[] = ${literal(tables)};`,
    '',
    '/** Whether the app subscribes, and so needs the applied-versions table. */',
    `const subscribes = ${subscribes};`,
    migrationBody,
  ].join('\n');
}
