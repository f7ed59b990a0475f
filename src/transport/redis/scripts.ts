/**
 * The Lua scripts of lua/ (one a file, named after its command), registered on a connection,
 * and what their negative replies mean.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** What a negative script reply means; one enum for every script. */
export enum ScriptCode {
  HeldByAnother = -1,
}

/** The Lua scripts, as ioredis defines them: the key count first, then the keys, then the arguments. */
export interface Scripts {
  lockAll(count: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  unlockAll(count: number, ...keysAndArgs: (string | number)[]): Promise<number>;
}

/** Registers the scripts on a connection, once; ioredis loads them with EVALSHA and falls back to EVAL. */
export function defineScripts(client: Redis): Redis & Scripts {
  client.defineCommand('lockAll', { lua: script('lock-all') });
  client.defineCommand('unlockAll', { lua: script('unlock-all') });
  return client as Redis & Scripts;
}

function script(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
}
