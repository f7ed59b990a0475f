/**
 * Verifying what an app receives against the public keys it trusts, per sending app. A message
 * is checked in two steps: its signature against its exact body (before the body is even
 * parsed: its path to a signed root, see merkle.ts), then the signing key's app against what the message says: the app it claims to
 * come from, and the owner of every endpoint it writes.
 */
import { type KeyObject, verify } from 'node:crypto';
import { SettingError } from '../../common/errors.js';
import { keyId, type PrivateKeyInput, type PublicKeyInput, publicKey } from './keys.js';
import { leafHash, merkleClimb, signedBytes } from './merkle.js';

/** Signature checks remembered, by signature and root: the messages of a chunk that arrive together cost one. */
const rememberedChecks = 4_096;
/** Hashes of signed trees remembered (about 40 bytes each, with their key's id). */
const rememberedHashes = 100_000;

/** Why a message fails verification: the label of the metric, and the start of its parked reason. */
export type SignatureFailure = 'unsigned' | 'unknown-key' | 'tampered' | 'not-owner';

/** Signing and verification, as the publisher's and the subscriber's options take them. */
export interface SignatureOptions {
  /**
   * This app's Ed25519 private key (PEM text or a KeyObject): everything the app publishes is
   * signed with it. Without it, the app publishes unsigned messages.
   */
  readonly key?: PrivateKeyInput;
  /**
   * The public keys this app trusts, by the app they belong to: `{ shop: ['<base64>', ...] }`.
   * With it, signed messages are verified; several keys of an app may be trusted at once.
   */
  readonly trust?: Readonly<Record<string, readonly PublicKeyInput[]>>;
  /** Park unsigned messages too (default false: they are accepted, for a rolling introduction). Needs `trust`. */
  readonly require?: boolean;
}

/** The outcome of the first step: the app whose key signed the body (undefined: unsigned, and accepted), or why it fails. */
export type Checked =
  { readonly signer: string | undefined } | { readonly failure: SignatureFailure; readonly reason: string };

/** A trusted key, and the app it belongs to. */
interface Trusted {
  readonly app: string;
  readonly id: string;
  readonly key: KeyObject;
}

export class Verifier {
  private readonly keys = new Map<string, Trusted>();
  /** Whether a chunk's signature matched its root, by `<key id>.<signature>.<count>.<root>`: in flight or done. */
  private readonly checks = new Map<string, Promise<boolean>>();
  /**
   * The hashes of trees whose root a trusted key signed (as latin1 text), with the key's id: a
   * message whose path meets one is part of that tree, and needs no further hash or check.
   */
  private readonly signedHashes = new Map<string, string>();
  /**
   * Root checks in flight, by signature: the other messages of the chunk wait for it before
   * they climb, to stop at the hashes it makes known. A hint only: what a check decides is
   * bound to its root (see `checks`).
   */
  private readonly pending = new Map<string, Promise<boolean>>();
  readonly required: boolean;

  constructor(options: Pick<SignatureOptions, 'trust' | 'require'>) {
    this.required = options.require ?? false;
    for (const [app, keys] of Object.entries(options.trust ?? {})) {
      for (const [i, input] of keys.entries()) {
        const key = publicKey(input, `trusted key ${i + 1} of ${app}`);
        const id = keyId(key);
        const known = this.keys.get(id);
        if (known && known.app !== app) throw new SettingError(`key ${id} is trusted for both ${known.app} and ${app}`);
        this.keys.set(id, { app, id, key });
      }
    }
    if (this.required && this.keys.size === 0) {
      throw new SettingError(
        'signatures are required, but no key is trusted: give `trust` the public keys of the apps it hears from',
      );
    }
  }

  /** A verifier for the options, or none when they trust no key (signatures are then not checked). */
  static of(options: SignatureOptions | undefined): Verifier | undefined {
    return options?.trust === undefined && !options?.require ? undefined : new Verifier(options);
  }

  /** Whether `app` has a trusted key: the apps a metric may name (any other claimed app is `unknown`). */
  trusts(app: string): boolean {
    for (const trusted of this.keys.values()) if (trusted.app === app) return true;
    return false;
  }

