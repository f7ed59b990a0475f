import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { display } from '../common/config-file.js';
import { generateKeyPair } from '../runtime/signatures/keys.js';
import { exitCodes } from './exit-codes.js';
import type { Output } from './output.js';

export interface KeysGenerateOptions {
  readonly app: string;
  /** The private key's file (default `<app>.key`). */
  readonly out?: string;
}

/**
 * `promiscuous keys generate --app <app>`: writes a new Ed25519 private key, readable by its
 * owner alone, and prints the public half with its key id, as the apps that trust it write it.
 * It never overwrites a file: a key in use is rotated by adding a new one beside it.
 */
export function keysGenerate(options: KeysGenerateOptions, output: Output): number {
  if (!/^[a-z][a-z0-9_]*$/.test(options.app)) {
    output.error(`\`${options.app}\` is not an app name: lower-case letters, digits and _`);
    return exitCodes.usage;
  }
  const file = options.out ?? `${options.app}.key`;
  const { privatePem, publicText, keyId } = generateKeyPair();
  try {
    mkdirSync(dirname(file), { recursive: true });
    // `wx`: never over a key that may be in use; 0600: the owner alone reads it.
    writeFileSync(file, privatePem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'it exists (keys are never overwritten: pass --out <file>)' : code;
    output.error(`cannot write ${display(file)}: ${why ?? (error as Error).message}`);
    return exitCodes.failure;
  }
  const { app } = options;
  output.info(`wrote ${display(file)}: ${app}'s private key (mode 0600), key id ${keyId}`);
  output.info(`sign with it: signatures.keyFile in the config, or PROMISCUOUS_SIGNING_KEY_FILE=${display(file)}`);
  output.info(`trust it where messages from ${app} arrive:`);
  output.info(`  signatures: { trust: { ${app}: ['${publicText}'] } }`);
  output.info(`  PROMISCUOUS_TRUST='${app}=${publicText}'`);
  return exitCodes.ok;
}
