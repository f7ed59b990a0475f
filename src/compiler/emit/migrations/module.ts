/**
 * `<app>/migrations.ts`, beside the migrations folder (Knex would take a module inside it for
 * a migration): the app's migrations as a Knex migration source, and the tables its processes
 * need, each column with the migration that adds it. Regenerated every time.
 */
import { quote } from '../literal.js';
import { constant, importNamespace, importTypes, printModule, type Statement } from '../module.js';
import type { ColumnKind, Needs } from './needs.js';
import type { Snapshot } from './snapshot.js';

interface RequiredColumn {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  readonly migration?: string;
}

interface RequiredTable {
  readonly name: string;
  readonly role: 'outbox' | 'versions' | 'refresh' | 'sinks' | 'published' | 'subscribed';
  readonly managed: boolean;
  readonly columns: readonly RequiredColumn[];
}

/** `migrations` are the file names in the folder, in the order Knex runs them. */
export function emitMigrationsModule(
  header: string,
  needs: Needs,
  snapshot: Snapshot,
  migrations: readonly string[],
): string {
  const modules = migrations.map((file, i) => ({ file, name: `migration${i}` }));
  const statements: Statement[] = [
    importTypes(['Knex'], 'knex'),
    importTypes(['RequiredTable'], 'promiscuous/runtime'),
    ...modules.map((m) => importNamespace(m.name, `./migrations/${m.file.replace(/\.ts$/, '.js')}`)),
    `/** The migrations of app \`${needs.app}\`, by the names Knex records, in the order it runs them. */\nconst migrations: readonly (readonly [string, Knex.Migration])[] = ${
      modules.length === 0 ? '[]' : `[\n${modules.map((m) => `  [${quote(m.file)}, ${m.name}],`).join('\n')}\n]`
    };`,
    constant(
      'migrationSource',
      [
        '{',
        '  getMigrations: () => Promise.resolve(migrations.map(([name]) => name)),',
        '  getMigrationName: (name) => name,',
        '  getMigration: (name) => {',
        '    const found = migrations.find(([known]) => known === name);',
        '    return found ? Promise.resolve(found[1]) : Promise.reject(new Error(`no generated migration is named ${name}`));',
        '  },',
        '}',
      ].join('\n'),
      "The app's generated migrations as a Knex migration source: `knex.migrate.latest({ migrationSource })`.",
      'Knex.MigrationSource<string>',
    ),
    constant(
      'tables',
      printTables(requiredTables(needs, snapshot)),
      "What the app's processes need of its database, each column with the generated migration that adds it.",
      'readonly RequiredTable[]',
    ),
  ];
  return printModule(header, statements);
}

/** One line per column, so that a table reads as a list of its columns. */
function printTables(tables: readonly RequiredTable[]): string {
  if (tables.length === 0) return '[]';
  const printed = tables.map((t) => {
    const head = `name: ${quote(t.name)}, role: ${quote(t.role)}, managed: ${t.managed}`;
    const columns = t.columns
      .map((c) => {
        const migration = c.migration === undefined ? '' : `, migration: ${quote(c.migration)}`;
        return `      { name: ${quote(c.name)}, kind: ${quote(c.kind)}, nullable: ${c.nullable}${migration} },`;
      })
      .join('\n');
    return `  {\n    ${head},\n    columns: [\n${columns}\n    ],\n  },`;
  });
  return `[\n${printed.join('\n')}\n]`;
}

const outboxColumns: readonly Omit<RequiredColumn, 'migration'>[] = [
  { name: 'id', kind: 'bigint', nullable: false },
  { name: 'message', kind: 'text', nullable: false },
  { name: 'created_at', kind: 'bigint', nullable: false },
  { name: 'attempts', kind: 'integer', nullable: false },
  { name: 'claimed_by', kind: 'string', nullable: true },
  { name: 'claimed_until', kind: 'bigint', nullable: true },
];

const versionsColumns: readonly Omit<RequiredColumn, 'migration'>[] = [
  { name: 'publisher', kind: 'string', nullable: false },
  { name: 'endpoint', kind: 'string', nullable: false },
  { name: 'object_id', kind: 'string', nullable: false },
  { name: 'version', kind: 'bigint', nullable: false },
  { name: 'destroyed', kind: 'boolean', nullable: false },
  { name: 'updated_at', kind: 'bigint', nullable: false },
];

const refreshColumns: readonly Omit<RequiredColumn, 'migration'>[] = [
  { name: 'model', kind: 'string', nullable: false },
  { name: 'id', kind: 'string', nullable: false },
  { name: 'due_at', kind: 'bigint', nullable: false },
  { name: 'version', kind: 'integer', nullable: false },
];

const sinksColumns: readonly Omit<RequiredColumn, 'migration'>[] = [
  { name: 'sink', kind: 'string', nullable: false },
  { name: 'publisher', kind: 'string', nullable: false },
  { name: 'endpoint', kind: 'string', nullable: false },
  { name: 'object_id', kind: 'string', nullable: false },
  { name: 'payload', kind: 'text', nullable: true },
  { name: 'version', kind: 'bigint', nullable: false },
  { name: 'sent_at', kind: 'bigint', nullable: false },
];

export function requiredTables(needs: Needs, snapshot: Snapshot): RequiredTable[] {
  type Runtime = 'outbox' | 'versions' | 'refresh' | 'sinks';
  const runtime = (name: string, role: Runtime, columns: typeof outboxColumns): RequiredTable => {
    const migration = snapshot[role]?.migration;
    return { name, role, managed: true, columns: columns.map((c) => ({ ...c, ...(migration ? { migration } : {}) })) };
  };
  return [
    ...(needs.outbox ? [runtime('promiscuous_outbox', 'outbox', outboxColumns)] : []),
    ...(needs.versions ? [runtime('promiscuous_versions', 'versions', versionsColumns)] : []),
    ...(needs.refresh ? [runtime('promiscuous_refresh', 'refresh', refreshColumns)] : []),
    ...(needs.sinks ? [runtime('promiscuous_sinks', 'sinks', sinksColumns)] : []),
    ...needs.published.map((table): RequiredTable => {
      const made = snapshot.published.find((p) => p.table === table.name);
      const migration = made?.migration;
      const version = { name: '_v', kind: 'bigint' as const, nullable: false, ...(migration ? { migration } : {}) };
      const columns = table.columns.map((c) => ({ name: c.name, kind: c.kind, nullable: c.nullable }));
      const derived = table.derived.map((c) => {
        const added = made?.derived?.find((d) => d.name === c.name)?.migration;
        return { name: c.name, kind: c.kind, nullable: true, ...(added ? { migration: added } : {}) };
      });
      return { name: table.name, role: 'published', managed: false, columns: [...columns, ...derived, version] };
    }),
    ...needs.subscribed.map((table): RequiredTable => {
      const made = snapshot.tables.find((t) => t.name === table.name && t.managed)?.columns ?? [];
      const columns = table.columns.map((c) => {
        const migration = table.managed ? made.find((m) => m.name === c.name)?.migration : undefined;
        return { name: c.name, kind: c.kind, nullable: c.nullable, ...(migration ? { migration } : {}) };
      });
      return { name: table.name, role: 'subscribed', managed: table.managed, columns };
    }),
  ];
}
