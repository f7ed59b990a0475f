/**
 * A child process that does one thing and ends: `script --child <args>` in a fresh node with this
 * one's loader flags, its last line of output read as JSON. The one-shot side of the scaffold in
 * processes.ts, for bench/compile.ts, whose children measure their own peak memory: like
 * bench/table.ts, it loads nothing else.
 */
import { execFileSync } from 'node:child_process';

export function runOnce<T>(script: string, args: readonly string[]): T {
  const out = execFileSync(process.execPath, [...process.execArgv, script, '--child', ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as T;
}
