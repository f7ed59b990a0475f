/**
 * One Ed25519 signature for a chunk of messages, and a proof for each that it is one of them:
 * the messages' body hashes are the leaves of a Merkle tree, whose root is signed, and each
 * message carries the hashes beside its path to the root. A message alone (retried, parked)
 * still verifies; the messages of a chunk that arrive together cost one signature check.
 * Leaves and inner nodes are hashed with different prefixes, so that neither can pass for the
 * other.
 */
import { createHash } from 'node:crypto';

const leafTag = Buffer.of(0);
const nodeTag = Buffer.of(1);
/** What the signed bytes start with, so that a signature here means nothing anywhere else. */
const signedTag = Buffer.from('promiscuous signature 1\n');
/** The bytes of one hash. */
export const hashBytes = 32;
/** The most messages one signature may cover: far above what a signer makes, far below what the signed bytes hold. */
export const maxCount = 1 << 16;

/** A body's leaf: the SHA-256 of its exact bytes. */
export function leafHash(body: Buffer): Buffer {
  return createHash('sha256').update(leafTag).update(body).digest();
}

function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(nodeTag).update(left).update(right).digest();
}

/**
 * The root of the tree over `leaves`, and each leaf's path: the sibling hashes from the leaf
 * up. A node without a sibling (the last of an odd level) goes up as it is.
 */
export function merkleTree(leaves: readonly Buffer[]): { root: Buffer; paths: Buffer[][] } {
  const paths: Buffer[][] = leaves.map(() => []);
  let level = leaves.map((hash, i) => ({ hash, members: [i] }));
  while (level.length > 1) {
    const next: typeof level = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as (typeof level)[number];
      const right = level[i + 1];
      if (!right) {
        next.push(left);
        continue;
      }
      for (const m of left.members) paths[m]?.push(right.hash);
      for (const m of right.members) paths[m]?.push(left.hash);
      next.push({ hash: nodeHash(left.hash, right.hash), members: [...left.members, ...right.members] });
    }
    level = next;
  }
  return { root: level[0]?.hash ?? leafHash(Buffer.alloc(0)), paths };
}

/** Where a climb from a leaf ended: at the root, or at a hash known to be part of a signed tree. */
export interface Climb {
  /** The root reached; undefined when the climb stopped at a known hash. */
  readonly root: Buffer | undefined;
  /** Every hash met on the way (the leaf, the nodes computed, the siblings): part of the tree once its root is known signed. */
  readonly met: Buffer[];
}

/**
 * Climbs from a leaf at `index` of `count` leaves along `path` (the sibling hashes, joined)
 * towards the root, and stops early at the first hash `known` accepts: a part of a tree already
 * checked, which the leaf then belongs to. Undefined when the path does not fit the tree.
 */
export function merkleClimb(
  leaf: Buffer,
  index: number,
  count: number,
  path: Buffer,
  known: (hash: Buffer) => boolean = () => false,
): Climb | undefined {
  // A count the signer never makes is refused before anything uses it: the signed bytes hold it in 32 bits.
  if (!(Number.isInteger(count) && count >= 1 && count <= maxCount)) return undefined;
  if (!(Number.isInteger(index) && index >= 0 && index < count) || path.length % hashBytes !== 0) return undefined;
  const met = [leaf];
  let [hash, at, width, used] = [leaf, index, count, 0];
  while (width > 1) {
    if (!(at === width - 1 && width % 2 === 1)) {
      if ((used + 1) * hashBytes > path.length) return undefined;
      const sibling = path.subarray(used * hashBytes, (used += 1) * hashBytes);
      hash = at % 2 === 0 ? nodeHash(hash, sibling) : nodeHash(sibling, hash);
      met.push(sibling);
      if (known(hash)) return { root: undefined, met };
      met.push(hash);
    }
    at = Math.floor(at / 2);
    width = Math.ceil(width / 2);
  }
  return used * hashBytes === path.length ? { root: hash, met } : undefined;
}

/** The root a leaf at `index` of `count` leaves reaches along `path`; undefined when the path does not fit the tree. */
export function merkleRoot(leaf: Buffer, index: number, count: number, path: readonly Buffer[]): Buffer | undefined {
  return merkleClimb(leaf, index, count, Buffer.concat(path))?.root;
}

/** What is signed for a chunk: the tag, its count of messages and its root. */
export function signedBytes(count: number, root: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt32BE(count);
  return Buffer.concat([signedTag, size, root]);
}
