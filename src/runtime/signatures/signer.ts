/**
 * Signing what an app publishes: each message's exact body, with the app's private key, before
 * it reaches the transport; one Ed25519 signature covers a chunk of messages (merkle.ts). Everything an app publishes goes through `Transport.publish`,
 * so a transport that signs on the way covers the relay, ephemerals, syncs and re-sync
 * requests alike.
 */
import { createPublicKey, type KeyObject, sign } from 'node:crypto';
import type { OutgoingMessage, Transport } from '../../transport/transport.js';
import { keyId, type PrivateKeyInput, privateKey } from './keys.js';
import { leafHash, merkleTree, signedBytes } from './merkle.js';

/**
 * Messages signed together, at most: one signature, and paths of 5 hashes (160 bytes) in each
 * message's signature.
 */
export const chunkSize = 32;

/**
 * Signs bodies with one private key. A signature reads
 * `<key id>.<signature>.<count>.<index>.<path>`: the Ed25519 signature (base64) of the Merkle
 * root of a chunk of `count` bodies (see merkle.ts), this body's place among them, and its path
 * to the root (the hashes, joined, in base64).
 */
export class Signer {
  readonly keyId: string;
  private readonly key: KeyObject;

  constructor(key: PrivateKeyInput) {
    this.key = privateKey(key);
    this.keyId = keyId(createPublicKey(this.key));
  }

  /** The signature of one body. */
  async sign(body: Buffer): Promise<string> {
    return (await this.signatures([body]))[0] as string;
  }

  /** The messages, each with its signature: one Ed25519 signature per {@link chunkSize} messages. */
  async signAll(messages: readonly OutgoingMessage[]): Promise<OutgoingMessage[]> {
    const chunks: Promise<string[]>[] = [];
    for (let i = 0; i < messages.length; i += chunkSize) {
      chunks.push(this.signatures(messages.slice(i, i + chunkSize).map((m) => m.body)));
    }
    const signatures = (await Promise.all(chunks)).flat();
    return messages.map((m, i) => ({ ...m, signature: signatures[i] as string }));
  }

  /** The signatures of a chunk of bodies, the root's signed on libuv's thread pool, off the event loop. */
  private async signatures(bodies: readonly Buffer[]): Promise<string[]> {
    const { root, paths } = merkleTree(bodies.map(leafHash));
    const signature = await new Promise<Buffer>((resolve, reject) =>
      sign(null, signedBytes(bodies.length, root), this.key, (error, signed) =>
        error ? reject(error) : resolve(signed),
      ),
    );
    const head = `${this.keyId}.${signature.toString('base64')}.${bodies.length}`;
    return paths.map((path, i) => `${head}.${i}.${Buffer.concat(path).toString('base64')}`);
  }
}

/** The transport an app publishes through: one that signs with its key, when it has one. */
export function publishingTransport(transport: Transport, key: PrivateKeyInput | undefined): Transport {
  return key === undefined ? transport : signingTransport(transport, new Signer(key));
}

/** A transport that signs every message it publishes with `signer`, and otherwise is `transport`. */
export function signingTransport(transport: Transport, signer: Signer): Transport {
  return {
    publish: async (messages) => transport.publish(await signer.signAll(messages)),
    listen: (handle) => transport.listen(handle),
    reply: async (address, message) =>
      transport.reply(address, { ...message, signature: await signer.sign(message.body) }),
    consume: (app, options, handle) => transport.consume(app, options, handle),
    parked: (app) => transport.parked(app),
    retryParked: (app, ids) => transport.retryParked(app, ids),
    dropParked: (app, ids) => transport.dropParked(app, ids),
    ...(transport.stats ? { stats: (app: string) => transport.stats?.(app) ?? Promise.resolve(undefined) } : {}),
    healthy: () => transport.healthy(),
    close: () => transport.close(),
  };
}
