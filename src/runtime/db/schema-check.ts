import type { Knex } from 'knex';
import { ConnectionError, SchemaError } from '../../common/errors.js';
import type { ColumnKind, RequiredColumn, RequiredTable } from '../contract.js';

/** One thing the database lacks, or has in a shape the runtime cannot use. */
export interface TableProblem {
  readonly table: string;
  readonly column?: string;
  /** What is wrong and how to make it right, in a clause: `is missing`, `is \`text\`, which ...`. */
  readonly problem: string;
  /** The generated migration that makes it right, when one does. */
  readonly migration?: string;
}

type Dialect = 'postgres' | 'mysql' | 'sqlite' | 'other';

/** What `columnInfo()` says of a column, on every dialect Knex supports. */
interface ColumnInfo {
  readonly type: string;
  readonly maxLength: number | string | null;
  readonly nullable: boolean;
}

const postgresTypes: Record<ColumnKind, readonly string[]> = {
  string: ['character varying', 'character', 'text', 'citext'],
  text: ['text', 'character varying', 'citext'],
  enum: ['character varying', 'character', 'text', 'USER-DEFINED'],
  uuid: ['uuid', 'character varying', 'character', 'text'],
  integer: ['integer', 'bigint', 'numeric'],
  bigint: ['bigint', 'numeric'],
  decimal: ['numeric'],
  float: ['double precision', 'real', 'numeric'],
  boolean: ['boolean'],
  date: ['date', 'timestamp with time zone', 'timestamp without time zone'],
  timestamp: ['timestamp with time zone', 'timestamp without time zone'],
  json: ['jsonb', 'json', 'text', 'character varying'],
};

const mysqlText = ['varchar', 'char', 'text', 'tinytext', 'mediumtext', 'longtext'];
const mysqlTypes: Record<ColumnKind, readonly string[]> = {
  string: mysqlText,
  text: ['text', 'mediumtext', 'longtext', 'varchar'],
  enum: [...mysqlText, 'enum'],
  uuid: ['uuid', ...mysqlText],
  integer: ['int', 'bigint', 'decimal'],
  bigint: ['bigint', 'decimal'],
  decimal: ['decimal'],
  float: ['double', 'float', 'decimal'],
  boolean: ['tinyint', 'bit', 'smallint', 'int', 'bigint'],
  date: ['date', 'datetime', 'timestamp'],
  timestamp: ['datetime', 'timestamp'],
  // MariaDB's JSON is an alias of LONGTEXT, and says so.
  json: ['json', 'longtext', 'mediumtext', 'text'],
};

/**
 * SQLite stores any value in any column; what matters is the affinity the declared type gives
 * it (https://www.sqlite.org/datatype3.html#determination_of_column_affinity): a NUMERIC column
 * turns the string `007` into the number 7, so strings need TEXT affinity.
 */
const sqliteAffinities: Record<ColumnKind, readonly string[]> = {
  string: ['TEXT', 'BLOB'],
  text: ['TEXT', 'BLOB'],
  enum: ['TEXT', 'BLOB'],
  uuid: ['TEXT', 'BLOB'],
  integer: ['INTEGER', 'NUMERIC'],
  bigint: ['INTEGER', 'NUMERIC'],
  // Knex declares its own `decimal` columns as `float` on SQLite.
  decimal: ['NUMERIC', 'REAL'],
  float: ['REAL', 'NUMERIC'],
  boolean: ['INTEGER', 'NUMERIC'],
  date: ['NUMERIC', 'TEXT', 'INTEGER', 'REAL'],
  timestamp: ['NUMERIC', 'TEXT', 'INTEGER', 'REAL'],
  json: ['TEXT', 'NUMERIC', 'BLOB'],
};

function sqliteAffinity(declared: string): string {
  const type = declared.toUpperCase();
  if (type.includes('INT')) return 'INTEGER';
  if (/CHAR|CLOB|TEXT/.test(type)) return 'TEXT';
  if (type === '' || type.includes('BLOB')) return 'BLOB';
  if (/REAL|FLOA|DOUB/.test(type)) return 'REAL';
  return 'NUMERIC';
}

function dialectOf(knex: Knex): Dialect {
  const client = String(knex.client.config.client);
  if (client === 'pg' || client === 'postgres' || client === 'postgresql') return 'postgres';
  if (client === 'mysql' || client === 'mysql2') return 'mysql';
  if (client === 'better-sqlite3' || client === 'sqlite3') return 'sqlite';
  return 'other';
}

/** The types that hold a kind on a dialect, for the message; undefined when the dialect is not checked. */
function accepted(dialect: Dialect, kind: ColumnKind): readonly string[] | undefined {
  if (dialect === 'postgres') return postgresTypes[kind];
  if (dialect === 'mysql') return mysqlTypes[kind];
  if (dialect === 'sqlite') return sqliteAffinities[kind];
  return undefined;
}

