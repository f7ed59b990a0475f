import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hooks, Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import { startDashboard } from '../../src/cli/dashboard.js';
import { Publisher, RedisCoordinator, Subscriber } from '../../src/runtime/index.js';
import { redisUrl } from './services.js';
import { crowdtap, sniper, virtuals } from './users-app.js';
import { closeWorld, openWorld, removeNamespace, type World } from './world.js';

/** crowdtap replicating to sniper, with the live feed on, and a config naming both for the CLI. */
export interface ReplicatingWorld extends World {
  readonly coordinator: RedisCoordinator;
  readonly subscriber: Subscriber;
  readonly publisher: Publisher<Hooks, Virtuals>;
  readonly config: string;
  close(): Promise<void>;
}

export async function replicatingWorld(): Promise<ReplicatingWorld> {
  const world = await openWorld({ pub: 'postgres', sub: 'sqlite' });
  const coordinator = await RedisCoordinator.connect(redisUrl, `${world.namespace}:sniper`);
  const subscriber = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    coordinator,
    live: true,
    maxAttempts: 1,
  });
  await subscriber.start();
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: world.pub.knex,
    transport: world.transport,
    virtuals,
  });
  const dir = mkdtempSync(join(tmpdir(), 'promiscuous-dashboard-'));
  const { rows } = (await world.pub.knex.raw('select current_schema() as schema')) as { rows: { schema: string }[] };
  const config = join(dir, 'promiscuous.config.ts');
  writeFileSync(
    config,
    `export default {
  apps: {
    crowdtap: { publish: [{ table: 'users', as: 'User', fields: { id: 'uuid primary', name: 'string' } }] },
    sniper: { subscribe: [{ type: 'User', from: 'crowdtap/user', attributes: ['name'] }] },
  },
  namespace: ${JSON.stringify(world.namespace)},
  database: () => ({ client: 'pg', connection: { host: '127.0.0.1', user: 'postgres', database: 'test' }, searchPath: [${JSON.stringify(rows[0]?.schema)}] }),
};
`,
  );
  return {
    ...world,
    coordinator,
    subscriber,
    publisher,
    config,
    close: async () => {
      await closeWorld(world, subscriber, publisher, coordinator);
      await removeNamespace(world.namespace, 'sniper');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The dashboard of a world's config, with a token or read-only. */
export async function openDashboard(world: ReplicatingWorld, token?: string) {
  const previous = process.env.PROMISCUOUS_DASHBOARD_TOKEN;
  if (token === undefined) delete process.env.PROMISCUOUS_DASHBOARD_TOKEN;
  else process.env.PROMISCUOUS_DASHBOARD_TOKEN = token;
  const errors: string[] = [];
  try {
    return await startDashboard(
      { config: world.config, port: 0 },
      { info: () => {}, error: (line) => void errors.push(line) },
    );
  } finally {
    if (previous === undefined) delete process.env.PROMISCUOUS_DASHBOARD_TOKEN;
    else process.env.PROMISCUOUS_DASHBOARD_TOKEN = previous;
  }
}

/** A message no subscriber can read, parked at once. */
export function parkOne(world: World, messageId: string): Promise<void> {
  return world.transport.publish([
    { routingKeys: ['crowdtap.user.create'], messageId, body: Buffer.from('{ not json') },
  ]);
}
