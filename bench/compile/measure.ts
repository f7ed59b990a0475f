/**
 * One measurement, in a fresh child process of its own: `compile`, then `emitWorkspace` on its
 * result, with the kernel's peak RSS read after each.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import type { CompileOutput, CompilerHost } from '../../src/compiler/index.js';
import { routes } from './routes.js';

/**
 * The compiler under test: src/ through tsx by default, or the tsc build with `--dist` (what the
 * CLI runs; tsx's esbuild wraps every nested function in a `__name` call, which costs a little).
 */
export const dist = process.argv.includes('--dist');
const compiler: typeof import('../../src/compiler/index.js') = dist
  ? await import(new URL('../../dist/src/compiler/index.js', import.meta.url).href)
  : await import('../../src/compiler/index.js');
const { compile, emitWorkspace, hasErrors, renderCompact } = compiler;

/**
 * One run: `compile`, then `emitWorkspace` on its result. The kernel's peak RSS is read after
 * each, so that one fresh process gives the clean peak of both stages.
 */
export interface Sample {
  readonly models: number;
  readonly compileMs: number;
  readonly emitMs: number;
  /** RSS before the work (node, tsx and the compiler loaded), and the peak after each stage. */
  readonly baseRss: number;
  readonly compilePeakRss: number;
  readonly generatePeakRss: number;
  /** Heap in use after each stage, with its output still referenced. */
  readonly compileHeap: number;
  readonly generateHeap: number;
  readonly files: number;
  readonly bytes: number;
  /** Emit time of each app alone (only with --apps): publisher or subscriber, size, ms. */
  readonly apps?: readonly { readonly kind: string; readonly size: number; readonly ms: number }[];
}

function memoryHost(path: string, text: string): CompilerHost {
  return { readFile: (p) => (p === path ? text : undefined), resolvePath: (_from, specifier) => specifier };
}

const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

/** The CPU profiler, on only while compile and emit run (not while node and tsx start). */
function profiler(): { start(): void; stop(path: string): void } {
  const session = new Session();
  session.connect();
  // An in-process session answers synchronously.
  const post = (method: string, params?: object): unknown => {
    let result: unknown;
    session.post(method, params, (error, value) => {
      if (error) throw error;
      result = value;
    });
    return result;
  };
  return {
    start() {
      post('Profiler.enable');
      post('Profiler.setSamplingInterval', { interval: 500 });
      post('Profiler.start');
    },
    stop(path) {
      const { profile } = post('Profiler.stop') as { profile: unknown };
      writeFileSync(path, JSON.stringify(profile));
    },
  };
}

export function measure(models: number, perApp: boolean, profilePath?: string): Sample {
  const { text } = routes(models);
  const host = memoryHost('routes.prom', text);
  const cpu = profilePath ? profiler() : undefined;
  const baseRss = process.memoryUsage().rss;
  cpu?.start();
  const t0 = performance.now();
  const output: CompileOutput = compile({ prom: ['routes.prom'] }, host);
  const t1 = performance.now();
  const compilePeakRss = peakRss();
  const compileHeap = process.memoryUsage().heapUsed;
  const workspace = output.workspace;
  if (!workspace || hasErrors(output.diagnostics)) {
    const shown = output.diagnostics.slice(0, 10).map(renderCompact).join('\n');
    throw new Error(`the generated routes for ${models} models do not compile:\n${shown}`);
  }
  const t2 = performance.now();
  const files = emitWorkspace(workspace);
  const t3 = performance.now();
  if (profilePath) cpu?.stop(profilePath);
  const sample: Sample = {
    models,
    compileMs: t1 - t0,
    emitMs: t3 - t2,
    baseRss,
    compilePeakRss,
    generatePeakRss: peakRss(),
    compileHeap,
    generateHeap: process.memoryUsage().heapUsed,
    files: files.length,
    bytes: files.reduce((n, f) => n + f.content.length, 0),
  };
  if (!perApp) return sample;
  // Each app alone (emitWorkspace reads nothing across apps): is emit linear in an app's size?
  const apps = workspace.apps.map((app) => {
    const started = performance.now();
    emitWorkspace({ apps: [app] });
    const publishes = app.publications.length + app.ephemerals.length;
    const subscribes = app.subscriptions.length + app.observers.length;
    return {
      kind: publishes > 0 ? 'publisher' : 'subscriber',
      size: publishes > 0 ? publishes : subscribes,
      ms: performance.now() - started,
    };
  });
  return { ...sample, apps };
}
