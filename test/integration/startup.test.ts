/**
 * A runtime command that cannot start closes what it opened and exits at once, with a code
 * that tells why and a message that names the cause. Each case runs the CLI as a user has it,
 * packed and installed into a project with the users example, as a real process against the
 * real services; the apps' databases are PostgreSQL (the project installs no SQLite driver).
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import amqp, { type Channel } from 'amqplib';
import knex from 'knex';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sharedProject } from '../helpers/packed.js';
import { sniperTables } from '../helpers/users-app.js';
import { amqpUrl, eventually, queueExpiresMs, randomName } from '../helpers/services.js';

/** The project, and the users example copied into it (`<project>/users`), where the commands run. */
let project = '';
let users = '';
const postgres = { host: '127.0.0.1', user: 'postgres', database: 'test' };
/**
 * A schema with sniper's tables, one with none, one lacking a column and one with a column of a
 * type that cannot hold its values, each the search path of a database URL.
 */
const sniperSchema = randomName('sniper');
const emptySchema = randomName('empty');
const lackingSchema = randomName('lacking');
const mistypedSchema = randomName('mistyped');
const schemas = [sniperSchema, emptySchema, lackingSchema, mistypedSchema];
/** The generated migration that makes sniper's tables, as the check names it. */
const sniperMigration = readdirSync(new URL('../../examples/users/generated/sniper/migrations', import.meta.url)).find(
  (f) => f.endsWith('.ts'),
);
const databaseUrl = (schema: string) =>
  `postgres://postgres@127.0.0.1:5432/test?options=${encodeURIComponent(`-c search_path=${schema}`)}`;

test.before(async () => {
  project = sharedProject();
  users = join(project, 'users');
  cpSync(new URL('../../examples/users', import.meta.url), users, { recursive: true });
  const admin = knex({ client: 'pg', connection: postgres });
  try {
    for (const schema of schemas) await admin.raw('CREATE SCHEMA ??', [schema]);
  } finally {
    await admin.destroy();
  }
  for (const schema of [sniperSchema, lackingSchema, mistypedSchema]) {
    const db = knex({ client: 'pg', connection: postgres, searchPath: [schema] });
    try {
      await sniperTables(db);
      if (schema === lackingSchema) await db.schema.alterTable('members', (t) => t.dropColumn('contact_email'));
      if (schema === mistypedSchema) await db.raw('ALTER TABLE members ALTER COLUMN points TYPE text');
    } finally {
      await db.destroy();
    }
  }
});

test.after(async () => {
  const admin = knex({ client: 'pg', connection: postgres });
  try {
    for (const schema of schemas) {
      await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    }
  } finally {
    await admin.destroy();
  }
});

/** A folder of its own inside the project, so that what a config there imports resolves to the installed packages. */
const caseFolder = () => mkdtempSync(join(project, 'case-'));

interface Exit {
  readonly code: number | null;
  readonly stderr: string;
  /** Whether the process was still running at the deadline, and was killed. */
  readonly hung: boolean;
}

/** Starts the installed `promiscuous args...` in the users example, on the real services, in a namespace of its own. */
function start(args: readonly string[], env: Record<string, string>): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(join(project, 'node_modules/.bin/promiscuous'), [...args], {
    cwd: users,
    env: {
      ...process.env,
      PROMISCUOUS_AMQP_URL: amqpUrl,
      PROMISCUOUS_DATABASE_URL: databaseUrl(sniperSchema),
      PROMISCUOUS_NAMESPACE: randomName('prom'),
      PROMISCUOUS_QUEUE_EXPIRES_MS: String(queueExpiresMs),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `promiscuous args...` and waits for it to exit, killing it if it still runs after 30 s. */
function promiscuous(args: readonly string[], env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve) => {
    const child = start(args, env);
    child.stdout.resume();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    let hung = false;
    const deadline = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(deadline);
      resolve({ code, stderr, hung });
    });
  });
}

