/**
 * Cold start and install size, as a user gets the packages: built, packed, installed from the
 * tarballs into a new project. Each command runs as a whole process, timed from spawn:
 *
 *   --help                      until it exits
 *   generate                    the users example's routes, until it exits
 *   subscribe                   until it consumes (its JSON record "consuming"), with the services up
 *   node -e 0                   the baseline: a bare Node process on this machine, in this run
 *
 * then the production install (`npm prune --omit=dev`): its packages and bytes.
 *
 *   npm run bench:cold-start [-- --runs 10]
 */
import { spawn } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import knex, { type Knex } from 'knex';
import { installed, pack, project, pruneDev } from '../test/helpers/packed.js';
import { sniperTables } from '../examples/users/schema.js';
import { fmt, type Goal, report, runBenchmark, Text, watchRun } from './lib/index.js';

const at = process.argv.indexOf('--runs');
const runs = at === -1 ? 10 : Number(process.argv[at + 1]);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number of runs, 1 or more');
const pg = { host: '127.0.0.1', user: 'postgres', database: 'test' };
const schema = `cold_start_${process.pid}`;

/** Milliseconds from spawn until the process exits, or until `until` matches its output. */
function timed(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, until?: string) {
  return new Promise<number>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, [...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = (chunk: Buffer) => {
      out += chunk.toString();
      if (until && out.includes(until)) {
        resolve(performance.now() - started);
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => {
      if (!until && code === 0) resolve(performance.now() - started);
      else if (!until || !out.includes(until)) reject(new Error(`${args.join(' ')} exited ${code}: ${out}`));
    });
  });
}

async function median(measure: () => Promise<number>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await measure());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

interface Figures {
  node: number;
  help: number;
  generate: number;
  subscribe: number;
  helpProduction: number;
  development: { packages: number; bytes: number };
  production: { packages: number; bytes: number };
}

async function measureAll(dir: string, admin: Knex): Promise<Figures> {
  const bin = join(dir, 'node_modules/.bin/promiscuous');
  const env = {
    ...process.env,
    PROMISCUOUS_NAMESPACE: schema,
    PROMISCUOUS_QUEUE_EXPIRES_MS: '60000',
    PROMISCUOUS_DATABASE_URL: `postgres://postgres@127.0.0.1:5432/test?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
  };
  copyFileSync(new URL('../examples/users/routes.prom', import.meta.url), join(dir, 'routes.prom'));
  const node = await median(() => timed(process.execPath, ['-e', '0'], dir, env));
  const help = await median(() => timed(bin, ['--help'], dir, env));
  const generate = await median(() => timed(bin, ['generate'], dir, env));
  await admin.raw('CREATE SCHEMA ??', [schema]);
  const db = knex({ client: 'pg', connection: pg, searchPath: [schema] });
  try {
    // sniper's tables and its migration: `subscribe` checks them before it consumes.
    await sniperTables(db);
  } finally {
    await db.destroy();
  }
  const subscribe = await median(() => timed(bin, ['subscribe', '--app', 'sniper'], dir, env, '"msg":"consuming"'));
  const development = installed(dir);
  pruneDev(dir);
  const production = installed(dir);
  const helpProduction = await median(() => timed(bin, ['--help'], dir, env));
  const count = (i: { packages: string[]; bytes: number }) => ({ packages: i.packages.length, bytes: i.bytes });
  return {
    node,
    help,
    generate,
    subscribe,
    helpProduction,
    development: count(development),
    production: count(production),
  };
}

function render(f: Figures, seconds: number, markdown: boolean): string {
  const text = new Text(markdown);
  const ms = (v: number) => `${fmt(v)} ms`;
  const ratio = (v: number) => fmt(v / f.node, 1);
  const over = (v: number) => ms(v - f.node);
  text.push(
    `\`npm run bench:cold-start\`: both packages packed from this checkout and installed into a new project; each process timed from spawn, median of ${runs} runs, in ${fmt(seconds)} s. \`generate\` and \`subscribe\` load the TypeScript routes and generated code through tsx, as in development.`,
    '',
  );
  text.table([
    ['process', 'time', 'over node -e 0', '× node -e 0'],
    ['node -e 0 (baseline)', ms(f.node), '', '1.0'],
    ['promiscuous --help', ms(f.help), over(f.help), ratio(f.help)],
    ['promiscuous --help, production install', ms(f.helpProduction), over(f.helpProduction), ratio(f.helpProduction)],
    ['promiscuous generate (users example)', ms(f.generate), over(f.generate), ratio(f.generate)],
    ['promiscuous subscribe, until consuming', ms(f.subscribe), over(f.subscribe), ratio(f.subscribe)],
  ]);
  const mb = (bytes: number) => `${fmt(bytes / 1e6, 1)} MB`;
  text.heading('Install');
  text.table([
    ['install', 'packages', 'size'],
    [
      'development (promiscuous, promiscuous-compiler, pg, tsx, typescript)',
      String(f.development.packages),
      mb(f.development.bytes),
    ],
    ['production (promiscuous, pg)', String(f.production.packages), mb(f.production.bytes)],
  ]);
  text.goals(goals(f), false);
  return text.toString();
}

/**
 * The goals (`--help` within 0.3 s, consuming within 1.5 s) as time over a bare Node start
 * measured in the same run, taken as 60 ms on a quiet machine: the machine is shared and noisy.
 */
function goals(f: Figures): Goal[] {
  const over = (v: number) => `${fmt(v - f.node)} ms`;
  return [
    { what: '--help, over node -e 0', value: over(f.help), goal: '< 240 ms', ok: f.help - f.node < 240 },
    {
      what: 'subscribe consuming, over node -e 0',
      value: over(f.subscribe),
      goal: '< 1,440 ms',
      ok: f.subscribe - f.node < 1440,
    },
  ];
}

const run = watchRun();
await runBenchmark(async () => {
  console.log(`cold-start benchmark: packing and installing (${runs} runs of each process)`);
  const tarballs = pack();
  const dir = project(tarballs, { pg: '8.23.1' }, { tsx: '4.23.15', typescript: '5.9.3' });
  const admin = knex({ client: 'pg', connection: pg });
  try {
    const figures = await measureAll(dir, admin);
    const seconds = run().seconds;
    report(
      'cold-start',
      'Cold start and install size',
      (markdown) => render(figures, seconds, markdown),
      goals(figures),
      seconds,
    );
  } finally {
    await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    await admin.destroy();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirname(tarballs.runtime), { recursive: true, force: true });
  }
});
