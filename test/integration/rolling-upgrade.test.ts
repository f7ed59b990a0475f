/**
 * A rolling upgrade through the real services, with messages in flight at every step: shop
 * publishes accounts and teams, mirror stores them. v2 of shop adds an optional attribute
 * (`bio`), a required one (`nickname`), a subtype (`Vip`) and an endpoint (`shop/note`, which
 * mirror's pattern binding `shop.#` reaches) while mirror v1 still runs; mirror v2, which
 * stores `bio`, starts while v1-shaped messages wait in its queue, and shop v1 keeps writing
 * beside v2; then shop v3 breaks the contract (`score` becomes a string). Every row a
 * publisher committed must be on mirror's side with the right values, except exactly v3's
 * accounts, whose messages must all be parked with a reason that names the difference.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type AmqpTransport,
  type Envelope,
  type ModelHooks,
  type ObservedEvent,
  Publisher,
  type PublisherSchema,
  RedisCoordinator,
  Subscriber,
  type SubscriberSchema,
  type Transport,
} from '../../src/runtime/index.js';
import { recordingLogger } from '../helpers/log.js';
import {
  generatedModule,
  generateRoutes,
  migrate,
  nextProject,
  projectsRoot,
  removeProjects,
} from '../helpers/project.js';
import { type Dialect, database, eventually, randomName, redisUrl, type TestDatabase } from '../helpers/services.js';
import { connectTransport, removeNamespace } from '../helpers/world.js';

const shop = {
  v1: `
app shop
publish accounts as Account to "shop/account" {
  id     uuid primary
  name   string
  score  integer
}
publish teams as Team to "shop/team" { id integer primary, name string }
`,
  v2: `
app shop
publish accounts as Account to "shop/account" {
  id        uuid primary
  name      string
  score     integer
  bio       string?
  nickname  string
}
publish accounts as Vip extends Account when kind = "vip" { perks integer }
publish teams as Team to "shop/team" { id integer primary, name string }
publish notes as Note to "shop/note" { id integer primary, text string }
`,
  v3: `
app shop
publish accounts as Account to "shop/account" {
  id        uuid primary
  name      string
  score     string column score_label
  bio       string?
  nickname  string
}
publish accounts as Vip extends Account when kind = "vip" { perks integer }
publish teams as Team to "shop/team" { id integer primary, name string }
publish notes as Note to "shop/note" { id integer primary, text string }
`,
};

const mirror = {
  v1: `
app mirror
subscribe Account from "shop/account" into accounts foreign_key shop_id uuid { name, score }
subscribe Team from "shop.#" into teams { name }
`,
  v2: `
app mirror
subscribe Account from "shop/account" into accounts foreign_key shop_id uuid { name, score, bio }
subscribe Team from "shop.#" into teams { name }
`,
};

type Row = Record<string, unknown>;
type Hooks = Record<string, ModelHooks<Row, Row, Row>>;
type Version = 'v1' | 'v2' | 'v3';

/** What one version of the routes generates, loaded from the files `promiscuous generate` would write. */
interface Generated {
  readonly publisher: PublisherSchema<Hooks>;
  readonly subscriber?: SubscriberSchema;
  /** Runs the app's generated migrations, in their order. */
  migrate(app: 'shop' | 'mirror', knex: Knex): Promise<void>;
}

/**
 * Each version is a project of its own, generated from the previous one's folder as a team
 * regenerates in place: its migrations are the previous ones and the difference.
 */
async function generate(root: string, version: string, routes: string, previous?: string): Promise<Generated> {
  const dir = nextProject(root, version, previous && join(root, previous));
  await generateRoutes(dir, routes);
  const load = (path: string) => generatedModule<{ schema: never }>(dir, path);
  const subscribes = existsSync(join(dir, 'generated', 'mirror', 'subscriber.ts'));
  return {
    publisher: (await load('shop/publisher.ts')).schema,
    ...(subscribes ? { subscriber: (await load('mirror/subscriber.ts')).schema } : {}),
    async migrate(app, knex) {
      await migrate(knex, dir, app);
    },
  };
}

