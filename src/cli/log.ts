/**
 * The logger of the runtime commands (`subscribe`, `relay`, `publish`) when the config has none:
 * JSON lines shaped as pino's (its numeric levels, `time` in ms, `pid`, `hostname`, the
 * fields, `msg`) for log tooling, or readable lines for a person at a terminal:
 *
 * ```
 * 12:00:01 WARN  subscriber[sniper] update for a row that is not here; creating it subscription=User id=42
 * ```
 */
import { hostname } from 'node:os';
import {
  guardedLogger,
  type LogFields,
  type LogFn,
  type Logger,
  type LogLevel,
  loggableError,
} from '../common/logger.js';

export type LogFormat = 'pretty' | 'json';

export const logFormats: readonly LogFormat[] = ['pretty', 'json'];

/** pino's numbers, so that tools made for pino read the levels. */
const levelValues: Readonly<Record<LogLevel, number>> = { error: 50, warn: 40, info: 30, debug: 20 };

/** Where lines go: stderr, or a test's sink. */
export interface LogStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface LogOptions {
  /** Default: `pretty` when the stream is a terminal, else `json`. */
  readonly format?: LogFormat;
  /** The least severe level written (default `info`). */
  readonly level?: LogLevel;
  /** Default: stderr. */
  readonly stream?: LogStream;
  /** Where `NO_COLOR` is read (default: the process's environment). */
  readonly env?: NodeJS.ProcessEnv;
  /** The clock, in ms since the epoch (default `Date.now`). */
  readonly now?: () => number;
}

/** A record as both formats see it. */
interface LogRecord {
  readonly level: LogLevel;
  readonly time: number;
  readonly fields: LogFields;
  readonly message: string | undefined;
}

/**
 * The logger a runtime command uses: the config's `logger` when it has one (the options then
 * do not apply: it has its own format and level), else one of this module's.
 */
export function commandLogger(configured: Logger | undefined, options: LogOptions = {}): Logger {
  return guardedLogger(configured ?? cliLogger(options));
}

/** A logger that writes one line per record to the stream, in the format chosen. */
export function cliLogger(options: LogOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const format = options.format ?? (stream.isTTY ? 'pretty' : 'json');
  // https://no-color.org: any non-empty value turns colours off.
  const color = format === 'pretty' && stream.isTTY === true && !(options.env ?? process.env).NO_COLOR;
  const base = format === 'json' ? { pid: process.pid, hostname: hostname() } : {};
  const line = format === 'json' ? jsonLine : (record: LogRecord) => prettyLine(record, color);
  const now = options.now ?? Date.now;
  const threshold = levelValues[options.level ?? 'info'];
  const write = (record: LogRecord): void => {
    stream.write(`${line(record)}\n`);
  };
  return lineLogger(base, threshold, write, now);
}

function lineLogger(
  bindings: LogFields,
  threshold: number,
  write: (record: LogRecord) => void,
  now: () => number,
): Logger {
  const method = (level: LogLevel): LogFn => {
    // Below the level: a call costs nothing more than the call.
    if (levelValues[level] < threshold) return () => {};
    return (first: string | LogFields, message?: string) => {
      const fields = typeof first === 'string' ? bindings : { ...bindings, ...first };
      write({ level, time: now(), fields, message: typeof first === 'string' ? first : message });
    };
  };
  return {
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    child: (more) => lineLogger({ ...bindings, ...more }, threshold, write, now),
  };
}

function jsonLine({ level, time, fields, message }: LogRecord): string {
  const record = { level: levelValues[level], time, ...fields, ...(message === undefined ? {} : { msg: message }) };
  try {
    return JSON.stringify(record, jsonValue);
  } catch {
    // A field that cannot be written (a cycle): the record without its fields.
    return JSON.stringify({ level: levelValues[level], time, msg: message });
  }
}

function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  return value instanceof Error ? pinoError(value) : value;
}

/** An error as pino's serializer writes it: its type, its causes' messages and stacks after its own, its code. */
function pinoError(error: Error): Record<string, unknown> {
  const chain: Error[] = [];
  for (let e: unknown = loggableError(error); e instanceof Error; e = e.cause) chain.push(e);
  const code = (chain[0] as { code?: unknown }).code;
  return {
    type: chain[0]?.constructor.name ?? 'Error',
    message: chain.reduce(
      (text, e, i) => (i === 0 ? e.message : text.endsWith(e.message) ? text : `${text}: ${e.message}`),
      '',
    ),
    stack: chain.map((e) => e.stack).join('\ncaused by: '),
    ...(code === undefined ? {} : { code }),
  };
}

const levelColors: Readonly<Record<LogLevel, string>> = { error: '31', warn: '33', info: '32', debug: '90' };

function prettyLine({ level, time, fields, message }: LogRecord, color: boolean): string {
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const { app, component, ...rest } = fields;
  const source = `${component === undefined ? '' : String(component)}${app === undefined ? '' : `[${String(app)}]`}`;
  const pairs = Object.entries(rest).map(([key, value]) => `${paint('2', `${key}=`)}${prettyValue(value)}`);
  const parts = [
    paint('2', new Date(time).toTimeString().slice(0, 8)),
    paint(levelColors[level], level.toUpperCase().padEnd(5)),
    ...(source ? [paint('36', source)] : []),
    ...(message === undefined ? [] : [oneLine(message)]),
    ...pairs,
  ];
  const frames = level === 'error' ? stackOf(rest) : [];
  return [parts.join(' '), ...frames.map((frame) => paint('2', frame))].join('\n');
}

function prettyValue(value: unknown): string {
  if (value instanceof Error) {
    const error = pinoError(value);
    return JSON.stringify(
      `${String(error.type)}: ${String(error.message)}${error.code === undefined ? '' : ` (${String(error.code)})`}`,
    );
  }
  if (typeof value === 'string') return /^[\w.:/@*#+-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value, jsonValue) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The stack frames of an error among the fields, where it was thrown: for the person reading the terminal. */
function stackOf(fields: LogFields): string[] {
  const error = Object.values(fields).find((v): v is Error => v instanceof Error);
  if (!error) return [];
  let inner: Error = loggableError(error);
  while (inner.cause instanceof Error) inner = inner.cause;
  return (inner.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
}

/** Control characters (a newline, an escape sequence) in a message would forge or garble lines. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}
