/**
 * A transaction the database rolled back to break a deadlock, told apart from other failures
 * at the seam: the subscriber applies its messages again at once, and reports it in one line
 * (the table, not the statement: a statement of a hundred rows fills a screen).
 */

/** The database rolled the transaction back to break a deadlock; `cause` is its error, statement included. */
export class Deadlock extends Error {
  override readonly name = 'Deadlock';

  constructor(
    /** The table of the statement that was waiting, when the statement says it. */
    readonly table: string | undefined,
    options: ErrorOptions,
  ) {
    super(`deadlock${table ? ` on ${table}` : ''}`, options);
  }
}

/** MySQL and MariaDB's ER_LOCK_DEADLOCK, and PostgreSQL's deadlock_detected. */
const deadlockCodes = new Set(['ER_LOCK_DEADLOCK', '40P01']);

/** The error as a {@link Deadlock} if it is one, else the error itself. */
export function asDeadlock(error: unknown): unknown {
  const { code, sql, message } = (error ?? {}) as { code?: unknown; sql?: unknown; message?: unknown };
  if (typeof code !== 'string' || !deadlockCodes.has(code)) return error;
  // Knex puts the statement before its error's message (`<statement> - <message>`); mysql2 also keeps it apart.
  const statement = typeof sql === 'string' ? sql : typeof message === 'string' ? message : '';
  return new Deadlock(tableOf(statement), { cause: error });
}

/** The table a statement writes or reads first, without quotes or schema. */
function tableOf(statement: string): string | undefined {
  const verb =
    /^\W*(?:insert\s+(?:ignore\s+)?into|replace\s+into|update|delete\s+from|select\b[\s\S]*?\bfrom)\s+([`"\w$.]+)/i;
  return verb.exec(statement)?.[1]?.split('.').at(-1)?.replace(/[`"]/g, '') || undefined;
}
