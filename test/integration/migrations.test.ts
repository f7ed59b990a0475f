/**
 * The generated migrations on the databases: routes that change step by step (a model, a
 * subscription, an attribute and a relation, a subtype, an API version) each give exactly one
 * new migration, `knex.migrate.latest` applies it from the migrations folders (as a knexfile
 * would, the publisher's own migrations beside the generated ones) on PostgreSQL, MariaDB and
 * SQLite, and after each step a publisher writes through the newly generated hooks and the
 * subscriber applies through RabbitMQ and Redis into the tables the migrations made.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Knex } from 'knex';
import {
  outboxTable,
  type PublisherSchema,
  Publisher,
  RedisCoordinator,
  type SubscriberSchema,
  Subscriber,
  versionsTable,
} from '../../src/runtime/index.js';
import {
  generatedModule,
  generateRoutes,
  migrate,
  nextProject,
  ownMigration,
  projectsRoot,
  removeProjects,
  rollbackAll,
} from '../helpers/project.js';
import { firstRoutes, removalRoutes, routesSteps } from '../helpers/route-steps.js';
import { type Dialect, database, eventually, randomName, redisUrl, type TestDatabase } from '../helpers/services.js';
import { connectTransport, removeNamespace } from '../helpers/world.js';

/** What crowdtap's own migrations add at each step: the columns its routes publish. */
const ownMigrations: readonly (readonly [string, string] | undefined)[] = [
  [
    '20000101000000_users',
    "await knex.schema.createTable('users', (t) => { t.uuid('id').primary(); t.string('name').notNullable(); });",
  ],
  [
    '20000101000001_organizations',
    "await knex.schema.createTable('organizations', (t) => { t.integer('id').primary(); t.string('name').notNullable(); });",
  ],
  undefined,
  [
    '20000101000003_users_email',
    "await knex.schema.alterTable('users', (t) => { t.string('email'); t.integer('org_id').references('id').inTable('organizations'); });",
  ],
  [
    '20000101000004_users_points',
    "await knex.schema.alterTable('users', (t) => { t.string('type', 32); t.integer('points'); });",
  ],
  undefined,
];

type Tx = Record<string, { create(values: Record<string, unknown>): Promise<unknown> }>;

/** What crowdtap writes after each step, through that step's hooks. */
const writes: readonly ((tx: Tx) => Promise<void>)[] = [
  async (tx) => void (await tx.User?.create({ id: crypto.randomUUID(), name: 'Yoda' })),
  async (tx) => {
    await tx.Organization?.create({ id: 1, name: 'Jedi Order' });
    await tx.User?.create({ id: crypto.randomUUID(), name: 'Mace' });
  },
  async (tx) => {
    await tx.Organization?.create({ id: 2, name: 'Rebel Alliance' });
    await tx.User?.create({ id: crypto.randomUUID(), name: 'Leia' });
  },
  async (tx) => {
    await tx.User?.create({ id: crypto.randomUUID(), name: 'Han', email: 'han@falcon.example', org_id: 2 });
  },
  async (tx) =>
    void (await tx.Member?.create({ id: crypto.randomUUID(), name: 'Luke', email: null, org_id: 2, points: 5 })),
  async (tx) => void (await tx.User?.create({ id: crypto.randomUUID(), name: 'Chewie', email: null, org_id: null })),
  // organizations is no longer stored: a member of one lands without its foreign key.
  async (tx) => {
    await tx.Organization?.create({ id: 3, name: 'Empire' });
    await tx.User?.create({ id: crypto.randomUUID(), name: 'Lando', email: null, org_id: 3 });
  },
];

/** The rows sniper holds after each step: a table's count, `where` the last row written. */
const expected: readonly Record<string, number>[] = [
  { members: 1 },
  { members: 2 },
  { members: 3, organizations: 1 },
  { members: 4, organizations: 1 },
  { members: 5, organizations: 1 },
  { members: 6, organizations: 1, profiles: 1 },
  { members: 7, organizations: 1, profiles: 2 },
];

interface World {
  root: string;
  /** The last step's project. */
  dir: string;
  pub: TestDatabase;
  sub: TestDatabase;
  namespace: string;
}

