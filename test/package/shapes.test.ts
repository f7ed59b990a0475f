/**
 * The packages as a user installs them, in each shape of project: an ES-module package and a
 * CommonJS one with `promiscuous.config.ts`, `.prom` routes with settings from the environment,
 * and a production install (no compiler, no TypeScript loader) running compiled JavaScript.
 * Each runs the installed `promiscuous` as real processes, and a row replicates on PostgreSQL,
 * RabbitMQ and Redis.
 */
import { type ChildProcessByStdio, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import knex, { type Knex } from 'knex';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { installed, pruneDev, sharedProject, write } from '../helpers/packed.js';
import { amqpUrl, eventually, queueExpiresMs, randomName, redisUrl } from '../helpers/services.js';

const pg = { host: '127.0.0.1', user: 'postgres', database: 'test' };
const pgUrl = 'postgres://postgres@127.0.0.1:5432/test';

const routes = `app blog

publish posts as Post to "blog/post" {
  id     integer primary
  title  string
}

app reader

subscribe Post from "blog/post" into posts {
  title
}
`;

/** The same routes as a config; each app's database is a PostgreSQL schema named after the shape. */
const config = (shape: string) => `import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    blog: { publish: [{ table: 'posts', as: 'Post', to: 'blog/post', fields: { id: 'integer primary', title: 'string' } }] },
    reader: { subscribe: [{ type: 'Post', from: 'blog/post', into: 'posts', attributes: ['title'] }] },
  },
  database: (app) => ({ client: 'pg', connection: '${pgUrl}', searchPath: ['${shape}_' + app] }),
});
`;

let dir = '';
let admin: Knex;
const schemas: string[] = [];

test.before(async () => {
  dir = sharedProject();
  admin = knex({ client: 'pg', connection: pg });
});

test.after(async () => {
  for (const schema of schemas) await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
  await admin.destroy();
  rmSync(`${dir}-production`, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const env = (namespace: string, extra: Record<string, string> = {}) => ({
  ...process.env,
  PROMISCUOUS_AMQP_URL: amqpUrl,
  PROMISCUOUS_REDIS_URL: redisUrl,
  PROMISCUOUS_NAMESPACE: namespace,
  PROMISCUOUS_QUEUE_EXPIRES_MS: String(queueExpiresMs),
  ...extra,
});

/** Runs the installed `promiscuous` in `cwd` to its end. */
function promiscuous(cwd: string, args: readonly string[], vars: NodeJS.ProcessEnv): Promise<Run> {
  return command(cwd, 'promiscuous', args, vars);
}

/** Runs a command the project installed (`node_modules/.bin`) in `cwd` to its end. */
function command(cwd: string, name: string, args: readonly string[], vars: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      join(cwd, '..', 'node_modules/.bin', name),
      [...args],
      { cwd, env: { ...process.env, ...vars }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function start(
  cwd: string,
  args: readonly string[],
  vars: NodeJS.ProcessEnv,
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(join(cwd, '..', 'node_modules/.bin/promiscuous'), [...args], {
    cwd,
    env: vars,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Creates each app's schema and runs its migrations: blog's own table first, then, for both,
 * the generated migrations (reader's table is theirs), through each app's `migrationSource`.
 */
async function prepare(shape: string, folder: string, extension: 'ts' | 'js'): Promise<void> {
  for (const app of ['blog', 'reader']) {
    const db = await schema(shape, app);
    try {
      if (app === 'blog') await postsTable(db);
      const module = join(folder, 'generated', app, `migrations.${extension}`);
      const { migrationSource } = (await import(pathToFileURL(module).href)) as {
        migrationSource: Knex.MigrationSource<string>;
      };
      await db.migrate.latest({ migrationSource });
      if (app === 'blog') await db('posts').insert({ id: 1, title: `hello from ${shape}` });
    } finally {
      await db.destroy();
    }
  }
}

/** A new, empty schema of the shape's app, and a connection to it. */
async function schema(shape: string, app: string): Promise<Knex> {
  const name = `${shape}_${app}`;
  schemas.push(name);
  await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [name]);
  await admin.raw('CREATE SCHEMA ??', [name]);
  return knex({ client: 'pg', connection: pg, searchPath: [name] });
}

/** blog's own table, which it publishes: its own migration makes it. */
function postsTable(db: Knex): Promise<void> {
  return db.schema.createTable('posts', (t) => {
    t.integer('id').primary();
    t.text('title');
  });
}

/**
 * Runs reader's subscriber and blog's initial sync as processes; resolves when the row is in
 * reader's table, then stops the subscriber and checks it exits cleanly.
 */
async function replicate(
  shape: string,
  folder: string,
  args: readonly string[],
  vars: (app: string) => NodeJS.ProcessEnv,
) {
  const subscriber = start(folder, ['subscribe', ...args, '--app', 'reader'], vars('reader'));
  let out = '';
  subscriber.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  subscriber.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => subscriber.on('exit', resolve));
  try {
    await eventually(
      async () => (out.includes('"msg":"consuming"') ? true : undefined),
      30_000,
      `reader to consume: ${out}`,
    );
    const sync = await promiscuous(
      folder,
      ['publish', ...args, '--app', 'blog', '--no-progress', 'Post'],
      vars('blog'),
    );
    assert.is(sync.code, 0, sync.stderr);
    const reader = knex({ client: 'pg', connection: pg, searchPath: [`${shape}_reader`] });
    try {
      const row = await eventually(() => reader('posts').where({ id: 1 }).first(), 20_000, `the row: ${out}`);
      assert.is(row.title, `hello from ${shape}`);
    } finally {
      await reader.destroy();
    }
  } finally {
    subscriber.kill('SIGTERM');
  }
  assert.is(await exited, 0, out);
}

/** Writes `files` into the project's folder `shape`, and generates there; resolves to the folder. */
async function generated(shape: string, files: Record<string, string>): Promise<string> {
  const folder = join(dir, shape);
  write(folder, files);
  const generate = await promiscuous(folder, ['generate'], process.env);
  assert.is(generate.code, 0, generate.stderr);
  return folder;
}

/** A package of `packageJson` with promiscuous.config.ts: generates, prepares and replicates. */
async function configShape(shape: string, packageJson: string): Promise<void> {
  const folder = await generated(shape, { 'package.json': packageJson, 'promiscuous.config.ts': config(shape) });
  await prepare(shape, folder, 'ts');
  const namespace = randomName('prom');
  await replicate(shape, folder, [], () => env(namespace));
}

test('an ES-module package with promiscuous.config.ts', () => configShape('esm', '{ "type": "module" }\n'));

test('a CommonJS package with promiscuous.config.ts', () => configShape('cjs', '{ "name": "cjs" }\n'));

test('.prom routes, the runtime settings from the environment, migrations run by the Knex CLI', async () => {
  const folder = await generated('prom', {
    'package.json': '{ "type": "module" }\n',
    'routes.prom': routes,
    'knexfile.js': knexfile('prom'),
    // blog's own migration, in a folder of its own: Knex sorts both folders by name, and its
    // name sorts before the generated ones, which expect its table.
    'migrations/20200101000000_posts.js':
      "export const up = (knex) => knex.schema.createTable('posts', (t) => { t.integer('id').primary(); t.text('title'); });\n" +
      "export const down = (knex) => knex.schema.dropTable('posts');\n",
  });
  for (const app of ['blog', 'reader']) {
    await (await schema('prom', app)).destroy();
    // The generated migrations are TypeScript: on Node 20, Knex imports them through tsx.
    const run = await command(folder, 'knex', ['migrate:latest', '--env', app], { NODE_OPTIONS: '--import tsx' });
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, /Batch 1 run: \d+ migrations/);
  }
  const blog = knex({ client: 'pg', connection: pg, searchPath: ['prom_blog'] });
  await blog('posts').insert({ id: 1, title: 'hello from prom' });
  await blog.destroy();
  const namespace = randomName('prom');
  const url = (app: string) => `${pgUrl}?options=${encodeURIComponent(`-c search_path=prom_${app}`)}`;
  await replicate('prom', folder, [], (app) => env(namespace, { PROMISCUOUS_DATABASE_URL: url(app) }));
});

/** A knexfile with an environment per app: blog's own migrations beside its generated ones. */
function knexfile(shape: string): string {
  const app = (name: string, directory: string) =>
    `  ${name}: { client: 'pg', connection: ${JSON.stringify(pg)}, searchPath: ['${shape}_${name}'], migrations: { directory: ${directory} } },`;
  return [
    'export default {',
    app('blog', "['migrations', 'generated/blog/migrations']"),
    app('reader', "'generated/reader/migrations'"),
    '};',
    '',
  ].join('\n');
}

test('a config that names .prom routes, without repeating them', async () => {
  const database = `(app) => ({ client: 'pg', connection: '${pgUrl}', searchPath: ['named_' + app] })`;
  const folder = await generated('named', {
    'package.json': '{ "type": "module" }\n',
    'routes.prom': routes,
    'promiscuous.config.ts': `import { defineConfig } from 'promiscuous';\n\nexport default defineConfig({ routes: './routes.prom', database: ${database} });\n`,
  });
  await prepare('named', folder, 'ts');
  const namespace = randomName('prom');
  await replicate('named', folder, [], () => env(namespace));
});

test('a production install runs compiled JavaScript, without the compiler or a TypeScript loader', async () => {
  // A copy of the project, pruned as a production install is, leaving the shared one whole.
  const production = `${dir}-production`;
  cpSync(dir, production, { recursive: true, verbatimSymlinks: true });
  const folder = join(production, 'compiled');
  write(folder, {
    'package.json': '{ "type": "module" }\n',
    'promiscuous.config.ts': config('compiled'),
    'tsconfig.json': JSON.stringify({
      compilerOptions: { module: 'NodeNext', target: 'ES2022', skipLibCheck: true, strict: true },
      include: ['promiscuous.config.ts', 'generated'],
    }),
  });
  const generate = await promiscuous(folder, ['generate'], process.env);
  assert.is(generate.code, 0, generate.stderr);
  await new Promise<void>((resolve, reject) =>
    execFile(join(production, 'node_modules/.bin/tsc'), ['-p', folder], (error, stdout) =>
      error ? reject(new Error(stdout)) : resolve(),
    ),
  );
  pruneDev(production);
  const left = installed(production).packages;
  for (const gone of ['promiscuous-compiler', 'typescript', 'ts-morph', 'chevrotain', 'tsx', 'esbuild']) {
    assert.not.ok(left.includes(gone), `${gone} is installed`);
  }
  assert.ok(existsSync(join(folder, 'generated/reader/subscriber.js')));
  const without = await promiscuous(folder, ['generate'], process.env);
  assert.is(without.code, 78, without.stderr);
  assert.match(without.stderr, 'npm install --save-dev promiscuous-compiler');
  const sqlite = await promiscuous(folder, ['subscribe', '--config', 'promiscuous.config.js', '--app', 'reader'], {
    ...env(randomName('prom')),
    PROMISCUOUS_DATABASE_URL: 'sqlite:reader.sqlite',
  });
  assert.is(sqlite.code, 78, sqlite.stderr);
  assert.match(sqlite.stderr, 'the database driver `better-sqlite3` is not installed: `npm install better-sqlite3`');
  await prepare('compiled', folder, 'js');
  const namespace = randomName('prom');
  await replicate('compiled', folder, ['--config', 'promiscuous.config.js'], () => env(namespace));
});

test.run();