/** One write of an account by a publisher, and the state it leaves on the publisher's side. */
interface Write {
  readonly by: Version;
  readonly id: string;
  readonly version: number;
  readonly name: string;
  readonly score: number | string;
  /** The `bio` its message carries: v2's messages carry the row's, v1's none. */
  readonly bio?: string | null;
}

/** An operation a subscriber applied, seen by its callbacks. */
interface Applied {
  readonly by: 'v1' | 'v2';
  readonly type: string;
  readonly id: string;
  readonly version: number;
  readonly attributes: Row | null;
}

interface World {
  /** Where the routes' versions are generated. */
  root: string;
  pub: TestDatabase;
  sub: TestDatabase;
  namespace: string;
  transport: AmqpTransport;
  generated: Record<Version, Generated>;
  publishers: Partial<Record<Version, Publisher<Hooks>>>;
  subscribers: Partial<Record<'v1' | 'v2', Subscriber>>;
  coordinators: RedisCoordinator[];
  /** The publishers' connections. */
  knexes: Knex[];
  logs: Record<'v1' | 'v2', ReturnType<typeof recordingLogger>>;
  /** Every envelope a publisher sent. */
  sent: Envelope[];
  writes: Write[];
  applied: Applied[];
  teams: Map<number, string>;
  errors: Error[];
}

const pairs: [Dialect, Dialect][] = [
  ['postgres', 'mariadb'],
  ['mariadb', 'postgres'],
];