  /**
   * Checks a body's signature (see `Signer`): its path leads to a root that the key signed.
   * A body whose leaf, or a node on its way up, is part of a tree already checked is known at
   * once: most messages of a chunk cost a hash or two.
   */
  async check(body: Buffer, signature: string | undefined): Promise<Checked> {
    if (signature === undefined) {
      return this.required
        ? { failure: 'unsigned', reason: 'unsigned: not signed, and signatures are required' }
        : { signer: undefined };
    }
    const id = signature.slice(0, Math.max(0, signature.indexOf('.')));
    const trusted = this.keys.get(id);
    if (!trusted)
      return { failure: 'unknown-key', reason: `unknown key: signed with key ${id || '?'}, which is not trusted` };
    const ok = { signer: trusted.app };
    const leaf = leafHash(body);
    if (this.isSigned(leaf, id)) return ok;
    const [, signed = '', count = '', index = '', path = '', ...rest] = signature.split('.');
    // Awaited only when there is one: an await of nothing would let every message of a frame
    // climb before the first one's check is in flight.
    const pending = this.pending.get(signed);
    if (pending) await pending;
    const climbed =
      rest.length === 0
        ? merkleClimb(leaf, Number(index), Number(count), Buffer.from(path, 'base64'), (hash) =>
            this.isSigned(hash, id),
          )
        : undefined;
    if (
      climbed &&
      (climbed.root === undefined || (await this.signedRoot(trusted, signed, Number(count), climbed.root)))
    ) {
      this.remember(climbed.met, id);
      return ok;
    }
    return {
      failure: 'tampered',
      reason: `tampered: the signature of ${trusted.app}'s key ${id} does not match the body`,
    };
  }

  private isSigned(hash: Buffer, id: string): boolean {
    return this.signedHashes.get(hash.toString('latin1')) === id;
  }

  /** Remembers hashes known to be part of a tree that key `id` signed. */
  private remember(hashes: readonly Buffer[], id: string): void {
    if (this.signedHashes.size + hashes.length > rememberedHashes) this.signedHashes.clear();
    for (const hash of hashes) this.signedHashes.set(hash.toString('latin1'), id);
  }

  /** Whether the key signed this root of `count` messages, checked once for all the messages of a chunk. */
  private signedRoot(trusted: Trusted, signature: string, count: number, root: Buffer): Promise<boolean> {
    const cacheKey = `${trusted.id}.${signature}.${count}.${root.toString('base64')}`;
    let checked = this.checks.get(cacheKey);
    if (!checked) {
      checked = new Promise<boolean>((resolve) => {
        // Whatever a stranger put in the signature, a check that cannot be made is a failed one.
        try {
          verify(null, signedBytes(count, root), trusted.key, Buffer.from(signature, 'base64'), (error, ok) =>
            resolve(!error && ok),
          );
        } catch {
          resolve(false);
        }
      });
      if (this.checks.size >= rememberedChecks) this.checks.delete(this.checks.keys().next().value as string);
      this.checks.set(cacheKey, checked);
      this.pending.set(signature, checked);
      void checked.then(() => this.pending.delete(signature));
    }
    return checked;
  }
}

/**
 * The second step: the app whose key signed a message must be the app it claims to come from,
 * and own every endpoint it writes (an endpoint belongs to the app its name starts with).
 * Returns why not, or undefined.
 */
export function foreignClaim(
  signer: string,
  keyIdOf: string,
  claimed: string,
  endpoints: Iterable<string>,
): string | undefined {
  if (claimed !== signer) return `not owner: signed with ${signer}'s key ${keyIdOf}, but says it comes from ${claimed}`;
  for (const endpoint of endpoints) {
    const owner = endpoint.split('/')[0];
    if (owner !== signer)
      return `not owner: signed with ${signer}'s key ${keyIdOf}, but writes ${endpoint}, an endpoint of ${owner}`;
  }
  return undefined;
}

/** The key id a signature names. */
export function signatureKeyId(signature: string): string {
  return signature.slice(0, Math.max(0, signature.indexOf('.')));
}
