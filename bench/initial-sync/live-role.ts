/**
 * The live writers: a publisher app going on with its work during the sync, an open loop of
 * one-row transactions (half renames of random loaded users, half new users) through a
 * `Publisher` with its relay, which also answers re-sync requests.
 */
import { randomUUID } from 'node:crypto';
import { schema as crowdtap, type Hooks, type Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import { AmqpTransport, Publisher } from '../../src/runtime/index.js';
import { connect, now, openLoop, type Role, services, virtuals } from '../lib/index.js';
import { bulkId, type LiveInit } from './settings.js';

export interface LiveResult {
  readonly writes: number;
  readonly updates: number;
  readonly creates: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly late: number;
}

export async function liveRole(init: LiveInit): Promise<Role> {
  const db = connect(init.db);
  const transport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  const writers = new LiveWriters(init);
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport,
    virtuals,
    errorNotifier: (e) => writers.noteError(e, true),
  });
  writers.publisher = publisher;
  return {
    commands: {
      start: ({ rate }: { rate: number }) => writers.start(rate),
      stop: () => writers.stop(),
    },
    async close() {
      await writers.stop();
      await publisher.close();
      await transport.close();
      await db.destroy();
    },
  };
}

class LiveWriters {
  publisher!: Publisher<Hooks, Virtuals>;
  private running: Promise<LiveResult> | undefined;
  private stopping = false;
  private serial = 0;
  private errors = 0;
  private firstError: string | undefined;

  constructor(private readonly init: LiveInit) {}

  /** A failed write, by its stack; the runtime's own errors (the relay's, say), by their message. */
  readonly noteError = (e: Error, runtime = false): void => {
    this.errors += 1;
    this.firstError ??= runtime ? e.message : (e.stack ?? String(e));
  };

  start(rate: number): null {
    this.stopping = false;
    if (rate > 0) this.running = this.loop(rate);
    return null;
  }

  async stop(): Promise<LiveResult> {
    this.stopping = true;
    const result = await this.running;
    this.running = undefined;
    return result ?? { writes: 0, updates: 0, creates: 0, errors: this.errors, seconds: 0, late: 0 };
  }

  private async write(): Promise<'update' | 'create'> {
    this.serial += 1;
    const n = this.serial;
    if (Math.random() < 0.5) {
      const id = bulkId(1 + Math.floor(Math.random() * this.init.rows));
      await this.publisher.transaction(async (tx) => void (await tx.User.update(id, { name: `Live rename ${n}` })));
      return 'update';
    }
    await this.publisher.transaction(
      async (tx) =>
        void (await tx.User.create({
          id: randomUUID(),
          name: `Live user ${n}`,
          email: `live${n}@example.com`,
          first_name: 'Live',
          last_name: String(n),
          addresses: [],
          tags: ['live'],
          org_id: 1 + Math.floor(Math.random() * this.init.orgs),
        })),
    );
    return 'create';
  }

  private async loop(rate: number): Promise<LiveResult> {
    const counts = { update: 0, create: 0 };
    const start = now();
    const late = await openLoop(
      rate,
      16,
      () => !this.stopping,
      () =>
        this.write()
          .then((kind) => void (counts[kind] += 1))
          .catch((e: Error) => this.noteError(e)),
      1,
    );
    const seconds = (now() - start) / 1000;
    await this.publisher.relay?.flush();
    return {
      writes: counts.update + counts.create,
      updates: counts.update,
      creates: counts.create,
      errors: this.errors,
      ...(this.firstError ? { firstError: this.firstError } : {}),
      seconds,
      late,
    };
  }
}
