/**
 * The one logging interface of the runtime and the CLI. It is pino's shape, so that a pino
 * logger is one as it is: four levels, each called with a message, or with fields and a
 * message, and child loggers that add fields to every record. Errors go under `err`, as
 * pino's convention has it.
 *
 * @example
 * ```ts
 * log.warn({ subscription: 'User', id }, 'update for a row that is not here; creating it');
 * const worker = log.child({ app: 'sniper', component: 'subscriber' });
 * ```
 */
import { redactText } from './redact.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** The levels, most severe first. */
export const logLevels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** A record's fields: flat values (ids, counts, names) rather than text to parse. */
export type LogFields = Readonly<Record<string, unknown>>;

export interface LogFn {
  (message: string): void;
  (fields: LogFields, message?: string): void;
}

export interface Logger {
  readonly error: LogFn;
  readonly warn: LogFn;
  readonly info: LogFn;
  readonly debug: LogFn;
  /** A logger that adds `bindings` to every record (pino's `child`). */
  child(bindings: LogFields): Logger;
}

const nothing: LogFn = () => {};

/** The default: records go nowhere. */
export const silentLogger: Logger = {
  error: nothing,
  warn: nothing,
  info: nothing,
  debug: nothing,
  child: () => silentLogger,
};

const maxMessage = 200;
const maxFrames = 10;
const maxCauses = 3;

/**
 * Knex puts the whole statement, its values inlined, before the driver's message
 * (`insert into ... values (...) - Data too long for column 'name'`); a wrapper may put that
 * after its own words (`message 42 failed: insert into ...`). The statement goes; the
 * driver's message stays.
 */
const statement =
  /(^|: )(?:select|insert|update|delete|with|create|alter|drop|truncate|replace|pragma|begin|commit|rollback|savepoint|release|set|lock|show|call)\s[\s\S]* - /i;

/**
 * An error's message fit for a log line or another error's message: without an SQL
 * statement, with URLs' passwords hidden, one line of at most 200 characters.
 */
export function errorText(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  const line = (redactText(raw.replace(statement, '$1')).split('\n', 1)[0] ?? '').trim();
  return line.length > maxMessage ? `${line.slice(0, maxMessage - 1)}…` : line;
}

/**
 * A copy of an error fit for a log record. Never its whole message (a driver's may hold a
 * statement of many kilobytes and the values it wrote) nor its other properties (`sql`,
 * `bindings`, PostgreSQL's `detail` with the row's key): its type (the same prototype, so
 * that pino's serializer names it), its `code` (or its causes'), its {@link errorText}, its causes, and the
 * stack frames of the innermost one, where it was thrown.
 */
export function loggableError(error: unknown, depth = 0): Error {
  const original = error instanceof Error ? error : undefined;
  // A host error's prototype may hold accessors that only work on a real instance.
  const hosted = typeof DOMException !== 'undefined' && error instanceof DOMException;
  const copy = Object.create(original && !hosted ? Object.getPrototypeOf(original) : Error.prototype) as Error;
  const name = original?.name ?? 'Error';
  const message = errorText(error);
  const cause =
    original?.cause !== undefined && depth < maxCauses ? loggableError(original.cause, depth + 1) : undefined;
  const frames = cause ? [] : (original?.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  const hidden = (value: unknown) => ({ value, writable: true, configurable: true, enumerable: false });
  Object.defineProperties(copy, {
    name: hidden(name),
    message: hidden(message),
    stack: hidden([`${name}: ${message}`, ...frames.slice(0, maxFrames)].join('\n')),
    ...(cause ? { cause: hidden(cause) } : {}),
  });
  // The driver's code, from the innermost error when the outer ones have none: pino's
  // serializer shows the causes' messages, not their other properties.
  const code = (original as { code?: unknown } | undefined)?.code ?? (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' || typeof code === 'number')
    Object.defineProperty(copy, 'code', { value: code, enumerable: true });
  return copy;
}

const guarded = new WeakSet<Logger>();

/**
 * The logger every record of the runtime and the CLI goes through, whatever logger the
 * application gave: an `Error` in the fields is logged as {@link loggableError}, a URL's
 * password is hidden in the message and in string fields, and a logger that throws never
 * stops the process.
 */
export function guardedLogger(logger: Logger): Logger {
  if (logger === silentLogger || guarded.has(logger)) return logger;
  const level =
    (name: LogLevel): LogFn =>
    (first: string | LogFields, message?: string) => {
      try {
        if (typeof first === 'string') logger[name](redactText(first));
        else if (message === undefined) logger[name](guardFields(first));
        else logger[name](guardFields(first), redactText(message));
      } catch {}
    };
  const guard: Logger = {
    error: level('error'),
    warn: level('warn'),
    info: level('info'),
    debug: level('debug'),
    child: (bindings) => guardedLogger(logger.child(guardFields(bindings))),
  };
  guarded.add(guard);
  return guard;
}

function guardFields(fields: LogFields): LogFields {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? loggableError(value) : typeof value === 'string' ? redactText(value) : value;
  }
  return out;
}
