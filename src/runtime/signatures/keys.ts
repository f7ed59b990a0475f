/**
 * Ed25519 keys through `node:crypto`: an app's private key signs what it publishes, the public
 * keys others trust verify it. A key's id is a fingerprint of its public key, so that it can
 * never disagree with the key, and several keys of one app can be trusted at once (rotation).
 * No function here puts a key, private or public, in an error message.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SettingError } from '../../common/errors.js';

/** A private key as the options take it: PEM text (PKCS #8, as `openssl genpkey -algorithm ed25519` writes it) or a KeyObject. */
export type PrivateKeyInput = string | KeyObject;

/** A public key as the trust takes it: its 32 bytes in base64 (what `promiscuous keys generate` prints), PEM text, or a KeyObject. */
export type PublicKeyInput = string | KeyObject;

/** The raw 32 bytes of an Ed25519 public key. */
function rawPublicKey(key: KeyObject): Buffer {
  return Buffer.from(key.export({ format: 'jwk' }).x as string, 'base64url');
}

/** A key's id: the first 8 bytes of the SHA-256 of its raw public key, in hex (16 characters). */
export function keyId(publicKey: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 16);
}

/** A public key in the form the trust takes: its 32 bytes in base64. */
export function publicKeyText(publicKey: KeyObject): string {
  return rawPublicKey(publicKey).toString('base64');
}

/** An Ed25519 private key; `where` names the setting it came from in the error. */
export function privateKey(input: PrivateKeyInput, where = 'the signing key'): KeyObject {
  let key: KeyObject;
  try {
    key = typeof input === 'string' ? createPrivateKey(input) : input;
  } catch {
    throw new SettingError(
      `${where} is not a private key in PEM (PKCS #8): make one with \`promiscuous keys generate\``,
    );
  }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') {
    throw new SettingError(`${where} is not an Ed25519 private key: make one with \`promiscuous keys generate\``);
  }
  return key;
}

/** An Ed25519 public key; `where` names the setting it came from in the error. */
export function publicKey(input: PublicKeyInput, where = 'a trusted key'): KeyObject {
  let key: KeyObject;
  try {
    if (typeof input !== 'string') key = input;
    else if (input.includes('-----BEGIN')) key = createPublicKey(input);
    else {
      const raw = Buffer.from(input.trim(), 'base64');
      if (raw.length !== 32) throw new Error('not 32 bytes');
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    }
  } catch {
    throw new SettingError(
      `${where} is not a public key: give the base64 text \`promiscuous keys generate\` prints, or a PEM public key`,
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SettingError(`${where} is not an Ed25519 key`);
  return key.type === 'private' ? createPublicKey(key) : key;
}

/** A new key pair: the private key in PEM (PKCS #8), the public one in the trust's form, and its id. */
export function generateKeyPair(): { privatePem: string; publicText: string; keyId: string } {
  const pair = generateKeyPairSync('ed25519');
  return {
    privatePem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    publicText: publicKeyText(pair.publicKey),
    keyId: keyId(pair.publicKey),
  };
}