const sniper = ['subscribe', '--config', 'promiscuous.config.ts', '--app', 'sniper'];

/** Asserts that a command exited by itself, with `code`, saying `said`. */
function exitedWith(exit: Exit, code: number, said: string): void {
  assert.not.ok(exit.hung, 'the process exits by itself: what it opened is closed');
  assert.is(exit.code, code, exit.stderr);
  assert.match(exit.stderr, said);
}

/** Runs sniper's subscriber with `env`. */
function subscribeSniper(env: Record<string, string>, extra: readonly string[] = []): Promise<Exit> {
  return promiscuous([...sniper, ...extra], env);
}

test('subscribe exits with 69 naming Redis when Redis cannot be reached', async () => {
  const exit = await subscribeSniper({ PROMISCUOUS_REDIS_URL: 'redis://127.0.0.1:1' });
  exitedWith(exit, 69, 'cannot reach Redis at redis://127.0.0.1:1');
});

test('a setting of the wrong kind exits with 78 naming its variable, before connecting', async () => {
  const exit = await subscribeSniper({ PROMISCUOUS_REDIS_URL: 'http://127.0.0.1:6379' });
  exitedWith(exit, 78, 'PROMISCUOUS_REDIS_URL is `http://127.0.0.1:6379/`: use a redis:// or rediss:// URL');
});

test('signature settings that cannot work exit with 78, naming the variable and never the key', async () => {
  const key = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n';
  const exit = await subscribeSniper({ PROMISCUOUS_SIGNING_KEY: key });
  exitedWith(exit, 78, 'PROMISCUOUS_SIGNING_KEY is not an Ed25519 private key');
  assert.not.match(exit.stderr, 'c2VjcmV0');
  const trust = await subscribeSniper({ PROMISCUOUS_TRUST: 'crowdtap=c2hvcnQ=' });
  exitedWith(trust, 78, 'trusted key 1 of crowdtap is not a public key');
  const required = await subscribeSniper({ PROMISCUOUS_REQUIRE_SIGNATURES: 'true' });
  exitedWith(required, 78, 'signatures are required, but no key is trusted');
});

test('subscribe exits with 78 naming the tables its database lacks, and the migration that adds them', async () => {
  const exit = await subscribeSniper({ PROMISCUOUS_DATABASE_URL: databaseUrl(emptySchema) });
  exitedWith(exit, 78, "sniper's database does not have what sniper needs:");
  for (const table of ['members', 'organizations', 'promiscuous_versions']) {
    assert.match(exit.stderr, `  - table \`${table}\` is missing (migration ${sniperMigration} adds it)`);
  }
  assert.not.match(exit.stderr, 'promiscuous_sinks', 'a subscriber without sinks does not need their table');
  assert.match(exit.stderr, "run the app's migrations (`knex migrate:latest`");
});

test('subscribe exits with 78 naming a column a table of its lacks', async () => {
  const exit = await subscribeSniper({ PROMISCUOUS_DATABASE_URL: databaseUrl(lackingSchema) });
  exitedWith(exit, 78, `  - column \`members.contact_email\` is missing (migration ${sniperMigration} adds it)`);
});

test('subscribe exits with 78 naming a column whose type cannot hold its values', async () => {
  const exit = await subscribeSniper({ PROMISCUOUS_DATABASE_URL: databaseUrl(mistypedSchema) });
  exitedWith(
    exit,
    78,
    '  - column `members.points` is `text`, which cannot hold integer values: use integer, bigint, numeric',
  );
});

test('relay exits with 78 naming the published tables and the outbox its database lacks', async () => {
  const exit = await promiscuous(['relay', '--app', 'crowdtap'], {
    PROMISCUOUS_DATABASE_URL: databaseUrl(emptySchema),
  });
  exitedWith(exit, 78, "crowdtap's database does not have what crowdtap needs:");
  for (const table of ['organizations', 'users']) assert.match(exit.stderr, `  - table \`${table}\` is missing\n`);
  assert.match(exit.stderr, / {2}- table `promiscuous_outbox` is missing \(migration \d{14}_\w+\.ts adds it\)/);
});

