/**
 * A benchmark's run and report: cleaning up whatever happens, the figures printed and written
 * into their marked section of BENCHMARKS.md, the goals and what the run says of itself.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { table } from '../table.js';
import { cpuSample, loadTotals } from './cpu.js';
import { cleanup } from './databases.js';
import { fmt, isoNow, verdict } from './format.js';
import { srcContent } from './machine.js';
import { now, services } from './options.js';

/**
 * Writes `body` into BENCHMARKS.md between `<!-- name:start -->` and `<!-- name:end -->`,
 * keeping the rest of the file; appends the section when the markers are not there yet.
 */
function writeSection(name: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  let text = existsSync(services.out) ? readFileSync(services.out, 'utf8') : '# Benchmarks\n';
  const a = text.indexOf(start);
  const b = text.indexOf(end, a + start.length);
  if (a >= 0 && b >= 0) text = `${text.slice(0, a)}${section}${text.slice(b + end.length)}`;
  else text = `${text.replace(/\s*$/, '')}\n\n${section}\n`;
  mkdirSync(dirname(services.out), { recursive: true });
  writeFileSync(services.out, text);
}

/** A goal of a benchmark, and whether the run met it. */
export interface Goal {
  readonly what: string;
  readonly value: string;
  readonly goal: string;
  readonly ok: boolean;
}

/** A goal of one of a benchmark's numbered figures. */
export interface FigureGoal extends Goal {
  readonly figure: string;
}

/**
 * Runs a benchmark's body: on SIGINT cleans up and exits with 130; a failure is printed and
 * sets the exit status to 1; cleans up at the end.
 */
export async function runBenchmark(body: () => Promise<void>): Promise<void> {
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    console.log('\ninterrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  });
  try {
    await body();
  } catch (error) {
    if (!interrupted) console.error(`the benchmark failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  } finally {
    if (!interrupted) await cleanup();
  }
}

/** What a run says of itself at its end. */
export interface RunInfo {
  readonly seconds: number;
  readonly date: string;
  /** Cores kept busy, on average, by processes other than the benchmark's and its services' (undefined without /proc). */
  readonly otherCores: number | undefined;
  /** Whether src/ changed while the benchmark ran (others edit the working tree). */
  readonly srcChanged: boolean;
}

/** Starts watching a run; the function returned tells what it says of itself so far. */
export function watchRun(): () => RunInfo {
  const started = now();
  const proc = cpuSample() !== undefined;
  const src = srcContent();
  return () => ({
    seconds: (now() - started) / 1000,
    date: isoNow(),
    otherCores: proc ? loadTotals.other / Math.max(1, loadTotals.wall) : undefined,
    srcChanged: srcContent() !== src,
  });
}

/**
 * Prints the figures, writes them into BENCHMARKS.md as the section `name` under `## heading`,
 * and prints how many goals the run met (and, given, how long it waited for a quiet machine).
 */
export function report(
  name: string,
  heading: string,
  render: (markdown: boolean) => string,
  goals: readonly Goal[],
  seconds: number,
  waitedSeconds = 0,
): void {
  console.log(render(false));
  writeSection(name, `## ${heading}\n\n${render(true)}`);
  const waited = waitedSeconds > 0.5 ? ` (and ${fmt(waitedSeconds)} s waiting for a quiet machine)` : '';
  console.log(
    `\n${goals.filter((g) => g.ok).length} of ${goals.length} goals met; ${fmt(seconds)} s${waited}; written to ${services.out}`,
  );
}

/** A report's text, for the terminal or in Markdown. */
export class Text {
  private readonly lines: string[] = [];

  constructor(readonly markdown: boolean) {}

  push(...lines: string[]): void {
    this.lines.push(...lines);
  }

  heading(text: string): void {
    this.lines.push(this.markdown ? `\n### ${text}\n` : `\n${text}\n`);
  }

  table(rows: readonly (readonly string[])[]): void {
    this.lines.push(table(rows, this.markdown));
  }

  /** The goals under their heading; with their figure's number when they have one. */
  goals(goals: readonly Goal[] | readonly FigureGoal[], numbered: boolean): void {
    this.heading('Goals');
    const row = (g: Goal | FigureGoal): string[] => [g.what, g.value, g.goal, verdict(g.ok)];
    this.table(
      numbered
        ? [
            ['figure', 'measure', 'value', 'goal', 'result'],
            ...(goals as readonly FigureGoal[]).map((g) => [g.figure, ...row(g)]),
          ]
        : [['measure', 'value', 'goal', 'result'], ...goals.map(row)],
    );
  }

  warnings(warnings: readonly string[]): void {
    if (warnings.length > 0) this.lines.push('', ...warnings.map((w) => `${this.markdown ? '- ' : ''}warning: ${w}`));
  }

  toString(): string {
    return this.lines.join('\n');
  }
}

/** The section's line about other processes' load, `during` the figures. */
export function otherLoadLine(otherCores: number, cores: number, during: string): string {
  return `- Other processes on the machine kept ${fmt(otherCores, 2)} of its ${cores} cores busy on average ${during}${otherCores > 0.2 ? ' (**the figures are disturbed by that load**)' : ''}`;
}

export const srcChangedLines = (changed: boolean): string[] =>
  changed ? ['- **src/ changed while the benchmark ran**: the figures mix two versions of the code.'] : [];

/** The sentence that follows `otherLoadLine` where each figure has an "other load" column. */
export const perFigureLoad = '; the column "other load" gives it for each figure.';
