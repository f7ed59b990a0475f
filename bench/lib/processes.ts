/**
 * The child-process scaffold of the replication, causal and sync harnesses (bench/compile.ts,
 * whose children measure their own memory, runs one-shot children through one-shot.ts). The
 * coordinator forks its own script with `--child <label>` once per role (a publisher, a
 * subscriber, a syncer...), as services would run; each child serves one role and answers the
 * coordinator's commands over IPC. The coordinator only drives them and accounts for the CPU
 * every process spends.
 *
 * Protocol: `init` (its argument names the role and says where its database and namespace
 * are), then any of the role's commands, then `close`. A reply carries the command's result or
 * the error's stack.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { cpuSample, cpuSpent, serviceOf } from './cpu.js';
import { services } from './options.js';

interface Request {
  readonly id: number;
  readonly cmd: string;
  readonly args?: unknown;
}

interface Reply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: string;
}

/** A role of a child process: the commands the coordinator may send it, by name. */
export interface Role {
  readonly commands: Readonly<Record<string, (args: never) => unknown>>;
  close(): Promise<void>;
}

/** The child side: `init` makes the role its `role` names, `close` ends it, anything else is a command of the role. */
export function serveRoles<Init extends { readonly role: string }>(
  roles: Readonly<Record<Init['role'], (init: never) => Promise<Role>>>,
): void {
  let role: Role | undefined;
  const send = (reply: Reply): void => void process.send?.(reply);
  const handle = async (request: Request): Promise<unknown> => {
    if (request.cmd === 'init') {
      const init = request.args as Init;
      const make = roles[init.role as Init['role']];
      if (!make) throw new Error(`unknown role ${init.role}`);
      role = await make(init as never);
      return null;
    }
    if (request.cmd === 'close') {
      await role?.close();
      return null;
    }
    if (!role) throw new Error('not initialised');
    const command = role.commands[request.cmd];
    if (!command) throw new Error(`unknown command ${request.cmd}`);
    return command(request.args as never);
  };
  process.on('message', async (request: Request) => {
    try {
      send({ id: request.id, result: await handle(request) });
      if (request.cmd === 'close') process.disconnect();
    } catch (error) {
      send({ id: request.id, error: (error as Error).stack ?? String(error) });
    }
  });
}

export interface WorkerOptions {
  /** Where `--cpu-prof` writes a CPU profile of the child; none without it. */
  readonly profileDir?: string | undefined;
  /** The profile's file name (default `<label>.cpuprofile`). */
  readonly profileName?: (label: string) => string;
  /** How long `close` waits before it kills the child (default 30 s). */
  readonly killAfterMs?: number;
}

/** The coordinator's handle on a child process running `script --child <label>`. */
export class Worker {
  private readonly proc: ChildProcess;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  constructor(
    script: string,
    readonly label: string,
    private readonly options: WorkerOptions = {},
  ) {
    const profile = options.profileDir
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${options.profileDir}`,
          `--cpu-prof-name=${options.profileName?.(label) ?? `${label}.cpuprofile`}`,
        ]
      : [];
    this.proc = fork(script, ['--child', label], {
      execArgv: [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof')), ...profile],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NODE_ENV: services.nodeEnv },
    });
    this.proc.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.error !== undefined) waiter.reject(new Error(`${label}: ${reply.error}`));
      else waiter.resolve(reply.result);
    });
    this.proc.on('exit', (code) => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${label} exited with ${code}`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  call<T>(cmd: string, args?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label} has exited`));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, cmd, args } satisfies Request);
    });
  }

  /** Closes the role and waits for the process to end; ends this one process (by its id) if it hangs. */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    const timer = setTimeout(() => {
      if (!this.exited && this.proc.pid !== undefined) process.kill(this.proc.pid, 'SIGKILL');
    }, this.options.killAfterMs ?? 30_000);
    await this.call('close').catch(() => {});
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The child processes of one measurement, each under the name its CPU is accounted to, and the
 * CPU they, the services and every other process spent.
 */
export class Processes {
  private readonly workers: { readonly worker: Worker; readonly name: string }[] = [];

  /** `service`: the services' processes by their command name (default `serviceOf`). */
  constructor(
    private readonly script: string,
    private readonly options: WorkerOptions & { readonly service?: (comm: string) => string | undefined } = {},
  ) {}

  /** Forks `script --child <label>`, its CPU accounted to `name`, and initialises its role. */
  async start<Init extends { readonly role: string }>(label: string, name: string, init: Init): Promise<Worker> {
    const worker = this.spawn(label, name);
    await worker.call('init', init);
    return worker;
  }

  private spawn(label: string, name: string): Worker {
    const worker = new Worker(this.script, label, this.options);
    this.workers.push({ worker, name });
    return worker;
  }

  /** Starts counting; the function returned gives the CPU milliseconds by consumer since then. */
  cpu(): () => Record<string, number> {
    const mine = new Map(this.workers.map(({ worker, name }) => [worker.pid, name]));
    const before = cpuSample();
    return () => cpuSpent(before, cpuSample(), mine, this.options.service ?? serviceOf);
  }

  /** Closes the processes, the last started first: a publisher before the subscriber it feeds. */
  async close(): Promise<void> {
    for (const { worker } of this.workers.splice(0).reverse()) await worker.close();
  }
}