test('subscribe exits with 69 when its database cannot be reached', async () => {
  const exit = await subscribeSniper({ PROMISCUOUS_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' });
  exitedWith(exit, 69, "cannot reach sniper's database (connect ECONNREFUSED 127.0.0.1:1)");
});

test('subscribe exits with 78 naming a callback the routes do not have', async () => {
  const dir = caseFolder();
  try {
    const config = join(dir, 'promiscuous.config.ts');
    writeFileSync(
      config,
      [
        `import base from ${JSON.stringify(join(users, 'promiscuous.config.ts'))};`,
        'const callbacks = { sniper: { Usr: { afterCreate: () => {} } } };',
        `export default { ...base, generated: ${JSON.stringify(relative(dir, join(users, 'generated')))}, callbacks };`,
        '',
      ].join('\n'),
    );
    const exit = await promiscuous(['subscribe', '--config', config, '--app', 'sniper'], {});
    assert.not.ok(exit.hung);
    assert.is(exit.code, 78, exit.stderr);
    assert.match(
      exit.stderr,
      "the config's `callbacks.sniper` does not match the routes: Usr is no subscription or observer",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs sniper's subscriber with `sinks` (source text) as the config's `sinks`, and `env`. */
async function subscribeWithSinks(sinks: string, env: Record<string, string> = {}): Promise<Exit> {
  const dir = caseFolder();
  try {
    const config = join(dir, 'promiscuous.config.ts');
    writeFileSync(
      config,
      [
        `import base from ${JSON.stringify(join(users, 'promiscuous.config.ts'))};`,
        `const sinks = ${sinks};`,
        `export default { ...base, generated: ${JSON.stringify(relative(dir, join(users, 'generated')))}, sinks };`,
        '',
      ].join('\n'),
    );
    return await promiscuous(['subscribe', '--config', config, '--app', 'sniper'], env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('subscribe exits with 78 naming a sink the routes do not have, or one that is no sink', async () => {
  const exit = await subscribeWithSinks('{ sniper: { Usr: () => {}, User: { send: () => {}, timeoutMs: -1 } } }');
  exitedWith(exit, 78, "the config's `sinks.sniper` does not match the routes: Usr is no subscription or observer");
  assert.match(exit.stderr, 'User.timeoutMs is not a positive number');
});

test('subscribe with sinks exits with 78 naming their table when the database lacks it', async () => {
  const sinksMigration = readdirSync(new URL('../../examples/users/generated/sniper/migrations', import.meta.url)).find(
    (f) => f.endsWith('_sinks.ts'),
  );
  const exit = await subscribeWithSinks('{ sniper: { User: () => {} } }', {
    PROMISCUOUS_DATABASE_URL: databaseUrl(emptySchema),
  });
  exitedWith(exit, 78, `  - table \`promiscuous_sinks\` is missing (migration ${sinksMigration} adds it)`);
});

test('relay exits with 78 naming the missing generated code', async () => {
  const dir = caseFolder();
  try {
    const config = join(dir, 'promiscuous.config.ts');
    writeFileSync(
      config,
      "export default { apps: { blog: {} }, database: { client: 'pg', connection: 'postgres://127.0.0.1/test' } };\n",
    );
    const exit = await promiscuous(['relay', '--config', config], {});
    assert.not.ok(exit.hung, 'the process exits by itself: the broker connection and the database are closed');
    assert.is(exit.code, 78, exit.stderr);
    assert.match(exit.stderr, `${join(dir, 'generated', 'blog', 'publisher.ts')} is missing`);
    assert.match(exit.stderr, 'promiscuous generate');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('subscribe exits with 69 naming RabbitMQ when the broker cannot be reached', async () => {
  const exit = await subscribeSniper({ PROMISCUOUS_AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' });
  exitedWith(exit, 69, 'cannot reach RabbitMQ at amqp://guest:***@127.0.0.1:1 (connect ECONNREFUSED');
});

test('subscribe exits with 78 when RabbitMQ refuses the credentials, and says so', async () => {
  const url = new URL(amqpUrl);
  url.password = 'not-the-password';
  const exit = await subscribeSniper({ PROMISCUOUS_AMQP_URL: url.toString() });
  assert.not.ok(exit.hung);
  assert.is(exit.code, 78, exit.stderr);
  assert.match(exit.stderr, `refused the user \`${decodeURIComponent(url.username)}\` (ACCESS_REFUSED)`);
  assert.not.match(exit.stderr, 'not-the-password', 'the password is never printed');
  assert.not.match(exit.stderr, 'is it running');
});

/** Declares, on a connection of its own, what an earlier run with other settings left in RabbitMQ. */
async function leftBehind(declare: (channel: Channel) => Promise<unknown>): Promise<void> {
  const connection = await amqp.connect(amqpUrl);
  try {
    await declare(await connection.createChannel());
  } finally {
    await connection.close();
  }
}

test('subscribe exits with 78 naming the queue RabbitMQ holds with other arguments, and how to fix it', async () => {
  const namespace = randomName('prom');
  const queue = `${namespace}.sniper`;
  // Declared by a run whose queues expired after 5 minutes; this one says 10.
  const other = { 'x-expires': queueExpiresMs / 2, 'x-queue-version': 2 };
  await leftBehind((c) => c.assertQueue(queue, { durable: true, arguments: other }));
  try {
    const exit = await subscribeSniper({ PROMISCUOUS_NAMESPACE: namespace });
    assert.not.ok(exit.hung);
    assert.is(exit.code, 78, exit.stderr);
    assert.match(exit.stderr, `RabbitMQ already has the queue \`${queue}\` with other arguments (PRECONDITION_FAILED)`);
    assert.match(exit.stderr, `its x-expires is '${queueExpiresMs / 2}', this process declares '${queueExpiresMs}'`);
    assert.match(exit.stderr, `rabbitmqctl delete_queue ${queue}`);
    assert.match(exit.stderr, 'PROMISCUOUS_QUEUE_EXPIRES_MS) must be the same in every process');
    assert.not.match(exit.stderr, 'is it running');
  } finally {
    await leftBehind((c) => c.deleteQueue(queue));
  }
});

test('subscribe exits with 78 naming the exchange RabbitMQ holds with other arguments', async () => {
  const namespace = randomName('prom');
  // Declared by a process without a queue expiry, where this one has one (an auto-deleted exchange).
  await leftBehind((c) => c.assertExchange(namespace, 'topic', { durable: true }));
  try {
    const exit = await subscribeSniper({ PROMISCUOUS_NAMESPACE: namespace });
    assert.not.ok(exit.hung);
    assert.is(exit.code, 78, exit.stderr);
    assert.match(exit.stderr, `RabbitMQ already has the exchange \`${namespace}\` with other arguments`);
    assert.match(exit.stderr, "its auto_delete is 'false', this process declares 'true'");
    assert.not.match(exit.stderr, 'is it running');
  } finally {
    await leftBehind((c) => c.deleteExchange(namespace));
  }
});

test('a runtime command given a config file that does not exist exits with 78 naming it', async () => {
  const exit = await promiscuous(['relay', '--config', 'nowhere/promiscuous.config.ts'], {});
  exitedWith(exit, 78, 'nowhere/promiscuous.config.ts does not exist');
  assert.not.match(exit.stderr, 'ENOENT');
});

/** A subscriber's stderr as it comes, and its exit. */
function watch(child: ChildProcessByStdio<null, Readable, Readable>): {
  stderr: () => string;
  exited: Promise<number | null>;
} {
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return { stderr: () => stderr, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

/** The JSON records of the lines written so far (a line not yet complete is left out). */
function jsonRecords(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

test('a subscriber serves /healthz and /readyz on its metrics port, ready once it consumes', async () => {
  const child = start([...sniper, '--metrics-port', '0'], {});
  const { stderr, exited } = watch(child);
  try {
    const port = await eventually(
      async () => jsonRecords(stderr()).find((r) => r.msg === 'serving metrics and probes')?.port,
    );
    const url = (path: string) => `http://127.0.0.1:${String(port)}${path}`;
    assert.is((await fetch(url('/healthz'))).status, 200);
    const ready = await eventually(async () => {
      const response = await fetch(url('/readyz'));
      return response.status === 200 ? ((await response.json()) as { checks: Record<string, unknown> }) : undefined;
    });
    assert.equal(ready.checks, { broker: true, database: true, redis: true, consuming: true });
    child.kill('SIGTERM');
    assert.is(await exited, 0);
  } finally {
    child.kill('SIGKILL');
  }
});

test('subscribe --log-format json writes every line as a pino-shaped JSON record on stderr', async () => {
  const child = start([...sniper, '--log-format', 'json', '--bareback'], {});
  const { stderr, exited } = watch(child);
  try {
    await eventually(async () => jsonRecords(stderr()).find((r) => r.msg === 'consuming'));
    child.kill('SIGTERM');
    assert.is(await exited, 0, stderr());
    const records = jsonRecords(stderr());
    assert.is(records.length, stderr().split('\n').length - 1, 'every line is a record');
    for (const record of records) {
      assert.type(record.level, 'number');
      assert.type(record.time, 'number');
      assert.is(record.pid, child.pid);
      assert.is(record.app, 'sniper');
    }
    const said = records.map(({ level, component, msg }) => `${String(level)} ${String(component)} ${String(msg)}`);
    assert.equal(said, [
      '40 cli --bareback applies messages in any order: never use it in production',
      '30 subscriber consuming',
      '30 cli finishing the messages in flight',
      '30 subscriber stopped: the messages in flight are settled',
    ]);
  } finally {
    child.kill('SIGKILL');
  }
});

test("a runtime command logs through the config's logger when the config has one", async () => {
  const dir = caseFolder();
  const config = join(dir, 'promiscuous.config.ts');
  // The users example's config, with a logger of its own that marks its lines.
  writeFileSync(
    config,
    [
      `import base from ${JSON.stringify(join(users, 'promiscuous.config.ts'))};`,
      'const logger = (bindings = {}) => {',
      "  const at = (level) => (first, msg) => process.stderr.write(`custom ${level} ${JSON.stringify(typeof first === 'string' ? { ...bindings, msg: first } : { ...bindings, ...first, msg })}\\n`);",
      "  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: (more) => logger({ ...bindings, ...more }) };",
      '};',
      `export default { ...base, generated: ${JSON.stringify(relative(dir, join(users, 'generated')))}, logger: logger() };`,
      '',
    ].join('\n'),
  );
  const child = start(['subscribe', '--config', config, '--app', 'sniper', '--log-format', 'json'], {});
  const { stderr, exited } = watch(child);
  try {
    const consuming = await eventually(async () => /^custom info (.*"msg":"consuming".*)$/m.exec(stderr())?.[1]);
    assert.equal(JSON.parse(consuming), {
      app: 'sniper',
      component: 'subscriber',
      bindings: ['*.user.*', 'crowdtap.organization.*', 'crowdtap.user_event.*'],
      prefetch: 5,
      mode: 'causal',
      msg: 'consuming',
    });
    child.kill('SIGTERM');
    assert.is(await exited, 0, stderr());
    assert.ok(
      stderr()
        .split('\n')
        .filter(Boolean)
        .every((line) => line.startsWith('custom ')),
      stderr(),
    );
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
