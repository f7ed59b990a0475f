/**
 * The log formats of the runtime commands, and what every record goes through: levels,
 * fields, child bindings, colours only for a person at a terminal, and errors that never
 * carry an SQL statement, its values or a password.
 */
import { hostname } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cliLogger, commandLogger, type LogStream } from '../../src/cli/log.js';
import { errorText, guardedLogger, loggableError } from '../../src/common/logger.js';
import { recordingLogger } from '../helpers/log.js';

/** A stream that keeps the lines written to it. */
function sink(isTTY = false): LogStream & { lines: string[] } {
  const lines: string[] = [];
  return { isTTY, lines, write: (text: string) => lines.push(...text.split('\n').filter(Boolean)) };
}

const noon = new Date(2024, 0, 1, 12, 0, 1).getTime();

/** What Knex makes of a driver's error: the statement, its values inlined, before the driver's words. */
function knexError(): Error {
  const values = `'${'secret-value-'.repeat(1_000)}'`;
  return Object.assign(
    new Error(`insert into \`members\` (\`name\`) values (${values}) - Data too long for column 'name' at row 1`),
    {
      code: 'ER_DATA_TOO_LONG',
      errno: 1406,
      sql: `insert into \`members\` (\`name\`) values (${values})`,
      bindings: [values],
    },
  );
}

test('json lines are pino-shaped: numeric level, time, pid, hostname, bindings, fields, msg', () => {
  const out = sink();
  const log = cliLogger({ format: 'json', stream: out, now: () => noon }).child({
    app: 'sniper',
    component: 'subscriber',
  });
  log.warn({ messageId: 'm1', attempt: 2 }, 'failed to apply a message');
  log.info('plain');
  const [first, second] = out.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(first, {
    level: 40,
    time: noon,
    pid: process.pid,
    hostname: hostname(),
    app: 'sniper',
    component: 'subscriber',
    messageId: 'm1',
    attempt: 2,
    msg: 'failed to apply a message',
  });
  assert.is(second?.level, 30);
  assert.is(second?.msg, 'plain');
  assert.is(out.lines[0]?.endsWith('"msg":"failed to apply a message"}'), true, 'msg comes last, as pino writes it');
});

test('the level filter drops what is less severe than the level', () => {
  const levels = (level: 'error' | 'warn' | 'info' | 'debug') => {
    const out = sink();
    const log = cliLogger({ format: 'json', stream: out, level });
    log.error('e');
    log.warn('w');
    log.info('i');
    log.debug('d');
    return out.lines.map((line) => (JSON.parse(line) as { level: number }).level);
  };
  assert.equal(levels('error'), [50]);
  assert.equal(levels('warn'), [50, 40]);
  assert.equal(levels('info'), [50, 40, 30]);
  assert.equal(levels('debug'), [50, 40, 30, 20]);
});

test('a child adds its bindings to every record, and leaves its parent as it was', () => {
  const out = sink();
  const root = cliLogger({ format: 'json', stream: out });
  const app = root.child({ app: 'sniper' });
  app.child({ component: 'subscriber' }).child({ worker: 2 }).info({ id: '42' }, 'child');
  app.info('parent');
  root.info('root');
  const records = out.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(
    records.map(({ app, component, worker, id, msg }) => ({ app, component, worker, id, msg })),
    [
      { app: 'sniper', component: 'subscriber', worker: 2, id: '42', msg: 'child' },
      { app: 'sniper', component: undefined, worker: undefined, id: undefined, msg: 'parent' },
      { app: undefined, component: undefined, worker: undefined, id: undefined, msg: 'root' },
    ],
  );
});

test('pretty lines read as time, level, component[app], message, key=value, uncoloured off a terminal', () => {
  const out = sink(false);
  const log = cliLogger({ format: 'pretty', stream: out, now: () => noon }).child({
    app: 'sniper',
    component: 'subscriber',
  });
  log.warn({ subscription: 'User', id: '42', note: 'two words' }, 'update for a row that is not here; creating it');
  assert.equal(out.lines, [
    '12:00:01 WARN  subscriber[sniper] update for a row that is not here; creating it subscription=User id=42 note="two words"',
  ]);
});

test('pretty lines are coloured on a terminal, and never when NO_COLOR is set', () => {
  const line = (env: NodeJS.ProcessEnv, isTTY = true) => {
    const out = sink(isTTY);
    cliLogger({ format: 'pretty', stream: out, env }).child({ app: 'sniper' }).error('parked');
    return out.lines[0] ?? '';
  };
  assert.match(line({}), '\u001b[31mERROR');
  assert.not.match(line({ NO_COLOR: '1' }), '\u001b[');
  assert.not.match(line({ NO_COLOR: 'true' }), '\u001b[');
  assert.match(line({ NO_COLOR: '' }), '\u001b[', 'an empty NO_COLOR is unset, as no-color.org says');
  assert.not.match(line({}, false), '\u001b[');
});