for (const [from, to] of pairs) {
  const test = suite<World>(`rolling upgrade ${from} -> ${to}`, {} as World);

  test.before(async (world) => {
    world.root = projectsRoot();
    world.generated = {
      v1: await generate(world.root, 'v1', shop.v1 + mirror.v1),
      v2: await generate(world.root, 'v2', shop.v2 + mirror.v2, 'v1'),
      v3: await generate(world.root, 'v3', shop.v3, 'v2'),
    };
    world.pub = await database(from);
    world.sub = await database(to);
    world.namespace = randomName('prom');
    world.transport = await connectTransport(world.namespace, { retryDelaysMs: [50, 100] });
    Object.assign(world, { publishers: {}, subscribers: {}, coordinators: [], knexes: [] });
    Object.assign(world, { sent: [], writes: [], applied: [] });
    world.logs = { v1: recordingLogger(), v2: recordingLogger() };
    world.teams = new Map();
    world.errors = [];
  });

  test.after(async (world) => {
    for (const subscriber of Object.values(world.subscribers)) await subscriber.stop();
    for (const publisher of Object.values(world.publishers)) await publisher.close();
    for (const coordinator of world.coordinators) await coordinator.close();
    for (const own of world.knexes) await own.destroy();
    await world.transport?.close();
    await world.pub?.drop();
    await world.sub?.drop();
    await removeNamespace(world.namespace, 'mirror');
    removeProjects(world.root);
  });

  test('v1 -> v2 publisher -> v2 subscriber -> breaking v3 publisher: nothing lost, the breaking messages parked', async (world) => {
    const { pub, sub, generated } = world;

    // v1 everywhere.
    await pub.knex.schema.createTable('accounts', (t) => {
      t.uuid('id').primary();
      t.string('name').notNullable();
      t.integer('score').notNullable().defaultTo(0);
    });
    await pub.knex.schema.createTable('teams', (t) => {
      t.integer('id').primary();
      t.string('name').notNullable();
    });
    await generated.v1.migrate('shop', pub.knex);
    // Mirror's tables are its generated migrations'.
    await generated.v1.migrate('mirror', sub.knex);
    await startSubscriber(world, 'v1');
    const p1 = startPublisher(world, 'v1');

    const v1Accounts = Array.from({ length: 10 }, () => crypto.randomUUID());
    await p1.transaction(async (tx) => {
      for (const [i, id] of v1Accounts.slice(0, 4).entries())
        await tx.Account?.create({ id, name: `v1 ${i}`, score: i });
    });
    for (const id of v1Accounts.slice(0, 4)) await record(world, 'v1', id);
    for (const [i, id] of v1Accounts.slice(4).entries()) await createAccount(world, 'v1', id, { score: 4 + i });
    for (const team of [1, 2, 3]) await writeTeam(world, 'v1', team, 'create');

    // shop v2 deploys beside v1, while mirror v1 runs and v1's messages are in flight.
    await pub.knex.schema.alterTable('accounts', (t) => {
      t.string('bio');
      t.string('nickname').notNullable().defaultTo('');
      t.string('kind', 16);
      t.integer('perks');
    });
    await pub.knex.schema.createTable('notes', (t) => {
      t.integer('id').primary();
      t.string('text').notNullable();
    });
    await generated.v2.migrate('shop', pub.knex);
    const p2 = startPublisher(world, 'v2');

    const v2Accounts = Array.from({ length: 6 }, () => crypto.randomUUID());
    const vips = Array.from({ length: 2 }, () => crypto.randomUUID());
    for (const [i, id] of v2Accounts.entries()) {
      await createAccount(world, 'v2', id, { score: 20 + i, bio: i % 3 === 0 ? null : `bio ${i}`, nickname: `n${i}` });
      await updateAccount(world, 'v1', v1Accounts[i] as string, { name: `v1 ${i} renamed by v1` });
    }
    for (const [i, id] of vips.entries())
      await createAccount(world, 'v2', id, { score: 30 + i, bio: `vip ${i}`, nickname: `vip${i}`, perks: i }, 'Vip');
    for (const [i, id] of v1Accounts.slice(6).entries())
      await updateAccount(world, 'v2', id, { name: `v1 ${6 + i} renamed by v2`, bio: `late bio ${i}` });
    await p2.transaction(async (tx) => void (await tx.Note?.create({ id: 1, text: 'a new endpoint' })));
    await writeTeam(world, 'v2', 2, 'update');
    // Mirror v1 applies v2's shape (a subtype among it) and skips the new endpoint before it goes.
    await eventually(async () => (world.applied.some((a) => a.by === 'v1' && a.id === vips[0]) ? true : undefined));
    await eventually(async () => world.logs.v1.records.find((r) => r.msg?.startsWith('skipping Note on shop/note')));

    // mirror v2 deploys: its migration (the `bio` column) first, then v1 stops, and v1-shaped
    // messages wait in the queue for v2.
    await generated.v2.migrate('mirror', sub.knex);
    await world.subscribers.v1?.stop();
    delete world.subscribers.v1;
    const queued = Array.from({ length: 3 }, () => crypto.randomUUID());
    for (const [i, id] of queued.entries()) await createAccount(world, 'v1', id, { score: 40 + i });
    await updateAccount(world, 'v1', v2Accounts[1] as string, { name: 'v2 1 renamed by v1 while no mirror ran' });
    await p1.relay?.flush();
    await startSubscriber(world, 'v2');

    // Both publishers go on: v1's updates must leave the bio v2 wrote.
    const kept = Array.from({ length: 3 }, () => crypto.randomUUID());
    for (const [i, id] of kept.entries()) {
      await createAccount(world, 'v2', id, { score: 50 + i, bio: `kept ${i}`, nickname: `k${i}` });
      await updateAccount(world, 'v1', id, { name: `kept ${i} renamed by v1` });
    }
    await writeTeam(world, 'v1', 3, 'update');
    await p2.transaction(async (tx) => void (await tx.Note?.create({ id: 2, text: 'one more' })));

    // shop v3 deploys and breaks `score`; v1 is gone, v2 goes on beside v3.
    await p1.relay?.flush();
    await p1.close();
    delete world.publishers.v1;
    await pub.knex.schema.alterTable('accounts', (t) => void t.string('score_label'));
    await generated.v3.migrate('shop', pub.knex);
    startPublisher(world, 'v3');
    const broken = Array.from({ length: 3 }, () => crypto.randomUUID());
    for (const [i, id] of broken.entries()) {
      await createAccount(world, 'v3', id, { score_label: `${i} points`, nickname: `b${i}` });
      await writeTeam(world, 'v3', 10 + i, 'create');
      await createAccount(world, 'v2', crypto.randomUUID(), { score: 60 + i, bio: null, nickname: `after${i}` });
    }
    await updateAccount(world, 'v3', v2Accounts[2] as string, { name: 'v2 2 renamed by v3', score_label: 'many' });
    await updateAccount(world, 'v3', v1Accounts[0] as string, { name: 'v1 0 renamed by v3', score_label: 'few' });
    await updateAccount(world, 'v2', v2Accounts[3] as string, { name: 'v2 3 renamed by v2 after v3' });
    await writeTeam(world, 'v3', 1, 'update');
    for (const publisher of Object.values(world.publishers)) await publisher.relay?.flush();

    // Every write of v1 and v2 applied; every v3 account message parked.
    const expected = world.writes.filter((w) => w.by !== 'v3');
    const teams = [...world.teams].sort(([a], [b]) => a - b);
    const storedTeams = async () =>
      ((await sub.knex('teams').select('id', 'name').orderBy('id')) as Row[]).map((t) => [Number(t.id), t.name]);
    await eventually(
      async () =>
        expected.every((w) => appliedBy(world, w) !== undefined) &&
        JSON.stringify(await storedTeams()) === JSON.stringify(teams)
          ? true
          : undefined,
      30_000,
      'every write of v1 and v2 applied',
    );
    const breaking = [...new Map(world.sent.map((e) => [e.id, e])).values()].filter((e) =>
      e.operations.some((op) => op.endpoint === 'shop/account' && typeof op.attributes?.score === 'string'),
    );
    assert.is(breaking.length, 5);
    const parked = await eventually(
      async () => {
        const list = await world.transport.parked('mirror');
        return new Set(list.map((p) => p.messageId)).size >= breaking.length ? list : undefined;
      },
      30_000,
      'the breaking messages parked',
    );
    assert.equal([...new Set(parked.map((p) => p.messageId))].sort(), breaking.map((e) => e.id).sort());
    for (const p of parked) {
      const op = breaking.find((e) => e.id === p.messageId)?.operations[0];
      assert.match(
        p.reason,
        `Account ${op?.id} on shop/account does not fit mirror's subscription Account: ` +
          '`score` arrived as a string where mirror expects an integer. shop and mirror disagree',
      );
    }
    for (const w of world.writes.filter((x) => x.by === 'v3'))
      assert.is(appliedBy(world, w), undefined, `v3's ${w.id} at ${w.version} is not applied`);

    // Every row: the values of its last v1 or v2 write; `bio` as mirror v2 last wrote it.
    const ids = [...new Set(world.writes.map((w) => w.id))];
    const rows = (await sub.knex('accounts').select('shop_id', 'name', 'score', 'bio')) as Row[];
    const byId = new Map(rows.map((r) => [String(r.shop_id), r]));
    for (const id of ids) {
      const last = expected.filter((w) => w.id === id).at(-1);
      const row = byId.get(id);
      if (!last) {
        assert.is(row, undefined, `${id}, created by v3, is not stored`);
        continue;
      }
      const bioWrite = expected.filter((w) => w.id === id && w.bio !== undefined).at(-1);
      const bio = bioWrite && appliedBy(world, bioWrite) === 'v2' ? bioWrite.bio : null;
      assert.equal(
        { name: row?.name, score: Number(row?.score), bio: row?.bio },
        { name: last.name, score: last.score, bio },
        id,
      );
    }
    assert.is(rows.length, ids.length - broken.length);
    for (const [i, id] of kept.entries()) assert.is(byId.get(id)?.bio, `kept ${i}`, 'absent is not null');
    for (const id of queued) {
      assert.is(byId.get(id)?.bio, null);
      assert.is(appliedBy(world, expected.find((w) => w.id === id) as Write), 'v2');
    }
    assert.equal(await storedTeams(), teams);

    // Mirror v1 applied v2's shape; the new endpoint was skipped by both, never parked.
    assert.ok(world.applied.some((a) => a.by === 'v1' && a.type === 'Vip' && a.attributes?.nickname !== undefined));
    for (const by of ['v1', 'v2'] as const) {
      const skipped = world.logs[by].records.filter((r) => r.msg?.startsWith('skipping Note on shop/note'));
      assert.equal(
        skipped.map((r) => r.level),
        ['warn'],
        `mirror ${by} warned once`,
      );
    }
    assert.equal(
      world.errors.filter((e) => !e.message.includes('parked')).map((e) => e.message),
      [],
    );
  });

  test.run();
}

