/**
 * `npm run demo`: two example apps as separate processes, each with its own SQLite file,
 * replicating through the local RabbitMQ, with Redis coordinating sniper's workers. sniper
 * runs `promiscuous subscribe`; crowdtap creates, updates and destroys a few users; sniper
 * says "Hi Yoda!"; `promiscuous dashboard` shows both meanwhile. Exits 0 once every
 * change has arrived, and within a few seconds, saying how to start it, if RabbitMQ or Redis
 * is down.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import knex from 'knex';
import { connectTransport, runtimeSettings } from '../src/runtime/config.js';
import { RedisCoordinator } from '../src/runtime/index.js';
import { crowdtapTables, sniperTables } from './users/schema.js';

const root = join(new URL('.', import.meta.url).pathname, '..');
const dir = join(root, '.tmp', 'demo');
const namespace = 'promiscuous-demo';
const env = { ...process.env, PROMISCUOUS_SQLITE_DIR: dir, PROMISCUOUS_NAMESPACE: namespace };
const settings = runtimeSettings({}, env);

function run(name: string, args: string[]): { child: ChildProcess; output: string[]; exited: Promise<number> } {
  const child = spawn(process.execPath, [...process.execArgv, ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const show = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      output.push(line);
      console.log(`${name.padEnd(8)} | ${line}`);
    }
  };
  child.stdout?.on('data', show);
  child.stderr?.on('data', show);
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return { child, output, exited };
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function cleanBroker(): Promise<void> {
  const connection = await amqp.connect(settings.amqpUrl);
  const channel = await connection.createChannel();
  // sniper's queues, and those where crowdtap takes re-sync requests.
  for (const app of ['sniper', 'crowdtap.resync']) {
    for (const queue of [app, `${app}.parked`, ...Array.from({ length: 6 }, (_, i) => `${app}.retry.${i}`)]) {
      await channel.deleteQueue(`${namespace}.${queue}`);
    }
  }
  await channel.deleteExchange(namespace);
  await connection.close();
}

try {
  // Fails within a few seconds, naming the URL that failed and how to start the service.
  await (await connectTransport(settings)).close();
  await (await RedisCoordinator.connect(settings.redisUrl, namespace)).close();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
await cleanBroker();
for (const [app, tables] of [
  ['crowdtap', crowdtapTables],
  ['sniper', sniperTables],
] as const) {
  const db = knex({
    client: 'better-sqlite3',
    connection: { filename: join(dir, `${app}.sqlite`) },
    useNullAsDefault: true,
  });
  await tables(db);
  await db.destroy();
}

const config = 'examples/users/promiscuous.config.ts';
// Readable lines, though its output goes to a pipe.
const sniper = run('sniper', [
  'bin/promiscuous.js',
  'subscribe',
  '--config',
  config,
  '--app',
  'sniper',
  '--log-format',
  'pretty',
]);
// Port 0: any free one; it prints the page's address.
const dashboard = run('dashboard', ['bin/promiscuous.js', 'dashboard', '--config', config, '--port', '0']);
let code = 1;
try {
  await until(
    'sniper to subscribe',
    () => sniper.output.some((l) => l.includes('subscriber[sniper] consuming')),
    15_000,
  );
  await until('the dashboard to listen', () => dashboard.output.some((l) => l.startsWith('dashboard on ')), 15_000);
  const crowdtap = run('crowdtap', ['examples/users/crowdtap-demo.ts']);
  if ((await crowdtap.exited) !== 0) throw new Error('the crowdtap process failed');
  await until('every change to reach sniper', () => sniper.output.some((l) => l.startsWith('Bye ')), 15_000);
  sniper.child.kill('SIGTERM');
  if ((await sniper.exited) !== 0) throw new Error('sniper did not stop cleanly');
  const db = knex({
    client: 'better-sqlite3',
    connection: { filename: join(dir, 'sniper.sqlite') },
    useNullAsDefault: true,
  });
  console.log('\nsniper.members now holds:');
  console.table(await db('members').select('crowdtap_id', 'type', 'name', 'contact_email', 'points'));
  await db.destroy();
  if (!sniper.output.includes('Hi Yoda!')) throw new Error('sniper never said "Hi Yoda!"');
  code = 0;
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
} finally {
  sniper.child.kill('SIGTERM');
  dashboard.child.kill('SIGTERM');
  await dashboard.exited;
  await cleanBroker().catch(() => {});
}
process.exit(code);