test('without --log-format, a terminal gets pretty lines and anything else JSON', () => {
  const terminal = sink(true);
  cliLogger({ stream: terminal, env: { NO_COLOR: '1' } }).info('hello');
  const pipe = sink(false);
  cliLogger({ stream: pipe }).info('hello');
  assert.match(terminal.lines[0] ?? '', /^\d\d:\d\d:\d\d INFO {2}hello$/);
  assert.is((JSON.parse(pipe.lines[0] ?? '') as { msg: string }).msg, 'hello');
});

test("a driver's error is logged with its code and words, without the statement, its values or sql", () => {
  const out = sink();
  const log = commandLogger(undefined, { format: 'json', stream: out });
  log.error({ err: new Error('message m1 failed', { cause: knexError() }) }, 'parked a message');
  const line = out.lines[0] ?? '';
  assert.ok(line.length < 1_000, `${line.length} characters`);
  assert.not.match(line, 'secret-value');
  assert.not.match(line, 'insert into');
  const { err } = JSON.parse(line) as { err: Record<string, unknown> };
  assert.is(err.type, 'Error');
  assert.is(err.code, 'ER_DATA_TOO_LONG');
  assert.is(err.message, "message m1 failed: Data too long for column 'name' at row 1");
  assert.equal(Object.keys(err).sort(), ['code', 'message', 'stack', 'type']);
});

test('errorText keeps the words around a statement, hides passwords, and keeps to one short line', () => {
  assert.is(errorText(knexError()), "Data too long for column 'name' at row 1");
  const wrapped = new Error(`message 7 failed (attempt 1): ${knexError().message}`);
  assert.is(errorText(wrapped), "message 7 failed (attempt 1): Data too long for column 'name' at row 1");
  const pg = new Error('update "members" set "name" = $1 where "id" = $2 - deadlock detected');
  assert.is(errorText(pg), 'deadlock detected');
  assert.is(
    errorText(new Error('cannot reach amqp://app:s3cret@broker:5672/vhost')),
    'cannot reach amqp://app:***@broker:5672/vhost',
  );
  assert.is(errorText(new Error(`first line\n${'x'.repeat(500)}`)), 'first line');
  assert.is(errorText(new Error('y'.repeat(500))).length, 200);
  assert.is(errorText('a string thrown'), 'a string thrown');
});

test('a loggable error keeps its type, code and the innermost frames, and nothing else', () => {
  class SubscriberError extends Error {
    override readonly name = 'SubscriberError';
  }
  const copy = loggableError(new SubscriberError('failed', { cause: knexError() }));
  assert.instance(copy, SubscriberError);
  assert.is(copy.name, 'SubscriberError');
  assert.is((copy as { code?: string }).code, 'ER_DATA_TOO_LONG', "the driver's code, hoisted");
  assert.is(copy.stack, 'SubscriberError: failed', 'the frames are the innermost error’s');
  const cause = copy.cause as Error & Record<string, unknown>;
  assert.match(cause.stack ?? '', /^Error: Data too long for column 'name' at row 1\n {4}at /);
  assert.is(cause.sql, undefined);
  assert.is(cause.bindings, undefined);
  assert.is(cause.errno, undefined);
});

test('the guard hides passwords in messages and fields, and a logger that throws stops nothing', () => {
  const recorded = recordingLogger();
  const log = guardedLogger(recorded).child({ url: 'redis://user:hunter2@cache:6379' });
  log.warn(
    { target: 'amqp://guest:guest@127.0.0.1:5672', err: new Error('to postgres://app:s3cret@db/x') },
    'at amqp://a:b@c',
  );
  const text = JSON.stringify(recorded.records, (_k, v: unknown) => (v instanceof Error ? v.message : v));
  for (const secret of ['hunter2', ':guest@', 's3cret', ':b@']) assert.not.match(text, secret);
  assert.match(text, 'redis://user:***@cache:6379');
  const throwing = recordingLogger(() => {
    throw new Error('the log pipe is closed');
  });
  guardedLogger(throwing).error('still running');
});

test("commandLogger uses the config's logger when it has one", () => {
  const configured = recordingLogger();
  const out = sink();
  commandLogger(configured, { format: 'json', stream: out }).child({ app: 'sniper' }).info({ n: 1 }, 'hello');
  assert.equal(configured.records, [{ level: 'info', msg: 'hello', fields: { app: 'sniper', n: 1 } }]);
  assert.equal(out.lines, []);
});

test.run();
