/**
 * The signature settings of the CLI: the config's `signatures`, overridden by the environment.
 * The private key is read from its file (or taken from `PROMISCUOUS_SIGNING_KEY`, for secret
 * stores that inject the environment) and never shown: an error names where it came from only.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { SettingError } from './errors.js';

/** The config's `signatures`. */
export interface SignatureConfig {
  /**
   * The file of this app's private key (PEM, as `promiscuous keys generate` writes it),
   * relative to the config, or a function of the app's name giving it; absent: nothing is
   * signed (`PROMISCUOUS_SIGNING_KEY_FILE`, `PROMISCUOUS_SIGNING_KEY`).
   */
  readonly keyFile?: string | ((app: string) => string | undefined);
  /** The public keys trusted, by app: `{ shop: ['<base64>'] }` (`PROMISCUOUS_TRUST`: `shop=<base64> billing=<base64>`). */
  readonly trust?: { readonly [app: string]: readonly string[] };
  /** Park unsigned messages (`PROMISCUOUS_REQUIRE_SIGNATURES`: `true` or `false`). */
  readonly require?: boolean;
}

/** What the runtime takes: the key's PEM text, the trust, whether signatures are required. */
export interface SignatureSettings {
  readonly key?: string;
  readonly trust?: { readonly [app: string]: readonly string[] };
  readonly require?: boolean;
}

/** The environment variables of the signature settings. */
export const signatureVariables = {
  key: 'PROMISCUOUS_SIGNING_KEY',
  keyFile: 'PROMISCUOUS_SIGNING_KEY_FILE',
  trust: 'PROMISCUOUS_TRUST',
  require: 'PROMISCUOUS_REQUIRE_SIGNATURES',
} as const;

/**
 * The signature settings of `app`, from the config (its files relative to `folder`) and the
 * environment, which overrides each; undefined when nothing is set.
 */
export function signatureSettings(
  config: SignatureConfig | undefined,
  app: string,
  folder: string,
  env: NodeJS.ProcessEnv = process.env,
): SignatureSettings | undefined {
  const set = (name: keyof typeof signatureVariables) => {
    const value = env[signatureVariables[name]];
    return value === undefined || value === '' ? undefined : value;
  };
  const fromEnv = set('key');
  const key = fromEnv ?? keyFromFile(set('keyFile'), signatureVariables.keyFile, folder, config, app);
  if (key !== undefined) checkKey(key, fromEnv === undefined ? 'the key file' : signatureVariables.key);
  const trustText = set('trust');
  const trust = trustText === undefined ? config?.trust : parseTrust(trustText);
  const requireText = set('require');
  const require = requireText === undefined ? config?.require : parseBoolean(requireText);
  if (key === undefined && trust === undefined && require === undefined) return undefined;
  return {
    ...(key === undefined ? {} : { key }),
    ...(trust === undefined ? {} : { trust }),
    ...(require === undefined ? {} : { require }),
  };
}

/** The key's PEM text from the file the environment or the config names, if one does. */
function keyFromFile(
  fromEnv: string | undefined,
  variable: string,
  folder: string,
  config: SignatureConfig | undefined,
  app: string,
): string | undefined {
  const configured = typeof config?.keyFile === 'function' ? config.keyFile(app) : config?.keyFile;
  const file =
    fromEnv ?? (configured === undefined ? undefined : isAbsolute(configured) ? configured : join(folder, configured));
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    // The key file's name is no secret; its content is never read into a message.
    const where = fromEnv === undefined ? '`signatures.keyFile`' : variable;
    throw new SettingError(
      `${where} names ${file}, which cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** Refuses a key that is no Ed25519 private key, naming where it came from and never quoting it. */
function checkKey(pem: string, where: string): void {
  let type: string | undefined;
  try {
    type = createPrivateKey(pem).asymmetricKeyType;
  } catch {
    type = undefined;
  }
  if (type !== 'ed25519') {
    throw new SettingError(
      `${where} is not an Ed25519 private key in PEM: make one with \`promiscuous keys generate\``,
    );
  }
}

/** `shop=<base64> billing=<base64>,<base64>` (spaces or commas between entries) as the trust. */
export function parseTrust(text: string): Record<string, string[]> {
  const trust: Record<string, string[]> = {};
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    const at = entry.indexOf('=');
    const app = entry.slice(0, Math.max(0, at));
    if (!/^[a-z][a-z0-9_]*$/.test(app) || at === entry.length - 1) {
      throw new SettingError(
        `${signatureVariables.trust} has an entry that is not \`<app>=<public key>\`: write \`shop=<key> billing=<key>\``,
      );
    }
    (trust[app] ??= []).push(entry.slice(at + 1));
  }
  return trust;
}

function parseBoolean(text: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new SettingError(`${signatureVariables.require} is \`${text}\`: use true or false`);
}