function startPublisher(world: World, version: Version): Publisher<Hooks> {
  const recording: Transport = Object.assign(Object.create(world.transport) as Transport, {
    publish: async (messages: Parameters<Transport['publish']>[0]) => {
      for (const m of messages) world.sent.push(JSON.parse(m.body.toString('utf8')) as Envelope);
      await world.transport.publish(messages);
    },
  });
  // Each version runs in processes of its own, with connections of its own: a publisher
  // reports writes through another Knex instance to its tables as bypassing its hooks.
  const own = knex(world.pub.knex.client.config as Knex.Config);
  world.knexes.push(own);
  const publisher = new Publisher<Hooks>({
    schema: world.generated[version].publisher,
    knex: own,
    transport: recording,
    errorNotifier: (e) => world.errors.push(e),
  });
  world.publishers[version] = publisher;
  return publisher;
}

async function startSubscriber(world: World, version: 'v1' | 'v2'): Promise<void> {
  const coordinator = await RedisCoordinator.connect(redisUrl, world.namespace);
  world.coordinators.push(coordinator);
  const seen = (event: ObservedEvent<Row>): void =>
    void world.applied.push({
      by: version,
      type: event.envelope.operations.find((op) => op.id === event.id)?.types[0] ?? '?',
      id: event.id,
      version: event.version,
      attributes: event.attributes,
    });
  const callbacks = { afterCreate: seen, afterUpdate: seen, afterSync: seen };
  const subscriber = new Subscriber({
    schema: world.generated[version].subscriber as SubscriberSchema,
    knex: world.sub.knex,
    transport: world.transport,
    coordinator,
    prefetch: 10,
    logger: world.logs[version],
    callbacks: { Account: callbacks, Team: callbacks },
    errorNotifier: (e) => world.errors.push(e),
  });
  await subscriber.start();
  world.subscribers[version] = subscriber;
}

