/**
 * The startup check of an app's tables, on each database: it names every missing table and
 * column with the migration that adds it, every column whose type cannot hold its values, and
 * every NOT NULL column the runtime would write a null into; it passes the tables the
 * generated migrations make, and lets through what merely differs (a wider type).
 */
import amqp from 'amqplib';
import type { Knex } from 'knex';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SchemaError } from '../../src/common/errors.js';
import type { ColumnKind, RequiredColumn, RequiredTable } from '../../src/runtime/contract.js';
import { checkTables, requireTables } from '../../src/runtime/db/schema-check.js';
import { crowdtapTables } from '../../examples/users/schema.js';
import { Publisher, Subscriber } from '../../src/runtime/index.js';
import { crowdtap, newUser, sniper, virtuals } from '../helpers/users-app.js';
import { amqpUrl, database, type Dialect, randomName } from '../helpers/services.js';
import { connectTransport, removeNamespace } from '../helpers/world.js';

const dialects: readonly Dialect[] = ['postgres', 'mariadb', 'sqlite'];

const column = (name: string, kind: ColumnKind, nullable = true, migration?: string): RequiredColumn => ({
  name,
  kind,
  nullable,
  ...(migration ? { migration } : {}),
});

/** Every kind, each in the column Knex's own builder makes for it. */
const kinds: readonly [ColumnKind, (t: Knex.CreateTableBuilder, name: string) => Knex.ColumnBuilder][] = [
  ['string', (t, n) => t.string(n)],
  ['text', (t, n) => t.text(n)],
  ['integer', (t, n) => t.integer(n)],
  ['bigint', (t, n) => t.bigInteger(n)],
  ['decimal', (t, n) => t.decimal(n, 10, 2)],
  ['float', (t, n) => t.double(n)],
  ['boolean', (t, n) => t.boolean(n)],
  ['date', (t, n) => t.date(n)],
  ['timestamp', (t, n) => t.timestamp(n)],
  ['uuid', (t, n) => t.uuid(n)],
  ['json', (t, n) => t.json(n)],
  ['enum', (t, n) => t.string(n, 32)],
];

for (const dialect of dialects) {
  test(`${dialect}: the columns Knex makes for each kind pass, and a wider type passes`, async () => {
    const db = await database(dialect);
    try {
      await db.knex.schema.createTable('everything', (t) => {
        for (const [kind, make] of kinds) make(t, `a_${kind}`);
        t.bigInteger('wider').notNullable();
      });
      const table: RequiredTable = {
        name: 'everything',
        role: 'subscribed',
        managed: true,
        columns: [...kinds.map(([kind]) => column(`a_${kind}`, kind)), column('wider', 'integer', false)],
      };
      assert.equal(await checkTables(db.knex, [table]), []);
    } finally {
      await db.drop();
    }
  });

  test(`${dialect}: names what is missing, what cannot hold its values and what cannot be null`, async () => {
    const db = await database(dialect);
    try {
      await db.knex.schema.createTable('members', (t) => {
        t.increments('id').primary();
        t.uuid('crowdtap_id').notNullable();
        t.text('points');
        t.string('contact_email').notNullable();
        t.string('short_id', 20);
      });
      const members: RequiredTable = {
        name: 'members',
        role: 'subscribed',
        managed: true,
        columns: [
          column('crowdtap_id', 'uuid', false, '20261201000000_members'),
          column('points', 'integer', true, '20261201000000_members'),
          column('contact_email', 'string', true, '20261201000000_members'),
          column('short_id', 'uuid', true, '20261201000000_members'),
          column('name', 'string', true, '20261202000000_members_name'),
        ],
      };
      const organizations: RequiredTable = {
        name: 'organizations',
        role: 'subscribed',
        managed: true,
        columns: [column('id', 'integer', false, '20261203000000_organizations'), column('name', 'string')],
      };
      const problems = await checkTables(db.knex, [organizations, members]);
      const said = problems.map((p) => `${p.table}${p.column ? `.${p.column}` : ''} ${p.problem} ${p.migration ?? ''}`);
      assert.is(said.length, 5, said.join('\n'));
      assert.match(said[0] as string, /^members\.points is `text`.* cannot hold integer values/);
      assert.is(said[1], 'members.contact_email is NOT NULL, and its value can be null: make it nullable ');
      const short = dialect === 'sqlite' ? undefined : said[2];
      if (short) assert.match(short, /^members\.short_id is `.*` of length 20, too short for a uuid/);
      else assert.match(said[2] as string, /^members\.short_id is `varchar` \(TEXT affinity\) of length 20/);
      assert.is(said[3], 'members.name is missing 20261202000000_members_name');
      assert.is(said[4], 'organizations is missing 20261203000000_organizations');
    } finally {
      await db.drop();
    }
  });
}

