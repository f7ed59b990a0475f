/** What tells that a sync ended well: the subscriber's rows against the publisher's, and its queues' depth. */
import { createHash } from 'node:crypto';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';
import { names } from '../../src/transport/amqp/topology.js';
import { connect, type DbRef, services } from '../lib/index.js';

/** A 64-bit hash of a string, for order-independent checksums of many rows. */
function hash64(text: string): bigint {
  return createHash('sha1').update(text).digest().readBigUInt64BE(0);
}

export interface Checksum {
  readonly users: number;
  readonly organizations: number;
  readonly sum: string;
}

/** Count and order-independent checksum of the published attributes of users and organizations. */
export async function checksum(ref: DbRef, side: 'publisher' | 'subscriber'): Promise<Checksum> {
  const db = connect(ref, { poolMax: 2 });
  try {
    let sum = 0n;
    const mask = (1n << 64n) - 1n;
    let users = 0;
    const table = side === 'publisher' ? 'users' : 'members';
    const key = side === 'publisher' ? 'id' : 'crowdtap_id';
    const email = side === 'publisher' ? 'email' : 'contact_email';
    let after: string | undefined;
    for (;;) {
      const q = db(table)
        .select({ id: key, type: 'type', name: 'name', email, points: 'points' })
        .orderBy(key)
        .limit(50_000);
      if (after !== undefined) q.where(key, '>', after);
      const rows = (await q) as {
        id: string;
        type: string | null;
        name: string | null;
        email: string | null;
        points: number | null;
      }[];
      if (rows.length === 0) break;
      for (const r of rows) {
        // Points are published for Members only; a User's column holds nothing on either side.
        const points = r.type === 'Member' && r.points !== null ? String(r.points) : '';
        sum = (sum + hash64(`u|${String(r.id)}|${r.type ?? ''}|${r.name ?? ''}|${r.email ?? ''}|${points}`)) & mask;
      }
      users += rows.length;
      after = String(rows.at(-1)?.id);
    }
    const orgRows = (await db('organizations').select('id', 'name')) as { id: number | string; name: string | null }[];
    for (const r of orgRows) sum = (sum + hash64(`o|${Number(r.id)}|${r.name ?? ''}`)) & mask;
    return { users, organizations: orgRows.length, sum: sum.toString(16).padStart(16, '0') };
  } finally {
    await db.destroy();
  }
}

/** Messages in the subscriber's queue and its retry queues, as the broker counts them. */
export class QueueWatch {
  private constructor(
    private readonly connection: ChannelModel,
    private channel: Channel,
    private readonly ns: string,
  ) {}

  static async open(ns: string): Promise<QueueWatch> {
    const connection = await amqp.connect(services.amqpUrl);
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    return new QueueWatch(connection, channel, ns);
  }

  async depth(): Promise<{ ready: number; retrying: number }> {
    const n = names(this.ns);
    const count = async (queue: string): Promise<number> => {
      try {
        return (await this.channel.checkQueue(queue)).messageCount;
      } catch {
        this.channel = await this.connection.createChannel();
        this.channel.on('error', () => {});
        return 0;
      }
    };
    const ready = await count(n.queue(sniper.app));
    let retrying = 0;
    for (const queue of n.retries(sniper.app)) retrying += await count(queue);
    return { ready, retrying };
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => {});
  }
}
