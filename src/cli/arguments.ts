/**
 * Parsers of option values: a wrong value stops the command line before anything runs, with
 * commander's message naming the option (exit code 64).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';

/** A whole number of at least `min`. */
export function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(`a whole number of at least ${min} is expected`);
    }
    return n;
  };
}

/** A TCP port: 0 (any free one) to 65535. */
export function port(value: string): number {
  const n = wholeNumber(0)(value);
  if (n > 65_535) throw new InvalidArgumentError('a port is at most 65535');
  return n;
}

/** A process's share of the rows: integer key modulo `count` equals `index`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** `i/n`, with 0 <= i < n. */
export function shard(value: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new InvalidArgumentError('i/n with 0 <= i < n is expected');
  return { index, count };
}

/** This package's version, from the package.json above this module (in src/ or dist/). */
export function packageVersion(): string {
  for (let url = new URL('../', import.meta.url); url.pathname !== '/'; url = new URL('../', url)) {
    try {
      const manifest = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'promiscuous' && manifest.version) return manifest.version;
    } catch {
      // Not here: look one folder up.
    }
  }
  return 'unknown';
}
