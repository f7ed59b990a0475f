/** The sync process: `initialSync` as `promiscuous publish Organization User` runs it. */
import { schema as crowdtap, type Hooks, type Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import type { Knex } from 'knex';
import { AmqpTransport, initialSync, Publisher } from '../../src/runtime/index.js';
import {
  connect,
  now,
  percentile,
  QueryStats,
  type Role,
  services,
  type ShapeStat,
  timePublish,
  virtuals,
} from '../lib/index.js';
import type { SyncInit } from './settings.js';

export interface SyncResult {
  readonly start: number;
  readonly end: number;
  /** Rows published, by type. */
  readonly published: Record<string, number>;
  /** Rows to publish when each job started, by type. */
  readonly totals: Record<string, number>;
  readonly pages: number;
  /** Calls of `transport.publish` (one per page): how long each waited for the broker's confirms. */
  readonly publishCalls: number;
  readonly publishMs: number;
  readonly publishP50: number;
  readonly messages: number;
  readonly queries: Record<string, ShapeStat>;
}

export async function syncRole(init: SyncInit): Promise<Role> {
  const db = connect(init.db);
  const stats = new QueryStats();
  stats.attach(db);
  const amqpTransport = await AmqpTransport.connect({ url: services.amqpUrl, namespace: init.namespace });
  const publishes: number[] = [];
  let messages = 0;
  const transport = timePublish(amqpTransport, (n, ms) => {
    messages += n;
    publishes.push(ms);
  });
  // What `promiscuous publish` builds: no relay, no answers to re-sync requests.
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport,
    virtuals,
    relay: false,
    answerResync: false,
  });
  const publishing = { publishes, messages: () => messages };
  return {
    commands: {
      sync: ({ types, pageSize }: { types: string[]; pageSize: number }) =>
        sync(publisher as Publisher<unknown, unknown>, db, stats, publishing, types, pageSize),
    },
    async close() {
      await publisher.close();
      await amqpTransport.close();
      await db.destroy();
    },
  };
}

/** Each type's rows, page by page, as `promiscuous publish` does; `publishing`: the transport's publish calls so far. */
async function sync(
  publisher: Publisher<unknown, unknown>,
  db: Knex,
  stats: QueryStats,
  publishing: { readonly publishes: readonly number[]; messages(): number },
  types: readonly string[],
  pageSize: number,
): Promise<SyncResult> {
  stats.reset();
  const published: Record<string, number> = {};
  const totals: Record<string, number> = {};
  let pages = 0;
  const start = now();
  for (const type of types) {
    let first = true;
    const result = await initialSync(publisher, db, {
      type,
      pageSize,
      restart: true,
      onProgress: (_done, total) => {
        if (first) totals[type] = total;
        else pages += 1;
        first = false;
      },
    });
    published[type] = result.published;
  }
  const end = now();
  const { publishes } = publishing;
  const sorted = [...publishes].sort((a, b) => a - b);
  return {
    start,
    end,
    published,
    totals,
    pages,
    publishCalls: publishes.length,
    publishMs: publishes.reduce((a, b) => a + b, 0),
    publishP50: percentile(sorted, 0.5),
    messages: publishing.messages(),
    queries: stats.snapshot(),
  };
}