/** Which subscriber committed a write: the last that applied its version (an earlier try may have rolled back). */
function appliedBy(world: World, write: Write): 'v1' | 'v2' | undefined {
  return world.applied.filter((a) => a.id === write.id && a.version === write.version).at(-1)?.by;
}

function hooks(world: World, version: Version): Publisher<Hooks> {
  const publisher = world.publishers[version];
  if (!publisher) throw new Error(`publisher ${version} is not running`);
  return publisher;
}

async function createAccount(world: World, by: Version, id: string, values: Row, type = 'Account'): Promise<void> {
  await hooks(world, by).transaction(
    async (tx) => void (await tx[type]?.create({ id, name: `${by} ${id}`, ...values })),
  );
  await record(world, by, id);
}

async function updateAccount(world: World, by: Version, id: string, changes: Row): Promise<void> {
  await hooks(world, by).transaction(async (tx) => void (await tx.Account?.update(id, changes)));
  await record(world, by, id);
}

/** Records the state a write left on the publisher's side, at the row's new version. */
async function record(world: World, by: Version, id: string): Promise<void> {
  const row = (await world.pub.knex('accounts').where('id', id).first()) as Row;
  world.writes.push({
    by,
    id,
    version: Number(row._v),
    name: String(row.name),
    score: by === 'v3' ? String(row.score_label) : Number(row.score),
    ...(by === 'v1' ? {} : { bio: (row.bio as string | null) ?? null }),
  });
}

async function writeTeam(world: World, by: Version, id: number, operation: 'create' | 'update'): Promise<void> {
  const name = `team ${id} by ${by}`;
  await hooks(world, by).transaction(async (tx) =>
    operation === 'create' ? void (await tx.Team?.create({ id, name })) : void (await tx.Team?.update(id, { name })),
  );
  world.teams.set(id, name);
}
