/**
 * A migration's text from its changes: Knex schema-builder calls, the same on PostgreSQL,
 * MySQL/MariaDB and SQLite, with `up` and `down`. Column types are the ones the subscriber
 * writes and every database gives back: JSON as text, timestamps to the millisecond, decimals
 * with their precision.
 */
import { createHash } from 'node:crypto';
import {
  addMissingHelper,
  addVersionHelper,
  atomicallyHelper,
  additiveNote,
  dropDerivedHelper,
  dropVersionHelper,
  outsideTransaction,
  outboxTable,
  refreshTable,
  sinksTable,
  versionsTable,
} from '../../../../templates/migration.js';
import { propertyKey, quote } from '../literal.js';
import type { Change } from './diff.js';
import type { ColumnNeed, ColumnType, ForeignKeyNeed, SubscribedTableNeed } from './needs.js';

/** A decimal the routes give no precision: wide enough for most, accepted by every database. */
const defaultDecimal = { precision: 38, scale: 12 };

/** The longest constraint name Knex's default may give: PostgreSQL cuts at 63, MySQL refuses above 64. */
const longestName = 60;

export function printMigration(header: string, app: string, changes: readonly Change[]): string {
  const up = changes.flatMap(upLines);
  const down = [...changes].reverse().flatMap(downLines);
  const outside = changes.some(rebuilds);
  const helpers = [
    ...(changes.some((c) => c.kind === 'version') ? [addVersionHelper, dropVersionHelper] : []),
    ...(changes.some((c) => c.kind === 'derived') ? [dropDerivedHelper] : []),
    ...(changes.some((c) => c.kind === 'adopt') ? [addMissingHelper] : []),
    ...(outside ? [atomicallyHelper] : []),
  ];
  // Outside Knex's transaction, the body takes one of its own (its `knex` is that transaction).
  const body = (lines: readonly string[]) =>
    indent(outside ? ['await atomically(knex, async (knex) => {', indent(lines), '});'] : lines);
  return [
    header,
    "import type { Knex } from 'knex';",
    '',
    `/**\n * ${summary(app, changes)}\n *\n * ${additiveNote}\n */`,
    ...(outside ? [outsideTransaction, ''] : []),
    `export async function up(knex: Knex): Promise<void> {\n${body(up)}\n}`,
    '',
    `export async function down(knex: Knex): Promise<void> {\n${down.length > 0 ? body(down) : indent(['// Nothing to undo.'])}\n}`,
    ...helpers.flatMap((helper) => ['', helper]),
    '',
  ].join('\n');
}

/** Whether SQLite rebuilds a table that has rows for the change: to alter a column, or add a foreign key to it. */
function rebuilds(change: Change): boolean {
  if (change.kind === 'columns') return change.foreignKeys.length > 0;
  return change.kind === 'nullable' || change.kind === 'dropForeignKeys';
}

function indent(lines: readonly string[]): string {
  return lines
    .join('\n')
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
}

/** One sentence of what the migration does, for its doc comment. */
function summary(app: string, changes: readonly Change[]): string {
  const parts: string[] = [];
  for (const c of changes) {
    if (c.kind === 'outbox') parts.push('the outbox');
    else if (c.kind === 'versions') parts.push('the applied-versions table');
    else if (c.kind === 'refresh') parts.push('the refresh table');
    else if (c.kind === 'sinks') parts.push("the sinks' table");
    else if (c.kind === 'version') parts.push(`\`_v\` on ${c.table}`);
    else if (c.kind === 'derived') parts.push(c.columns.map((col) => `${c.table}.${col.name} (derived)`).join(', '));
    else if (c.kind === 'create') parts.push(`${c.table.name}`);
    else if (c.kind === 'adopt') parts.push(`${c.table.name} (taken over)`);
    else if (c.kind === 'columns') parts.push(c.columns.map((col) => `${c.table}.${col.name}`).join(', '));
    else if (c.kind === 'dropForeignKeys')
      parts.push(`no foreign key on ${c.foreignKeys.map((fk) => `${c.table}.${fk.column}`).join(', ')}`);
    else if (c.kind === 'nullable')
      parts.push(`NULL allowed in ${c.columns.map((col) => `${c.table}.${col.name}`).join(', ')}`);
  }
  const what = parts.length > 0 ? parts.join('; ') : 'nothing to change (see the notes)';
  return `What app \`${app}\`'s routes now need of its database: ${what}.`;
}

