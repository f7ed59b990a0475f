import { createRequire } from 'node:module';

/** What node-postgres's client offers that the PostgreSQL transaction uses. */
export interface PgConnection {
  query(config: string | { readonly text: string; readonly values?: readonly unknown[] }, ...rest: unknown[]): unknown;
  escapeLiteral(value: string): string;
}

/** One statement's result, as node-postgres gives it. */
export interface PgResult {
  readonly rows: Record<string, unknown>[];
}

/**
 * A transaction on a node-postgres connection whose `BEGIN` travels with its first statement,
 * and whose `COMMIT` with its last: a one-write transaction takes two round trips instead of
 * four. node-postgres sends a statement with parameters on its own, so such a statement is
 * sent as a simple query with its values written in as literals, escaped as node-postgres
 * escapes them; one that cannot be written so (a comment, a dollar-quoted string, options
 * other than text and values) goes on its own, after a `BEGIN` of its own. A transaction that
 * ran nothing sends nothing.
 *
 * The publisher drives the transaction itself (`commit`, `rollback`). The subscriber lets Knex
 * drive it on the connection (`knex.transaction(fn, { connection })`): Knex's own `BEGIN;` is
 * answered here and sent with the first statement, and its `COMMIT;` too once a statement
 * announced by {@link last} carried it.
 */
export class PgTransaction {
  /** Whether BEGIN went to the server (alone or with a statement). */
  private begun = false;
  /** Whether the next statement carries COMMIT, and whether one did. */
  private committing = false;
  private committed = false;
  private readonly query: PgConnection['query'];
  private readonly own: boolean;

  constructor(private readonly connection: PgConnection) {
    this.query = connection.query;
    this.own = Object.hasOwn(connection, 'query');
    // Every statement of the transaction goes through the connection, Knex's included.
    connection.query = (...args: Parameters<PgConnection['query']>) => this.intercept(args);
  }

  /** The next statement is the transaction's last: COMMIT goes with it. */
  last(): void {
    this.committing = true;
  }

  /** Sends `last` (statements without parameters), then COMMIT, in one round trip; resolves with `last`'s results. */
  async commit(last?: string): Promise<PgResult[]> {
    this.release();
    if (!this.begun && last === undefined) return [];
    const results = (await this.send([last, 'COMMIT'])) as PgResult[];
    return results.slice(0, -1);
  }

  /** Rolls back whatever went to the server; never throws. */
  async rollback(): Promise<void> {
    this.release();
    if (this.begun) await Promise.resolve(this.query.call(this.connection, 'ROLLBACK')).catch(() => {});
  }

  /** Gives the connection its own `query` back. */
  release(): void {
    if (this.own) this.connection.query = this.query;
    else delete (this.connection as Partial<PgConnection>).query;
  }

  /** Sends statements as one simple query, after BEGIN if it has not gone yet; resolves with their results (BEGIN's left out). */
  private async send(statements: readonly (string | undefined)[]): Promise<unknown> {
    const begin = !this.begun;
    this.begun = true;
    const text = [begin ? 'BEGIN' : undefined, ...statements].filter((s) => s !== undefined).join('; ');
    const results = (await this.query.call(this.connection, text)) as PgResult | PgResult[];
    const list = Array.isArray(results) ? results : [results];
    return begin ? list.slice(1) : list;
  }

  private intercept(args: Parameters<PgConnection['query']>): unknown {
    const [config, second, third] = args;
    const callback = [second, third].find(
      (a): a is (error: Error | null, result?: unknown) => void => typeof a === 'function',
    );
    const text =
      typeof config === 'string'
        ? config
        : Object.keys(config).every((k) => k === 'text' || k === 'values')
          ? config.text
          : undefined;
    // Knex's own: BEGIN goes with the first statement; COMMIT went with the last, or there was nothing to commit.
    if (
      text === 'BEGIN;' ||
      (text === 'COMMIT;' && (this.committed || !this.begun)) ||
      (text === 'ROLLBACK' && !this.begun)
    )
      return answer(
        Promise.resolve({ command: text.replace(';', ''), rows: [], rowCount: null, fields: [] }),
        callback,
      );
    if (this.begun && !this.committing) return this.query.apply(this.connection, args);
    const values = Array.isArray(second) ? second : typeof config === 'object' ? config.values : undefined;
    const inlined = text === undefined ? undefined : withLiterals(text, values ?? [], this.connection);
    if (inlined === undefined) {
      // On its own, after BEGIN alone; node-postgres runs a connection's queries in the order they came.
      if (!this.begun) Promise.resolve(this.query.call(this.connection, 'BEGIN')).catch(() => {});
      this.begun = true;
      this.committing = false;
      return this.query.apply(this.connection, args);
    }
    const commit = this.committing;
    this.committing = false;
    const result = this.send(commit ? [inlined, 'COMMIT'] : [inlined]).then((r) => {
      if (commit) this.committed = true;
      const list = (r as PgResult[]).slice(0, commit ? -1 : undefined);
      return list.length === 1 ? list[0] : list;
    });
    return answer(result, callback);
  }
}

/** A result to a node-postgres caller: through its callback if it passed one, else as the promise. */
function answer(result: Promise<unknown>, callback?: (error: Error | null, result?: unknown) => void): unknown {
  if (!callback) return result;
  result.then(
    (r) => callback(null, r),
    (e: Error) => callback(e),
  );
  return undefined;
}

/** A quoted string or identifier (left alone), or a parameter `$n`. */
const parameter = /'(?:[^']|'')*'|"(?:[^"]|"")*"|\$(\d+)/g;

/** `text` with its parameters written in as literals; undefined when that would not be safe. */
function withLiterals(text: string, values: readonly unknown[], connection: PgConnection): string | undefined {
  // Backslash escapes, comments and dollar quotes would hide where strings end.
  if (/\\|--|\/\*|\$[A-Za-z_$]/.test(text)) return undefined;
  let safe = true;
  const inlined = text.replace(parameter, (match, n: string | undefined) => {
    if (n === undefined) return match;
    const index = Number(n) - 1;
    if (index >= values.length) safe = false;
    return safe ? literal(values[index], connection) : match;
  });
  return safe ? inlined : undefined;
}

/** A value as node-postgres would send it as a parameter, as an escaped literal of unknown type (typed by its context, as a parameter is). */
export function literal(value: unknown, connection: PgConnection): string {
  const prepared = pgUtils().prepareValue(value);
  if (prepared === null) return 'NULL';
  if (Buffer.isBuffer(prepared)) return connection.escapeLiteral(`\\x${prepared.toString('hex')}`);
  return connection.escapeLiteral(String(prepared));
}

let utils: { prepareValue(value: unknown): unknown } | undefined;

/** node-postgres's own conversion of parameters (dates, buffers, arrays, JSON), loaded when PostgreSQL is used. */
function pgUtils(): { prepareValue(value: unknown): unknown } {
  utils ??= createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(value: unknown): unknown };
  return utils;
}