test('a published table is the app’s own: its columns must be there, their types and NULLs are its business', async () => {
  const db = await database('postgres');
  try {
    await db.knex.schema.createTable('users', (t) => {
      t.uuid('id').primary();
      t.string('email').notNullable();
      t.smallint('points');
      t.text('_v');
    });
    const users: RequiredTable = {
      name: 'users',
      role: 'published',
      managed: false,
      columns: [
        column('id', 'uuid', false),
        column('email', 'string', true),
        column('points', 'integer', false),
        column('name', 'string', false),
        column('_v', 'bigint', false, '20261201000000_publish_users'),
      ],
    };
    const problems = await checkTables(db.knex, [users]);
    assert.equal(
      problems.map((p) => [p.column, p.problem.split(',')[0]]),
      [
        ['name', 'is missing'],
        ['_v', 'is `text`'],
      ],
    );
  } finally {
    await db.drop();
  }
});

test('requireTables throws one SchemaError that says what to run, or what to fix by hand', async () => {
  const db = await database('sqlite');
  try {
    await db.knex.schema.createTable('own', (t) => t.text('count'));
    const pending: RequiredTable = {
      name: 'members',
      role: 'subscribed',
      managed: true,
      columns: [column('name', 'string', true, '20261201000000_members')],
    };
    const own: RequiredTable = {
      name: 'own',
      role: 'subscribed',
      managed: false,
      columns: [column('count', 'integer')],
    };
    const error = await requireTables(db.knex, 'sniper', [pending]).catch((e: unknown) => e);
    assert.instance(error, SchemaError);
    assert.is(
      (error as Error).message,
      [
        "sniper's database does not have what sniper needs:",
        '  - table `members` is missing (migration 20261201000000_members adds it)',
        "run the app's migrations (`knex migrate:latest` with the generated migrations folder among its directories), then start again",
      ].join('\n'),
    );
    const byHand = await requireTables(db.knex, 'sniper', [own]).catch((e: unknown) => e);
    assert.match(
      (byHand as Error).message,
      /column `own.count` is `text` \(TEXT affinity\), which cannot hold integer/,
    );
    assert.match((byHand as Error).message, /\nchange these in a migration of your own, then start again$/);
    await requireTables(db.knex, 'sniper', []);
  } finally {
    await db.drop();
  }
});

test('a publisher writes nothing before its migration ran, and writes once it did', async () => {
  const db = await database('sqlite');
  const transport = await connectTransport(randomName('prom'));
  const publisher = new Publisher({ schema: crowdtap, knex: db.knex, transport, virtuals, relay: false });
  try {
    await db.knex.schema.createTable('organizations', (t) => {
      t.integer('id').primary();
      t.string('name').notNullable();
    });
    const refused = await publisher
      .transaction((tx) => tx.Organization.create({ id: 1, name: 'Jedi Order' }))
      .catch((e: unknown) => e);
    assert.instance(refused, SchemaError);
    assert.match(
      (refused as Error).message,
      /table `promiscuous_outbox` is missing \(migration \d{14}_\w+\.ts adds it\)/,
    );
    assert.match((refused as Error).message, /column `organizations._v` is missing \(migration/);
    assert.match((refused as Error).message, /table `users` is missing\n/);
    assert.equal(await db.knex('organizations').select(), [], 'the refused transaction wrote nothing');
    assert.instance(await publisher.ready().catch((e: unknown) => e), SchemaError);
    // The app's own tables, then the generated migrations: the same publisher now writes.
    await db.knex.schema.dropTable('organizations');
    await crowdtapTables(db.knex);
    await publisher.ready();
    await publisher.transaction(async (tx) => {
      await tx.Organization.create({ id: 1, name: 'Jedi Order' });
      await tx.User.create(newUser('Yoda'));
    });
    assert.is((await db.knex('promiscuous_outbox').select()).length, 1);
  } finally {
    await publisher.close();
    await transport.close();
    await db.drop();
  }
});

test('a subscriber whose database lacks its tables does not start consuming', async () => {
  const db = await database('postgres');
  const namespace = randomName('prom');
  const transport = await connectTransport(namespace);
  const subscriber = new Subscriber({ schema: sniper, knex: db.knex, transport });
  try {
    const refused = await subscriber.start().catch((e: unknown) => e);
    assert.instance(refused, SchemaError);
    assert.match((refused as Error).message, /table `members` is missing \(migration \d{14}_\w+\.ts adds it\)/);
    // No consumer was made: the app's queue was never declared.
    const connection = await amqp.connect(amqpUrl);
    try {
      const channel = await connection.createChannel();
      // A lookup of a missing queue closes the channel: that is the answer, not a failure.
      channel.on('error', () => undefined);
      const lookup = await channel.checkQueue(`${namespace}.sniper`).catch((e: { code?: number }) => e.code);
      assert.is(lookup, 404);
    } finally {
      await connection.close().catch(() => undefined);
    }
  } finally {
    await subscriber.stop();
    await transport.close();
    await removeNamespace(namespace, 'sniper');
    await db.drop();
  }
});

test.run();
