import type { LogFields, Logger, LogLevel } from '../../src/runtime/index.js';

/** A record as a logger received it: its level, its message, and its fields with the child bindings. */
export interface Recorded {
  readonly level: LogLevel;
  readonly msg: string | undefined;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A logger that keeps what it receives in `records`; or, given `onRecord`, hands it each record instead. */
export function recordingLogger(onRecord?: (record: Recorded) => void): Logger & { records: Recorded[] } {
  const records: Recorded[] = [];
  const make = (bindings: LogFields): Logger => {
    const level =
      (name: LogLevel) =>
      (first: string | LogFields, msg?: string): void => {
        const record =
          typeof first === 'string'
            ? { level: name, msg: first, fields: bindings }
            : { level: name, msg, fields: { ...bindings, ...first } };
        if (onRecord) onRecord(record);
        else records.push(record);
      };
    return {
      error: level('error'),
      warn: level('warn'),
      info: level('info'),
      debug: level('debug'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return Object.assign(make({}), { records });
}