/** Why a column of this type cannot hold the values of its kind, or undefined when it can. */
function typeProblem(dialect: Dialect, column: RequiredColumn, info: ColumnInfo): string | undefined {
  const types = accepted(dialect, column.kind);
  if (!types) return undefined;
  const actual = dialect === 'sqlite' ? sqliteAffinity(info.type) : info.type;
  const shown = dialect === 'sqlite' ? `\`${info.type}\` (${actual} affinity)` : `\`${info.type}\``;
  const use = dialect === 'sqlite' ? `a type of ${types.join(' or ')} affinity` : types.join(', ');
  if (!types.includes(actual)) return `is ${shown}, which cannot hold ${column.kind} values: use ${use}`;
  const length = Number(info.maxLength);
  if (column.kind === 'uuid' && info.maxLength !== null && length < 36 && actual !== 'uuid') {
    return `is ${shown} of length ${length}, too short for a uuid: make it at least 36 long`;
  }
  return undefined;
}

/**
 * What the database lacks of the tables an app's processes need: missing tables and columns,
 * columns whose type cannot hold their values, and NOT NULL columns the runtime would write a
 * null into. Of the app's own published tables only the columns are checked, and the type of
 * `_v`: the app writes them, in types of its choosing.
 */
export async function checkTables(knex: Knex, tables: readonly RequiredTable[]): Promise<TableProblem[]> {
  const dialect = dialectOf(knex);
  const problems: TableProblem[] = [];
  for (const table of [...tables].sort((a, b) => a.name.localeCompare(b.name))) {
    const found = (await knex.table(table.name).columnInfo()) as unknown as Record<string, ColumnInfo>;
    if (Object.keys(found).length === 0) {
      const migration = table.managed ? firstMigration(table) : undefined;
      problems.push({ table: table.name, problem: 'is missing', ...(migration ? { migration } : {}) });
      continue;
    }
    for (const column of table.columns) {
      const info = found[column.name];
      const where = { table: table.name, column: column.name };
      if (!info) {
        problems.push({
          ...where,
          problem: 'is missing',
          ...(column.migration ? { migration: column.migration } : {}),
        });
        continue;
      }
      // The app writes its own published tables, in types of its choosing: only the runtime's
      // own columns there (`_v`) and the tables the runtime writes are held to their kinds.
      if (table.role === 'published' && column.migration === undefined) continue;
      const type = typeProblem(dialect, column, info);
      if (type) problems.push({ ...where, problem: type });
      if (table.role !== 'published' && column.nullable && !info.nullable) {
        problems.push({ ...where, problem: 'is NOT NULL, and its value can be null: make it nullable' });
      }
    }
  }
  return problems;
}

function firstMigration(table: RequiredTable): string | undefined {
  return table.columns
    .map((c) => c.migration)
    .filter((m): m is string => m !== undefined)
    .sort()[0];
}

/** The problems as one message: a line for each, then what to do. */
export function describeTableProblems(app: string, problems: readonly TableProblem[]): string {
  const lines = problems.map((p) => {
    const what = p.column ? `column \`${p.table}.${p.column}\`` : `table \`${p.table}\``;
    return `  - ${what} ${p.problem}${p.migration ? ` (migration ${p.migration} adds it)` : ''}`;
  });
  const pending = problems.filter((p) => p.migration !== undefined).length;
  const run =
    "run the app's migrations (`knex migrate:latest` with the generated migrations folder among its directories)";
  const byHand = 'change the rest in a migration of your own';
  return [
    `${app}'s database does not have what ${app} needs:`,
    ...lines,
    pending === problems.length
      ? `${run}, then start again`
      : pending > 0
        ? `${run}, ${byHand}, then start again`
        : 'change these in a migration of your own, then start again',
  ].join('\n');
}

/** Error codes of a database that cannot be reached, as Node's network and the drivers give them. */
const unreachable = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN']);

/** The table lists each database was found to hold: a process checks each once, however many workers ask. */
const passed = new WeakMap<Knex, WeakSet<readonly RequiredTable[]>>();

/**
 * Throws a SchemaError naming every problem, if there is one; a ConnectionError when the
 * database cannot be reached. A list that passed is not checked again on the same Knex.
 */
export async function requireTables(knex: Knex, app: string, tables: readonly RequiredTable[]): Promise<void> {
  if (passed.get(knex)?.has(tables)) return;
  const problems = await checkTables(knex, tables).catch((error: NodeJS.ErrnoException) => {
    if (!unreachable.has(String(error.code)) && error.name !== 'KnexTimeoutError') throw error;
    throw new ConnectionError(`cannot reach ${app}'s database (${error.message})`, { cause: error });
  });
  if (problems.length > 0) throw new SchemaError(describeTableProblems(app, problems));
  const lists = passed.get(knex) ?? new WeakSet();
  passed.set(knex, lists.add(tables));
}
