/**
 * The functions an app supplies at run time (virtual attributes, callbacks) are checked against
 * its routes when a publisher or subscriber starts: a missing or misspelt one fails there,
 * naming it, and never once messages flow. The generated types make the same mistakes type
 * errors (test/codegen/typed-hooks.test.ts); these checks cover configs that escape them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import knex from 'knex';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/cli/index.js';
import {
  type AmqpTransport,
  Publisher,
  PublisherError,
  SchemaError,
  sinksTable,
  Subscriber,
  SubscriberError,
  syncProgressTable,
} from '../../src/runtime/index.js';
import { repoPath } from '../helpers/corpus.js';
import { database, randomName, type TestDatabase } from '../helpers/services.js';
import { crowdtap, crowdtapTables, newUser, sniper, sniperTables, virtuals } from '../helpers/users-app.js';
import { connectTransport, removeNamespace } from '../helpers/world.js';

interface World {
  namespace: string;
  transport: AmqpTransport;
  db: TestDatabase;
}

const hooks = suite<World>('runtime hooks', {} as World);

hooks.before(async (world) => {
  world.namespace = randomName('prom');
  world.transport = await connectTransport(world.namespace);
  world.db = await database('sqlite');
});

hooks.after(async (world) => {
  await world.transport.close();
  await world.db.drop();
  await removeNamespace(world.namespace, 'sniper');
});

/** The error `fn` throws, for its class and message to be checked. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected it to throw');
}

hooks('a publisher whose virtuals miss one the routes need refuses to start, naming it', ({ db, transport }) => {
  const error = thrown(() => new Publisher({ schema: crowdtap, knex: db.knex, transport, relay: false }));
  assert.instance(error, PublisherError);
  assert.is(
    error.message,
    'the virtual attributes of crowdtap do not match its routes: no function for User.full_name',
  );
});

hooks('a publisher given a function for no virtual attribute refuses to start, naming it', ({ db, transport }) => {
  const misspelt = { User: { full_name: virtuals.User.full_name, display_nmae: () => '' } };
  const error = thrown(
    () => new Publisher({ schema: crowdtap, knex: db.knex, transport, relay: false, virtuals: misspelt as never }),
  );
  assert.instance(error, PublisherError);
  assert.match(error.message, 'User.display_nmae is not a virtual attribute (User has full_name)');
});

hooks('a subtype may override its parent virtual function', ({ db, transport }) => {
  const overridden = { ...virtuals, Admin: { full_name: () => 'an admin' } };
  const publisher = new Publisher({ schema: crowdtap, knex: db.knex, transport, relay: false, virtuals: overridden });
  assert.is(publisher.model('Admin').name, 'Admin');
});

hooks('a subscriber given a callback of no known kind refuses to start, naming it', ({ db, transport }) => {
  const misspelt = { User: { afterCreat: () => {} } };
  const error = thrown(
    () => new Subscriber({ schema: sniper, knex: db.knex, transport, callbacks: misspelt as never }),
  );
  assert.instance(error, SubscriberError);
  assert.match(error.message, 'the callbacks of sniper do not match its routes: User.afterCreat is no callback');
});

hooks('a subscriber given callbacks for no subscription or observer refuses to start', ({ db, transport }) => {
  const misspelt = { Usr: { afterCreate: () => {} } };
  const error = thrown(
    () => new Subscriber({ schema: sniper, knex: db.knex, transport, callbacks: misspelt as never }),
  );
  assert.instance(error, SubscriberError);
  assert.match(error.message, 'Usr is no subscription or observer (sniper has Member, Organization, User, UserEvent)');
});

hooks(
  'a subscriber given sinks for no target, or a sink that is none, refuses to start, naming them',
  ({ db, transport }) => {
    const sinks = { Usr: () => {}, User: { post: () => {} }, Member: { send: () => {}, attempts: 0 } };
    const error = thrown(() => new Subscriber({ schema: sniper, knex: db.knex, transport, sinks: sinks as never }));
    assert.instance(error, SubscriberError);
    assert.is(
      error.message,
      'the sinks of sniper do not match its routes: Usr is no subscription or observer (sniper has Member, Organization, User, UserEvent); ' +
        'User is no sink (a function, or { send, timeoutMs?, attempts? }); Member.attempts is not a positive integer',
    );
  },
);

hooks('a subscriber needs the sinks table only when it has sinks', async ({ db, transport }) => {
  await sniperTables(db.knex);
  await db.knex.schema.dropTable(sinksTable);
  const sinking = new Subscriber({ schema: sniper, knex: db.knex, transport, sinks: { User: () => {} } });
  const error = await sinking.start().then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  assert.instance(error, SchemaError);
  assert.match(error?.message ?? '', /table `promiscuous_sinks` is missing \(migration \d{14}_sinks\.ts adds it\)/);
  const plain = new Subscriber({ schema: sniper, knex: db.knex, transport });
  await plain.start();
  await plain.stop();
});

hooks.run();

const cli = suite<{ dir: string; namespace: string }>('promiscuous publish', { dir: '', namespace: '' });

cli.before((context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'promiscuous-hooks-'));
  context.namespace = randomName('prom');
});

cli.after(async ({ dir, namespace }) => {
  rmSync(dir, { recursive: true, force: true });
  await removeNamespace(namespace, 'crowdtap');
});

/** Runs `promiscuous publish ...` on crowdtap with a config whose `virtuals.crowdtap` is `virtuals` (source text). */
async function publishWith(
  context: { dir: string; namespace: string },
  virtuals: string,
): Promise<{ code: number; err: string }> {
  const config = join(context.dir, 'promiscuous.config.ts');
  const generated = relative(context.dir, repoPath('examples', 'users', 'generated'));
  writeFileSync(
    config,
    `export default {
  apps: { crowdtap: {} },
  generated: ${JSON.stringify(generated)},
  database: { client: 'better-sqlite3', connection: { filename: ${JSON.stringify(join(context.dir, 'crowdtap.sqlite'))} }, useNullAsDefault: true },
  virtuals: { crowdtap: ${virtuals} },
};
`,
  );
  const err: string[] = [];
  const previous = process.env.PROMISCUOUS_NAMESPACE;
  process.env.PROMISCUOUS_NAMESPACE = context.namespace;
  try {
    const args = ['publish', 'Organization', 'User', '--config', config, '--no-progress'];
    const code = await runCli(['node', 'promiscuous', ...args], {
      info: () => {},
      error: (line) => void err.push(line),
    });
    return { code, err: err.join('\n') };
  } finally {
    if (previous === undefined) delete process.env.PROMISCUOUS_NAMESPACE;
    else process.env.PROMISCUOUS_NAMESPACE = previous;
  }
}

cli('publish exits with 78 naming a virtual the config lacks, before it publishes anything', async (context) => {
  const db = knex({
    client: 'better-sqlite3',
    connection: { filename: join(context.dir, 'crowdtap.sqlite') },
    useNullAsDefault: true,
  });
  try {
    await crowdtapTables(db);
    await db('organizations').insert({ id: 1, name: 'Jedi Order' });
    const { addresses, tags, ...user } = newUser('Luke');
    await db('users').insert({ ...user, addresses: JSON.stringify(addresses), tags: JSON.stringify(tags) });

    const missing = await publishWith(context, '{}');
    assert.is(missing.code, 78, missing.err);
    assert.match(
      missing.err,
      "ConfigError: the config's `virtuals.crowdtap` does not match the routes: no function for User.full_name",
    );
    // Organizations, listed first, need no virtual: they were not published either.
    assert.not.ok(await db.schema.hasTable(syncProgressTable), 'no selection was started');

    const misspelt = await publishWith(context, '{ User: { display_nmae: (row) => row.first_name } }');
    assert.is(misspelt.code, 78, misspelt.err);
    assert.match(misspelt.err, 'no function for User.full_name; User.display_nmae is not a virtual attribute');
  } finally {
    await db.destroy();
  }
});

cli.run();
