/** The machine a benchmark ran on, the versions of what it used, and the code it measured. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { admin, connect } from './databases.js';
import { type Dialect, root, services } from './options.js';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memory: string;
  readonly os: string;
  readonly node: string;
  readonly versions: Record<string, string>;
  readonly commit: string;
}

export async function machine(
  used: ReadonlySet<Dialect>,
  options: { sqliteJournal?: 'wal' | 'delete' } = {},
): Promise<Machine> {
  const versions: Record<string, string> = {};
  if (used.has('sqlite')) {
    const k = connect({ dialect: 'sqlite' }, options);
    const [row] = (await k.raw('select sqlite_version() as v')) as [{ v: string }];
    const journal = options.sqliteJournal === 'delete' ? 'DELETE, synchronous=FULL' : 'WAL, synchronous=NORMAL';
    versions.SQLite = `${row.v} (better-sqlite3 ${pkg('better-sqlite3')}, journal ${journal})`;
    await k.destroy();
  }
  if (used.has('postgres')) {
    versions.PostgreSQL = await postgresVersion();
  }
  if (used.has('mariadb')) {
    await admin(async (k) => {
      const [rows] = (await k.raw('select version() as v')) as [{ v: string }[]];
      versions.MariaDB = `${rows[0]?.v} (mysql2 ${pkg('mysql2')})`;
    }, 'mariadb');
  }
  versions.RabbitMQ = await rabbitVersion();
  versions.knex = pkg('knex');
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const state = srcState();
    if (state) commit += ` (src/ modified: diff ${state})`;
  } catch {}
  return describeMachine(versions, commit);
}

/** PostgreSQL's version and its synchronous_commit. */
async function postgresVersion(): Promise<string> {
  let version = '';
  await admin(async (k) => {
    const { rows } = (await k.raw('show server_version')) as { rows: { server_version: string }[] };
    const { rows: sync } = (await k.raw('show synchronous_commit')) as { rows: { synchronous_commit: string }[] };
    version = `${rows[0]?.server_version} (pg ${pkg('pg')}, synchronous_commit=${sync[0]?.synchronous_commit})`;
  });
  return version;
}

/** The broker's version, as it announces it. */
async function rabbitVersion(): Promise<string> {
  const connection = await amqp.connect(services.amqpUrl);
  const server = (connection as unknown as { connection: { serverProperties?: Record<string, unknown> } }).connection
    .serverProperties;
  await connection.close();
  return `${String(server?.version ?? '?')} (amqplib ${pkg('amqplib')})`;
}

/** This machine, with the versions of what the benchmark uses and the commit it measured. */
function describeMachine(versions: Record<string, string>, commit: string): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    versions,
    commit,
  };
}

/**
 * A short hash of the working tree's changes to src/ against HEAD (tracked and untracked
 * files), or '' when there are none: which code a figure measured, while others edit it.
 */
function srcState(): string {
  try {
    const diff = execFileSync('git', ['diff', 'HEAD', '--', 'src'], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const untracked = execFileSync('git', ['ls-files', '--others', '--exclude-standard', '--', 'src'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    if (!diff && untracked.length === 0) return '';
    const h = createHash('sha1').update(diff);
    for (const file of untracked.sort()) h.update(file).update(readFileSync(join(root, file)));
    return h.digest('hex').slice(0, 8);
  } catch {
    return '';
  }
}

/** A hash of every file under src/ as it is on disk: whether the code changed during a run (a commit alone does not). */
export function srcContent(): string {
  const h = createHash('sha1');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else h.update(path).update(readFileSync(path));
    }
  };
  walk(join(root, 'src'));
  return h.digest('hex');
}

/** The installed version of a package. */
function pkg(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return '?';
  }
}

/** The machine as a benchmark's section lists it; `beforeNodeEnv`: lines of its own before the last. */
export function machineLines(m: Machine, beforeNodeEnv: readonly string[] = []): string[] {
  return [
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memory} memory; ${m.os}; Node ${m.node}`,
    ...Object.entries(m.versions).map(([k, v]) => `- ${k} ${v}`),
    `- Everything on this one machine: the databases, RabbitMQ, the publisher and the subscriber processes.`,
    ...beforeNodeEnv,
    `- Publisher and subscriber processes run with NODE_ENV=${services.nodeEnv}.`,
  ];
}

/** The machine in the lines a benchmark starts with: `<cpu>, <cores> cores, <memory>, Node <version>` and the versions. */
export function machineBanner(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memory}, Node ${m.node}\n${Object.entries(m.versions)
    .map(([k, v]) => `  ${k} ${v}`)
    .join('\n')}\n`;
}