function upLines(change: Change): string[] {
  switch (change.kind) {
    case 'note':
      return change.text.match(/.{1,96}(\s|$)/g)?.map((line) => `// ${line.trim()}`) ?? [];
    case 'outbox':
      return [outboxTable];
    case 'versions':
      return [versionsTable];
    case 'refresh':
      return [refreshTable];
    case 'sinks':
      return [sinksTable];
    case 'version':
      return [`await addVersion(knex, ${quote(change.table)});`];
    case 'derived':
      return [
        alterTable(
          change.table,
          change.columns.map((c) => `${definition(c)}.nullable();`),
        ),
      ];
    case 'create':
      return [createTable(change.table, change.foreignKeys)];
    case 'adopt':
      return adopt(change.table);
    case 'columns':
      return [
        alterTable(
          change.table,
          change.columns.map((c) => columnLine(change.table, c, change)),
        ),
      ];
    case 'foreignKeys':
      return [
        alterTable(
          change.table,
          change.foreignKeys.map((fk) => foreignLine(change.table, fk)),
        ),
      ];
    case 'nullable':
      return [
        alterTable(
          change.table,
          change.columns.map((c) => `${definition(c)}.nullable().alter();`),
        ),
      ];
    case 'dropForeignKeys':
      return [
        alterTable(
          change.table,
          change.foreignKeys.map((fk) => dropForeignLine(change.table, fk.column)),
        ),
      ];
  }
}

function downLines(change: Change): string[] {
  switch (change.kind) {
    case 'note':
      return [];
    case 'outbox':
      return ["await knex.schema.dropTable('promiscuous_outbox');"];
    case 'versions':
      return ["await knex.schema.dropTable('promiscuous_versions');"];
    case 'refresh':
      return ["await knex.schema.dropTable('promiscuous_refresh');"];
    case 'sinks':
      return ["await knex.schema.dropTable('promiscuous_sinks');"];
    case 'version':
      return [`await dropVersion(knex, ${quote(change.table)});`];
    case 'derived':
      return [
        `await dropDerived(knex, ${quote(change.table)}, [${change.columns.map((c) => quote(c.name)).join(', ')}]);`,
      ];
    case 'create':
      return [`await knex.schema.dropTable(${quote(change.table.name)});`];
    case 'adopt':
      return [`// ${change.table.name} was taken over, not created: it is left as it is.`];
    case 'columns': {
      const drops = change.foreignKeys.map((fk) => dropForeignLine(change.table, fk.column));
      return [
        alterTable(change.table, [
          ...drops,
          `table.dropColumns(${change.columns.map((c) => quote(c.name)).join(', ')});`,
        ]),
      ];
    }
    case 'foreignKeys':
      return [
        alterTable(
          change.table,
          change.foreignKeys.map((fk) => dropForeignLine(change.table, fk.column)),
        ),
      ];
    case 'dropForeignKeys':
      return [
        alterTable(
          change.table,
          change.foreignKeys.map((fk) => foreignLine(change.table, fk)),
        ),
      ];
    case 'nullable':
      return [
        `// NULL stays allowed in ${change.columns.map((c) => `${change.table}.${c.name}`).join(', ')}: rows may hold it.`,
      ];
  }
}

function createTable(table: SubscribedTableNeed, foreignKeys: readonly ForeignKeyNeed[]): string {
  const lines = table.surrogate ? ["table.bigIncrements('id');"] : [];
  for (const c of table.columns) {
    const fk = foreignKeys.find((f) => f.column === c.name);
    // A foreign key added later, in a cycle, still has its index now.
    const index = !fk && table.foreignKeys.some((f) => f.column === c.name) ? indexCall(table.name, c.name) : '';
    const key = c.name === table.key ? (table.surrogate ? 'unique' : 'primary') : undefined;
    lines.push(
      `${definition(c)}${c.nullable ? '.nullable()' : '.notNullable()'}${keyCall(table.name, c.name, key)}${index}${fk ? references(table.name, fk) : ''};`,
    );
  }
  return `await knex.schema.createTable(${quote(table.name)}, (table) => {\n${indent(lines)}\n});`;
}

