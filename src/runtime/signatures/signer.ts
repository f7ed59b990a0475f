/**
 * Signing what an app publishes: each message's exact body, once, with the app's private key,
 * before it reaches the transport. Everything an app publishes goes through `Transport.publish`,
 * so a transport that signs on the way covers the relay, ephemerals, syncs and re-sync
 * requests alike.
 */
import { createPublicKey, type KeyObject, sign } from 'node:crypto';
import type { OutgoingMessage, Transport } from '../../transport/transport.js';
import { keyId, type PrivateKeyInput, privateKey } from './keys.js';

/** Signs bodies with one private key: `<key id>.<signature in base64>`. */
export class Signer {
  readonly keyId: string;
  private readonly key: KeyObject;

  constructor(key: PrivateKeyInput) {
    this.key = privateKey(key);
    this.keyId = keyId(createPublicKey(this.key));
  }

  /** The signature of a body, computed on libuv's thread pool so that the event loop goes on meanwhile. */
  sign(body: Buffer): Promise<string> {
    return new Promise((resolve, reject) =>
      sign(null, body, this.key, (error, signature) =>
        error ? reject(error) : resolve(`${this.keyId}.${signature.toString('base64')}`),
      ),
    );
  }

  /** The messages, each with its body's signature (once per message, however many queues it reaches). */
  signAll(messages: readonly OutgoingMessage[]): Promise<OutgoingMessage[]> {
    return Promise.all(messages.map(async (m) => ({ ...m, signature: await this.sign(m.body) })));
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
    consume: (app, options, handle) => transport.consume(app, options, handle),
    parked: (app) => transport.parked(app),
    retryParked: (app, ids) => transport.retryParked(app, ids),
    dropParked: (app, ids) => transport.dropParked(app, ids),
    ...(transport.stats ? { stats: (app: string) => transport.stats?.(app) ?? Promise.resolve(undefined) } : {}),
    healthy: () => transport.healthy(),
    close: () => transport.close(),
  };
}
