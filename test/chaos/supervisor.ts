/**
 * Runs a child process (the publisher, a worker) and starts it again whenever it dies, the way
 * a process manager would. Its stdout and stderr go to `<dir>/<name>.log`; the `CHAOS {...}`
 * lines it writes (fault-points.ts) go to `onEvent`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command, FaultPoint, Report } from './fault-points.js';
import { derivedSeed } from './random.js';

export interface ChildEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface SupervisorOptions {
  readonly name: string;
  readonly file: URL;
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly seed: number;
  /** Delay before a dead process is started again. */
  readonly restartDelayMs: () => number;
  readonly onEvent: (event: ChildEvent, child: Supervisor) => void;
  /** Called when the process died other than by a SIGKILL: a crash. */
  readonly onCrash: (child: Supervisor, description: string) => void;
}

export class Supervisor {
  private child: ChildProcess | undefined;
  private readyNow = false;
  private stopping = false;
  private readonly waiters: ((report: Report) => void)[] = [];
  /** The fault point armed in the current incarnation, and since when. */
  armed: { point: FaultPoint; since: number } | undefined;
  incarnation = 0;
  /** Called each time an incarnation is ready (the orchestrator re-sends what it must know). */
  onReady: (() => void) | undefined;

  constructor(private readonly options: SupervisorOptions) {}

  get name(): string {
    return this.options.name;
  }

  get ready(): boolean {
    return this.readyNow;
  }

  start(): void {
    this.incarnation += 1;
    this.readyNow = false;
    this.armed = undefined;
    const log = join(this.options.dir, `${this.options.name}.log`);
    appendFileSync(log, `--- incarnation ${this.incarnation} at ${new Date().toISOString()}\n`);
    const child = fork(this.options.file, [], {
      execArgv: process.execArgv,
      env: {
        ...process.env,
        ...this.options.env,
        CHAOS_NAME: this.options.name,
        CHAOS_PROCESS_SEED: String(derivedSeed(this.options.seed, this.options.name, this.incarnation)),
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    const write = (line: string) => appendFileSync(log, `${new Date().toISOString().slice(11, 23)} ${line}\n`);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      write(line);
      if (line.startsWith('CHAOS ')) {
        try {
          this.options.onEvent(JSON.parse(line.slice(6)) as ChildEvent, this);
        } catch {
          // Not an event after all: it is in the log.
        }
      }
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      write(line);
      this.options.onEvent({ event: 'stderr', line }, this);
    });
    child.on('message', (report: Report) => {
      if (report.type === 'ready') {
        write('--- ready');
        this.readyNow = true;
        this.onReady?.();
      }
      for (const waiter of this.waiters.splice(0)) waiter(report);
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.readyNow = false;
      this.armed = undefined;
      write(`--- exited: ${signal ?? `code ${code}`}`);
      if (signal !== 'SIGKILL' && !this.stopping) {
        this.options.onCrash(this, signal ? `killed by ${signal}` : `exited with code ${code}`);
      }
      if (!this.stopping) setTimeout(() => this.stopping || this.start(), this.options.restartDelayMs());
    });
  }

  send(command: Command): void {
    if (this.child?.connected) this.child.send(command);
  }

  arm(point: FaultPoint, skip: number): void {
    this.armed = { point, since: Date.now() };
    this.send({ type: 'arm', point, skip });
  }

  disarm(): void {
    this.armed = undefined;
    this.send({ type: 'disarm' });
  }

  /** SIGKILL now, wherever the process is. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** The next report of a type, or undefined after the timeout (the process died, say). */
  next<T extends Report['type']>(type: T, timeoutMs: number): Promise<Extract<Report, { type: T }> | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      }, timeoutMs);
      const waiter = (report: Report): void => {
        if (report.type !== type) {
          this.waiters.push(waiter);
          return;
        }
        clearTimeout(timer);
        resolve(report as Extract<Report, { type: T }>);
      };
      this.waiters.push(waiter);
    });
  }

  async status(): Promise<Extract<Report, { type: 'status' }> | undefined> {
    if (!this.readyNow) return undefined;
    const reply = this.next('status', 2_000);
    this.send({ type: 'status' });
    return reply;
  }

  /** SIGTERM, and no more restarts; resolves once the process is gone. */
  async terminate(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  }
}