for (const dialect of ['sqlite', 'postgres', 'mariadb'] as Dialect[]) {
  const test = suite<World>(`migrations on ${dialect}`, {} as World);

  test.before(async (world) => {
    world.root = projectsRoot();
    world.pub = await database(dialect);
    world.sub = await database(dialect);
    world.namespace = randomName('prom');
  });

  test.after(async (world) => {
    await world.pub?.drop();
    await world.sub?.drop();
    await removeNamespace(world.namespace, 'sniper');
    removeProjects(world.root);
  });

  test('each step of the routes is one migration, applied from the folders, and replication goes on', async (world) => {
    const transport = await connectTransport(world.namespace);
    const coordinator = await RedisCoordinator.connect(redisUrl, `${world.namespace}:sniper`);
    let previous: string | undefined;
    try {
      for (const [i, step] of [
        { name: 'the first routes', app: undefined, routes: firstRoutes },
        ...routesSteps,
        { name: 'a removal', app: 'sniper', routes: removalRoutes },
      ].entries()) {
        const dir = nextProject(world.root, `step-${i}`, previous);
        const added = await generateRoutes(dir, step.routes);
        if (step.app) {
          assert.is(added.length, 1, `${step.name}: one new migration (${added.join(', ')})`);
          assert.ok(added[0]?.startsWith(`${step.app}/`), `${step.name}: ${added[0]} is ${step.app}'s`);
        }
        const own = ownMigrations[i];
        if (own) ownMigration(dir, 'crowdtap', own[0], own[1]);
        const ran = [
          ...(await migrate(world.pub.knex, dir, 'crowdtap')),
          ...(await migrate(world.sub.knex, dir, 'sniper')),
        ];
        for (const file of added)
          assert.ok(ran.includes(file.slice(file.indexOf('/') + 1)), `${file} ran: ${ran.join(', ')}`);
        await replicate(world, dir, i, transport, coordinator);
        previous = dir;
      }
      await sameMigrations(world.sub.knex, previous as string);
      world.dir = previous as string;
    } finally {
      await coordinator.close();
      await transport.close();
    }
  });

  test('every migration rolls back, to the tables of the app alone', async (world) => {
    // A foreign key dropped later is made again on the way back: rows must satisfy it.
    await world.sub
      .knex('members')
      .whereNotIn('org_id', world.sub.knex('organizations').select('id'))
      .update({ org_id: null });
    assert.is((await rollbackAll(world.sub.knex, world.dir, 'sniper')).length, 6);
    assert.is((await rollbackAll(world.pub.knex, world.dir, 'crowdtap')).length, 6, 'its own migrations too');
    for (const table of ['members', 'organizations', 'profiles', versionsTable])
      assert.not.ok(await world.sub.knex.schema.hasTable(table), `sniper's ${table} is gone`);
    assert.not.ok(await world.pub.knex.schema.hasTable(outboxTable), "crowdtap's outbox is gone");
    assert.not.ok(await world.pub.knex.schema.hasColumn('users', '_v'), "crowdtap's users._v is gone");
  });

  test.run();
}

/** crowdtap writes through the step's hooks; sniper, on the step's schema, applies into its tables. */
async function replicate(
  world: World,
  dir: string,
  step: number,
  transport: Awaited<ReturnType<typeof connectTransport>>,
  coordinator: RedisCoordinator,
): Promise<void> {
  const { schema: crowdtap } = await generatedModule<{ schema: PublisherSchema<Tx> }>(dir, 'crowdtap/publisher.ts');
  const { schema: sniper } = await generatedModule<{ schema: SubscriberSchema }>(dir, 'sniper/subscriber.ts');
  const errors: Error[] = [];
  const subscriber = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport,
    coordinator,
    errorNotifier: (e) => errors.push(e),
  });
  await subscriber.start();
  const publisher = new Publisher({ schema: crowdtap, knex: world.pub.knex, transport });
  try {
    await publisher.transaction((tx) => (writes[step] as (tx: Tx) => Promise<void>)(tx));
    const want = expected[step] as Record<string, number>;
    const count = async (table: string) => Number((await world.sub.knex(table).count({ n: '*' }))[0]?.n);
    await eventually(
      async () => {
        for (const [table, n] of Object.entries(want)) if ((await count(table)) !== n) return undefined;
        return true;
      },
      15_000,
      `step ${step}: sniper holds ${JSON.stringify(want)}`,
    );
    assert.equal(errors, [], `step ${step}: nothing failed`);
  } finally {
    await publisher.close();
    await subscriber.stop();
  }
  if (step === 3) {
    const han = await world.sub.knex('members').where({ name: 'Han' }).first();
    assert.is(han.contact_email, 'han@falcon.example');
    assert.is(Number(han.org_id), 2);
    const row = (org: number) => ({ crowdtap_id: crypto.randomUUID(), name: 'Orphan', org_id: org });
    await world.sub.knex('members').insert(row(2));
    await world.sub.knex('members').where({ name: 'Orphan' }).delete();
    const refused = await world.sub
      .knex('members')
      .insert(row(999))
      .then(() => false)
      .catch(() => true);
    assert.ok(refused, 'members.org_id, added later, is a foreign key to organizations');
  }
  if (step === 6) {
    const lando = await world.sub.knex('members').where({ org_id: 3 }).first();
    assert.is(lando.name, null, 'name is no longer written, and allows NULL');
  }
  if (step === 4) {
    const luke = await world.sub.knex('members').where({ name: 'Luke' }).first();
    assert.equal([luke.type, Number(luke.points)], ['Member', 5]);
  }
}

/** The migration source of the last step names the migrations exactly as the folders did. */
async function sameMigrations(knex: Knex, dir: string): Promise<void> {
  const { migrationSource } = await generatedModule<{ migrationSource: Knex.MigrationSource<string> }>(
    dir,
    'sniper/migrations.ts',
  );
  const ran = (await knex('knex_migrations').select('name').orderBy('id')).map((r: { name: string }) => r.name);
  assert.equal(await migrationSource.getMigrations([]), ran);
  const [, pending] = (await knex.migrate.list({ migrationSource })) as [unknown[], unknown[]];
  assert.equal(pending, [], 'nothing is pending through the migration source either');
}