/** Created as it would be when missing, but nullable; else each column it lacks is added. */
function adopt(table: SubscribedTableNeed): string[] {
  const loose = { ...table, columns: table.columns.map((c) => ({ ...c, nullable: c.name !== table.key })) };
  const add = table.columns.map((c) => {
    // A key column added to a table that has rows cannot be its primary key: it is unique.
    const key = c.name === table.key ? keyCall(table.name, c.name, 'unique') : '';
    return `${propertyKey(c.name)}: (table) => {\n  ${definition(c)}.nullable()${key};\n},`;
  });
  return [
    `if (!(await knex.schema.hasTable(${quote(table.name)}))) {`,
    indent([createTable(loose, [])]),
    '} else {',
    indent([`await addMissing(knex, ${quote(table.name)}, {\n${indent(add)}\n});`]),
    '}',
  ];
}

function alterTable(table: string, lines: readonly string[]): string {
  return `await knex.schema.alterTable(${quote(table)}, (table) => {\n${indent(lines)}\n});`;
}

/** A column added to a table that has rows: nullable, with its index and foreign key. */
function columnLine(table: string, column: ColumnNeed, change: Extract<Change, { kind: 'columns' }>): string {
  const fk = change.foreignKeys.find((f) => f.column === column.name);
  const key = column.name === change.key ? 'unique' : undefined;
  return `${definition(column)}.nullable()${keyCall(table, column.name, key)}${fk ? references(table, fk) : ''};`;
}

function dropForeignLine(table: string, column: string): string {
  return `table.dropForeign(${quote(column)}${nameArgument(table, column, 'foreign')});`;
}

function foreignLine(table: string, fk: ForeignKeyNeed): string {
  return `table.foreign(${quote(fk.column)}${nameArgument(table, fk.column, 'foreign')})${referencesTarget(fk)};`;
}

/** The column's type, as every database takes it back as the subscriber wrote it. */
export function definition(column: ColumnType & { readonly name: string }): string {
  const name = quote(column.name);
  switch (column.kind) {
    case 'string':
    case 'enum':
      return `table.string(${name}, 255)`;
    case 'text':
    case 'json':
      return `table.text(${name}, 'longtext')`;
    case 'integer':
      return `table.integer(${name})`;
    case 'bigint':
      return `table.bigInteger(${name})`;
    case 'decimal': {
      const { precision, scale } = column.precision === undefined ? defaultDecimal : column;
      return `table.decimal(${name}, ${precision}, ${scale ?? 0})`;
    }
    case 'float':
      return `table.double(${name})`;
    case 'boolean':
      return `table.boolean(${name})`;
    case 'date':
      return `table.date(${name})`;
    case 'timestamp':
      return `table.datetime(${name}, { precision: 3 })`;
    case 'uuid':
      return `table.uuid(${name})`;
  }
}

/** `.primary()` or `.unique()` on the key column. */
function keyCall(table: string, column: string, key: 'primary' | 'unique' | undefined): string {
  if (key === 'primary') {
    const name = constraintName(table, '', 'pkey');
    return `.primary(${name ? `{ constraintName: ${quote(name)} }` : ''})`;
  }
  if (key === 'unique') {
    const name = constraintName(table, column, 'unique');
    return `.unique(${name ? `{ indexName: ${quote(name)} }` : ''})`;
  }
  return '';
}

/** A column that holds a parent's id: indexed (the subscriber looks rows up by it), and a foreign key. */
function references(table: string, fk: ForeignKeyNeed): string {
  const key = constraintName(table, fk.column, 'foreign');
  return `${indexCall(table, fk.column)}${referencesTarget(fk)}${key ? `.withKeyName(${quote(key)})` : ''}`;
}

function indexCall(table: string, column: string): string {
  const name = constraintName(table, column, 'index');
  return `.index(${name ? quote(name) : ''})`;
}

function referencesTarget(fk: ForeignKeyNeed): string {
  return `.references(${quote(fk.references)}).inTable(${quote(fk.table)})`;
}

function nameArgument(table: string, column: string, suffix: string): string {
  const name = constraintName(table, column, suffix);
  return name ? `, ${quote(name)}` : '';
}

/** Knex's own name when it is short enough; otherwise a shortened one, made unique by a hash. */
function constraintName(table: string, column: string, suffix: string): string | undefined {
  const knex = (column === '' ? `${table}_${suffix}` : `${table}_${column}_${suffix}`).toLowerCase();
  if (knex.length <= longestName) return undefined;
  const hash = createHash('sha256').update(knex).digest('hex').slice(0, 8);
  return `${knex.slice(0, longestName - suffix.length - 10)}_${hash}_${suffix}`;
}
