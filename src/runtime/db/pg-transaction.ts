import { createRequire } from 'node:module';

/** What node-postgres's client offers that the PostgreSQL transaction uses. */
export interface PgConnection {
  query(config: string | { readonly text: string; readonly values?: readonly unknown[] }, ...rest: unknown[]): unknown;
  escapeLiteral(value: string): string;
}

/** One statement's result, as node-postgres gives it. */
export interface PgResult {
  readonly command?: string;
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
  /** Set once a statement sent here failed: the transaction only rolls back from then on. */
  private failed: Error | undefined;
  /** Whether a COMMIT or ROLLBACK ran on the server (the transaction is over). */
  private ended = false;
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
    this.restore();
    if (!this.begun && last === undefined) return [];
    const results = (await this.send([last, 'COMMIT'])) as PgResult[];
    return results.slice(0, -1);
  }

  /** Rolls back whatever went to the server; never throws. */
  async rollback(): Promise<void> {
    this.restore();
    this.ended = true;
    if (this.begun) await Promise.resolve(this.query.call(this.connection, 'ROLLBACK')).catch(() => {});
  }

  /**
   * Gives the connection its own `query` back, rolling back a transaction that neither
   * committed nor rolled back (its last COMMIT refused after a failure): the connection goes
   * back to the pool outside any transaction.
   */
  async close(): Promise<void> {
    this.restore();
    if (this.begun && !this.ended) await this.rollback();
  }

  private restore(): void {
    if (this.own) this.connection.query = this.query;
    else delete (this.connection as Partial<PgConnection>).query;
  }

  /**
   * Sends statements as one simple query, after BEGIN if it has not gone yet; resolves with
   * their results (BEGIN's left out). PostgreSQL parses the whole text before it runs any of
   * it, so a failure may have left no transaction open: the statements after it are refused
   * here, as an aborted transaction's would be, rather than run outside one. A COMMIT that
   * rolled back (an earlier statement failed, and its error was caught) fails.
   */
  private async send(statements: readonly (string | undefined)[]): Promise<unknown> {
    if (this.failed) throw this.failed;
    const begin = !this.begun;
    this.begun = true;
    const text = [begin ? 'BEGIN' : undefined, ...statements].filter((s) => s !== undefined).join('; ');
    let results: PgResult | PgResult[];
    try {
      results = (await this.query.call(this.connection, text)) as PgResult | PgResult[];
    } catch (error) {
      this.failed = new Error(`the transaction is aborted: ${(error as Error).message}`, { cause: error });
      throw error;
    }
    const list = Array.isArray(results) ? results : [results];
    // COMMIT ran (and ended the transaction, committed or not); had a statement before it
    // failed, the transaction is still open, aborted, for `close` to roll back.
    if (statements.at(-1) === 'COMMIT') {
      this.ended = true;
      if (list.at(-1)?.command !== 'COMMIT')
        throw new Error('COMMIT rolled the transaction back: one of its statements had failed');
    }
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
    if (this.failed && text !== 'ROLLBACK') return answer(Promise.reject(this.failed), callback);
    if (text === 'COMMIT;' || text === 'ROLLBACK') this.ended = true;
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

/**
 * `text` with its parameters written in as literals; undefined when that would not be safe
 * (the statement then goes with its parameters, and node-postgres's own checks).
 */
function withLiterals(text: string, values: readonly unknown[], connection: PgConnection): string | undefined {
  // Backslash escapes, comments, dollar quotes (any `$` but a parameter's) and identifiers
  // ending in `$1` would hide where strings and parameters end.
  if (/\\|--|\/\*|\$(?!\d)|[\p{L}\p{N}_$]\$\d/u.test(text)) return undefined;
  let safe = true;
  let highest = 0;
  const inlined = text.replace(parameter, (match, n: string | undefined) => {
    if (n === undefined || !safe) return match;
    const index = Number(n) - 1;
    highest = Math.max(highest, index + 1);
    const written = index < 0 || index >= values.length ? undefined : literal(values[index], connection);
    if (written === undefined) safe = false;
    return written ?? match;
  });
  return safe && highest === values.length ? inlined : undefined;
}

/**
 * A value as node-postgres would send it as a parameter, as an escaped literal of unknown type
 * (typed by its context, as a parameter is); undefined for what a literal would not say the
 * same: bytes (node-postgres sends them in binary), a NUL character (which fails the whole
 * text before BEGIN), and a string with both a backslash and a character beyond ASCII (its
 * `E''` escaping assumes the server reads UTF-8; a client encoding such as SJIS could take
 * the backslash into a multibyte character).
 */
export function literal(value: unknown, connection: PgConnection): string | undefined {
  const plain = plainLiteral(value);
  if (plain !== undefined) return plain;
  const prepared = pgUtils().prepareValue(value);
  if (prepared === null) return 'NULL';
  if (Buffer.isBuffer(prepared)) return undefined;
  const text = String(prepared);
  if (text.includes('\0') || (text.includes('\\') && /[\u0080-\uffff]/.test(text))) return undefined;
  return connection.escapeLiteral(text);
}

/** What a literal escapes (quotes and backslashes) or cannot hold (NUL); an array element also escapes double quotes. */
const escapedInLiteral = /['\\\0]/;
const escapedInElement = /['"\\\0]/;

/**
 * The literal of a value that needs no escaping (a string, number or boolean, or an array of
 * them, without quotes, backslashes or NUL), exactly as {@link literal} would write it through
 * node-postgres's conversion and escaping, which cost more than a round trip on a statement
 * of a hundred rows. Undefined for anything else.
 */
function plainLiteral(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return escapedInLiteral.test(value) ? undefined : `'${value}'`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `'${String(value)}'`;
    case 'undefined':
      return 'NULL';
    case 'object':
      if (value === null) return 'NULL';
      return Array.isArray(value) ? plainArray(value) : undefined;
    default:
      return undefined;
  }
}

/** An array as node-postgres writes it (`{"a","1",NULL}`), quoted as a literal. */
function plainArray(values: readonly unknown[]): string | undefined {
  const elements: string[] = [];
  for (const value of values) {
    if (value === null || value === undefined) elements.push('NULL');
    else if (
      typeof value === 'string'
        ? !escapedInElement.test(value)
        : typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean'
    )
      elements.push(`"${String(value)}"`);
    else return undefined;
  }
  return `'{${elements.join(',')}}'`;
}

let utils: { prepareValue(value: unknown): unknown } | undefined;

/** node-postgres's own conversion of parameters (dates, buffers, arrays, JSON), loaded when PostgreSQL is used. */
function pgUtils(): { prepareValue(value: unknown): unknown } {
  utils ??= createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(value: unknown): unknown };
  return utils;
}
