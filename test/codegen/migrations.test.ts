/**
 * The generated migrations, from the emitter alone: each change of the routes that changes
 * what a database needs gives one new migration with only the difference, an unchanged
 * project gives none, nothing is ever dropped or rewritten, and a folder that began with the
 * single migration of earlier versions is taken over. The folders live in memory here;
 * test/integration/migrations.test.ts runs the same steps on the databases.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  compile,
  type EmittedFile,
  emitWorkspace,
  type MigrationFolder,
  renderCompact,
} from '../../src/compiler/index.js';
import { firstRoutes, removalRoutes, routesSteps } from '../helpers/route-steps.js';

/** A generated folder in memory: path -> content. */
type Disk = Map<string, string>;

const migrationFile = /^[^/]+\/migrations\/(\d{14}_[a-z0-9_]+|promiscuous)\.ts$/;

function emit(routes: string, disk: Disk, now: Date): EmittedFile[] {
  const result = compile(
    { prom: ['routes.prom'] },
    { readFile: (path) => (path === 'routes.prom' ? routes : undefined), resolvePath: (_, path) => path },
  );
  assert.ok(result.workspace, result.diagnostics.map(renderCompact).join('\n'));
  const folders = new Map<string, MigrationFolder>();
  for (const app of result.workspace.apps.map((a) => a.name)) {
    const prefix = `${app}/migrations/`;
    const files = [...disk.keys()].filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
    const snapshot = disk.get(`${prefix}snapshot.json`);
    const legacy = disk.get(`${prefix}promiscuous.ts`);
    folders.set(app, { files, ...(snapshot ? { snapshot } : {}), ...(legacy ? { legacy } : {}) });
  }
  return emitWorkspace(result.workspace, { now, folders });
}

/** Generates into `disk` as `promiscuous generate` writes: resolves to the new migrations' paths. */
function generate(routes: string, disk: Disk, now = new Date('2026-03-01T12:00:00Z')): string[] {
  const files = emit(routes, disk, now);
  const added: string[] = [];
  for (const file of files) {
    const before = disk.get(file.path);
    if (migrationFile.test(file.path)) {
      assert.ok(before === undefined || before === file.content, `${file.path} is rewritten`);
      if (before === undefined) added.push(file.path);
    }
    disk.set(file.path, file.content);
  }
  return added;
}

const only = (paths: readonly string[]): string => {
  assert.is(paths.length, 1, `one new migration: ${paths.join(', ')}`);
  return paths[0] as string;
};

test('the first generation writes one migration per app: the runtime tables, `_v`, the subscriber tables', () => {
  const disk: Disk = new Map();
  const added = generate(firstRoutes, disk);
  assert.equal(added, [
    'crowdtap/migrations/20260301120000_outbox_users_v.ts',
    'sniper/migrations/20260301120000_versions_sinks_members.ts',
  ]);
  const sniper = disk.get(added[1] as string) as string;
  assert.match(sniper, "createTable('promiscuous_versions'");
  assert.match(sniper, "createTable('promiscuous_sinks'");
  assert.not.match(disk.get(added[0] as string) as string, 'promiscuous_sinks', 'a publisher has no sinks');
  assert.match(sniper, "table.bigIncrements('id');\n    table.uuid('crowdtap_id').notNullable().unique();");
  assert.match(sniper, "table.string('name', 255).notNullable();");
  assert.match(disk.get(added[0] as string) as string, "await addVersion(knex, 'users');");
});

test('each step of the routes writes exactly one migration, of the app it changes, holding only the difference', () => {
  const disk: Disk = new Map();
  generate(firstRoutes, disk);
  const texts: string[] = [];
  for (const [i, step] of routesSteps.entries()) {
    const path = only(generate(step.routes, disk, new Date(Date.UTC(2026, 2, 2 + i))));
    assert.ok(path.startsWith(`${step.app}/migrations/`), `${step.name}: ${path}`);
    texts.push(disk.get(path) as string);
    assert.equal(generate(step.routes, disk, new Date(Date.UTC(2027, 0, 1))), [], `${step.name}: nothing more`);
  }
  const [model, subscription, attribute, subtype, version] = texts as [string, string, string, string, string];
  assert.match(model, "await addVersion(knex, 'organizations');");
  assert.not.match(model, 'createTable');
  assert.match(subscription, "createTable('organizations'");
  assert.match(subscription, "table.integer('id').notNullable().primary();");
  // Columns added to a table that has rows are nullable; a relation is indexed and a foreign key.
  assert.match(attribute, "alterTable('members'");
  assert.match(attribute, "table.string('contact_email', 255).nullable();");
  assert.match(attribute, "table.integer('org_id').nullable().index().references('id').inTable('organizations');");
  // SQLite rebuilds members to add its foreign key: Knex can turn the checks off only outside a transaction.
  assert.match(attribute, 'export const config = { transaction: false };');
  // Outside Knex's transaction for SQLite's sake only: every other database takes one of its own.
  assert.match(attribute, 'await atomically(knex, async (knex) => {');
  assert.match(attribute, "if (knex.client.dialect === 'sqlite3') await fn(knex);\n  else await knex.transaction(fn);");
  for (const text of [model, subscription, subtype, version]) assert.not.match(text, 'transaction: false');
  assert.match(subtype, "table.string('type', 255).nullable();");
  assert.match(subtype, "table.integer('points').nullable();");
  assert.match(version, "createTable('profiles'");
  for (const text of texts) assert.not.match(text.slice(0, text.indexOf('export async function down')), /\.drop\w*\(/);
  const migrations = disk.get('sniper/migrations.ts') as string;
  assert.equal(
    [...migrations.matchAll(/\['(\d{14}_\w+\.ts)', migration\d+\]/g)].map((m) => m[1]),
    [...disk.keys()]
      .filter((p) => p.startsWith('sniper/migrations/') && p.endsWith('.ts'))
      .map((p) => p.slice('sniper/migrations/'.length))
      .sort(),
    'migrations.ts lists every migration, in the order Knex runs them',
  );
});

test('what the routes no longer need is kept and said; a column no longer written allows NULL', () => {
  const disk: Disk = new Map();
  generate(routesSteps[4]?.routes as string, disk);
  const removed = removalRoutes;
  const text = disk.get(only(generate(removed, disk, new Date('2026-04-01T00:00:00Z')))) as string;
  assert.match(text, '// organizations is no longer subscribed: it is kept.');
  assert.match(text, '// members.name is no longer subscribed: it is kept.');
  assert.match(text, "table.string('name', 255).nullable().alter();");
  // SQLite rebuilds the table to alter it; Knex turns foreign-key checks off for that only outside a transaction.
  assert.match(text, 'export const config = { transaction: false };');
  // members.org_id is still written, but organizations no longer holds its parents: a foreign
  // key would refuse the rows, so it goes; nothing else is dropped.
  assert.match(text, '// members.org_id no longer holds ids of rows stored in organizations: its foreign key is');
  const up = text.slice(0, text.indexOf('export async function down'));
  assert.equal(up.match(/\.drop\w*\([^)]*\)/g), [".dropForeign('org_id')"]);
  assert.equal(generate(removed, disk, new Date('2026-05-01T00:00:00Z')), [], 'said once');
  // Subscribed again: the table and columns are there, so nothing is written but the snapshot.
  assert.equal(generate(routesSteps[4]?.routes as string, disk, new Date('2026-06-01T00:00:00Z')), []);
});

test('a column whose type changed is not altered, and the migration says so', () => {
  const disk: Disk = new Map();
  const routes = (type: string) =>
    `app crowdtap\npublish users as User { id uuid primary, score ${type} }\napp sniper\nsubscribe User from "crowdtap/user" { score }\n`;
  generate(routes('integer'), disk);
  const text = disk.get(only(generate(routes('bigint'), disk, new Date('2026-04-01T00:00:00Z')))) as string;
  assert.match(text, '// users.score is now bigint in the routes, integer in the database: it is not altered.');
  assert.not.match(text.slice(0, text.indexOf('export async function down')), 'alterTable');
  assert.equal(generate(routes('bigint'), disk, new Date('2026-04-02T00:00:00Z')), [], 'said once');
  // NULL allowed later: the column is relaxed as the database holds it, never retyped.
  const relaxed = disk.get(only(generate(routes('integer?'), disk, new Date('2026-04-03T00:00:00Z')))) as string;
  assert.match(relaxed, "table.integer('score').nullable().alter()");
  const again = disk.get(only(generate(routes('string?'), disk, new Date('2026-04-04T00:00:00Z')))) as string;
  assert.match(again, '// users.score is now string in the routes, integer in the database: it is not altered.');
});

test('a subscriber key that changes stops generate, naming the way out', () => {
  const disk: Disk = new Map();
  const routes = (key: string) =>
    `app crowdtap\npublish users as User { id uuid primary, name string }\napp sniper\nsubscribe User from "crowdtap/user" into members${key} { name }\n`;
  generate(routes(''), disk);
  assert.throws(
    () => generate(routes(' foreign_key crowdtap_id'), disk),
    /the key of `members` changes from `id` to `crowdtap_id`.*subscribe into a new table \(`into members_v2`\)/,
  );
});

test('a new migration is named after the latest, even within the same second or with a clock behind', () => {
  const disk: Disk = new Map();
  generate(firstRoutes, disk, new Date('2026-03-01T12:00:00Z'));
  const next = only(generate(routesSteps[0]?.routes as string, disk, new Date('2026-03-01T12:00:00.900Z')));
  assert.is(next, 'crowdtap/migrations/20260301120001_organizations_v.ts');
  const behind = only(generate(routesSteps[1]?.routes as string, disk, new Date('2025-01-01T00:00:00Z')));
  assert.is(behind, 'sniper/migrations/20260301120001_organizations.ts');
});

test('tables that reference each other are created first, their foreign keys added once both exist', () => {
  const disk: Disk = new Map();
  const text = disk.get(
    only(
      generate(
        `app hr
publish people as Person { id integer primary, team_id belongs_to Team? }
publish teams as Team { id integer primary, lead_id belongs_to Person?, parent_id belongs_to Team? }
app directory
subscribe Person from "hr/person" into people { team_id }
subscribe Team from "hr/team" { lead_id, parent_id }
`,
        disk,
      ).filter((p) => p.startsWith('directory/')),
    ),
  ) as string;
  const createPeople = text.indexOf("createTable('people'");
  const createTeams = text.indexOf("createTable('teams'");
  const later = text.lastIndexOf("alterTable('");
  assert.ok(createPeople > 0 && createTeams > 0 && later > Math.max(createPeople, createTeams), text);
  assert.match(text, "references('id').inTable('teams')");
  assert.match(text, "references('id').inTable('people')");
  assert.match(text, "table.integer('parent_id').nullable().index().references('id').inTable('teams');");
  assert.match(text, "table.integer('lead_id').nullable().index();");
  assert.match(text, "table.foreign('lead_id').references('id').inTable('people');");
});

test('a constraint name longer than the databases take is shortened, the same every time', () => {
  const long = 'a_table_whose_name_is_long_enough_for_its_constraints';
  const routes = `app p\npublish ${long} as Thing { id integer primary, parent_id belongs_to Thing? }\napp s\nsubscribe Thing from "p/thing" into ${long} foreign_key thing_identifier integer { parent_id }\n`;
  const first = emit(routes, new Map(), new Date(0)).find((f) => /^s\/migrations\/\d/.test(f.path));
  const again = emit(routes, new Map(), new Date(0)).find((f) => /^s\/migrations\/\d/.test(f.path));
  assert.ok(first && again);
  assert.is(first.content, again.content);
  const names = [...first.content.matchAll(/'([a-z0-9_]+_(?:unique|index|foreign))'/g)].map((m) => m[1] as string);
  assert.is(names.length, 3, first.content);
  for (const name of names) assert.ok(name.length <= 60, name);
});

test('an unmanaged table is described but never created; managed again, it is taken over as it is', () => {
  const disk: Disk = new Map();
  const routes = (unmanaged: string) =>
    `app crowdtap\npublish users as User { id uuid primary, name string }\napp sniper\nsubscribe User from "crowdtap/user" into members ${unmanaged} { name }\n`;
  const first = disk.get(only(generate(routes('unmanaged'), disk).filter((p) => p.startsWith('sniper/')))) as string;
  assert.not.match(first, "'members'");
  assert.match(
    disk.get('sniper/migrations.ts') as string,
    "name: 'members', role: 'subscribed', managed: false,\n    columns: [\n      { name: 'id', kind: 'uuid', nullable: false },",
  );
  const adopted = disk.get(only(generate(routes(''), disk, new Date('2026-04-01T00:00:00Z')))) as string;
  assert.match(adopted, "if (!(await knex.schema.hasTable('members'))) {");
  assert.match(adopted, "await addMissing(knex, 'members', {");
  const back = disk.get(only(generate(routes('unmanaged'), disk, new Date('2026-05-01T00:00:00Z')))) as string;
  assert.match(back, '// members is now unmanaged: the migrations leave it as it is from here on.');
});

test('a table taken over is never referenced by a foreign key, in a later migration either', () => {
  const disk: Disk = new Map();
  const crowdtap = `app crowdtap\npublish users as User { id uuid primary, name string }\npublish posts as Post { id integer primary, author_id belongs_to User }\n`;
  const sniper = (unmanaged: string, posts: string) =>
    `${crowdtap}app sniper\nsubscribe User from "crowdtap/user" into members ${unmanaged} { name }\n${posts}`;
  generate(sniper('unmanaged', ''), disk);
  const adopted = disk.get(only(generate(sniper('', ''), disk, new Date('2026-04-01T00:00:00Z')))) as string;
  assert.match(adopted, "await addMissing(knex, 'members', {");
  const later = sniper('', 'subscribe Post from "crowdtap/post" { author_id }\n');
  const posts = disk.get(only(generate(later, disk, new Date('2026-05-01T00:00:00Z')))) as string;
  assert.match(posts, "await knex.schema.createTable('posts', (table) => {");
  assert.not.match(posts, 'members', 'no foreign key to the hand-made members: its key may not be unique');
  // A table the migrations made from the start is referenced as ever.
  const fresh: Disk = new Map();
  const made = fresh.get(only(generate(later, fresh).filter((p) => p.startsWith('sniper/'))));
  assert.match(made as string, "inTable('members')");
});

test('a folder generated by an earlier version: its migration is the baseline, untouched, and sorts last', () => {
  const disk: Disk = new Map();
  for (const app of ['crowdtap', 'sniper']) {
    const legacy = readFileSync(new URL(`../fixtures/legacy/${app}/promiscuous.ts`, import.meta.url), 'utf8');
    disk.set(`${app}/migrations/promiscuous.ts`, legacy);
  }
  const users = readFileSync(new URL('../../examples/users/routes.prom', import.meta.url), 'utf8');
  const before = new Map(disk);
  // crowdtap's migration made all crowdtap needs; sniper's made its versions, not its tables.
  // (mailer had none: it gets its first.)
  const added = generate(users, disk).filter((p) => !p.startsWith('mailer/'));
  const sniper = disk.get(only(added)) as string;
  assert.ok(only(added).startsWith('sniper/migrations/'));
  assert.not.match(sniper, 'promiscuous_versions');
  assert.match(sniper, "if (!(await knex.schema.hasTable('members'))) {");
  for (const [path, content] of before) assert.is(disk.get(path), content, `${path} is untouched`);
  const module = disk.get('sniper/migrations.ts') as string;
  assert.ok(module.indexOf("['promiscuous.ts'") > module.indexOf(`['${only(added).slice(18)}'`), module);
  assert.match(
    disk.get('crowdtap/migrations.ts') as string,
    "{ name: '_v', kind: 'bigint', nullable: false, migration: 'promiscuous.ts' }",
  );
  assert.equal(generate(users, disk, new Date('2027-01-01T00:00:00Z')), [], 'and nothing more');
});

test('a subscriber generated before sinks gets one migration that adds their table, and lists it', () => {
  const disk: Disk = new Map();
  generate(firstRoutes, disk);
  // The snapshot and migration of a version that had no sinks' table.
  const path = 'sniper/migrations/20260301120000_versions_sinks_members.ts';
  const migration = (disk.get(path) as string).replace(
    /\n {2}await knex\.schema\.createTable\('promiscuous_sinks'[^]*?\n {2}\}\);/,
    '',
  );
  disk.delete(path);
  disk.set('sniper/migrations/20260301120000_versions_members.ts', migration);
  const snapshot = JSON.parse(disk.get('sniper/migrations/snapshot.json') as string) as Record<string, unknown>;
  delete snapshot.sinks;
  disk.set('sniper/migrations/snapshot.json', JSON.stringify(snapshot));

  const added = only(generate(firstRoutes, disk, new Date('2026-04-01T00:00:00Z')));
  assert.is(added, 'sniper/migrations/20260401000000_sinks.ts');
  const text = disk.get(added) as string;
  assert.match(text, "await knex.schema.createTable('promiscuous_sinks', (table) => {");
  assert.match(text, "table.primary(['sink', 'publisher', 'endpoint', 'object_id']);");
  assert.match(text, "await knex.schema.dropTable('promiscuous_sinks');");
  assert.not.match(text, 'promiscuous_versions');
  assert.match(
    disk.get('sniper/migrations.ts') as string,
    "{ name: 'payload', kind: 'text', nullable: true, migration: '20260401000000_sinks.ts' }",
  );
  assert.equal(generate(firstRoutes, disk, new Date('2027-01-01T00:00:00Z')), [], 'and nothing more');
});

test('derived attributes added to a published project: their columns and the refresh table, in one new migration', () => {
  const disk: Disk = new Map();
  const routes = (derived: string, coalesce = '') =>
    [
      'app shop',
      'publish customers as Customer { id integer primary, name string }',
      `publish orders as Order${coalesce} {`,
      '  id           integer primary',
      '  customer_id  belongs_to Customer',
      derived,
      '}',
      'publish order_lines as OrderLine { id integer primary, order_id belongs_to Order, amount decimal(12, 2) }',
      '',
    ].join('\n');
  generate(routes(''), disk);
  const derived =
    '  customer_name from customer.name\n  line_count integer count(OrderLine)\n  biggest decimal(12, 2)? max(OrderLine.amount)';
  const path = only(generate(routes(derived, ' coalesce 200ms'), disk, new Date('2026-04-01T00:00:00Z')));
  assert.is(path, 'shop/migrations/20260401000000_refresh_orders_customer_name_orders_line_count.ts');
  const text = disk.get(path) as string;
  assert.match(text, "createTable('promiscuous_refresh'");
  assert.match(text, "table.primary(['model', 'id']);");
  assert.match(text, "table.bigInteger('due_at').notNullable().index();");
  assert.match(
    text,
    "alterTable('orders', (table) => {\n    table.string('customer_name', 255).nullable();\n    table.integer('line_count').nullable();\n    table.decimal('biggest', 12, 2).nullable();\n  });",
  );
  assert.match(text, "await dropDerived(knex, 'orders', ['customer_name', 'line_count', 'biggest']);");
  assert.not.match(text, 'addVersion', 'the tables were published before');
  const file = path.slice('shop/migrations/'.length);
  const module = disk.get('shop/migrations.ts') as string;
  assert.match(module, `{ name: 'line_count', kind: 'integer', nullable: true, migration: '${file}' },`);
  assert.match(module, `name: 'promiscuous_refresh', role: 'refresh', managed: true,`);
  assert.match(disk.get('shop/migrations/snapshot.json') as string, '"derived": [');
  assert.equal(generate(routes(derived, ' coalesce 200ms'), disk, new Date('2026-04-02T00:00:00Z')), [], 'none again');
  // No longer derived: the column stays, and the migration says so once.
  const removed = disk.get(only(generate(routes(''), disk, new Date('2026-04-03T00:00:00Z')))) as string;
  assert.match(removed, '// orders.line_count is no longer derived: it is kept.');
  assert.match(removed, '// promiscuous_refresh is no longer needed by the routes: it is kept.');
  const up = removed.slice(removed.indexOf('export async function up'), removed.indexOf('export async function down'));
  assert.not.match(up, /drop|alter/i);
  assert.equal(generate(routes(''), disk, new Date('2026-04-04T00:00:00Z')), [], 'said once');
  assert.equal(generate(routes(derived), disk, new Date('2026-04-05T00:00:00Z')), [], 'derived again: all there');
});

test('a snapshot that is not one, or migrations without their snapshot, stop generation with the fix', () => {
  const disk: Disk = new Map();
  generate(firstRoutes, disk);
  const broken = new Map(disk).set('sniper/migrations/snapshot.json', '{ "format": 1, "app": "mailer" }');
  assert.throws(
    () => emit(firstRoutes, broken, new Date()),
    /sniper\/migrations\/snapshot\.json is not a snapshot of app `sniper`: it is app "mailer"'s; restore it from version control/,
  );
  const lost = new Map(disk);
  lost.delete('sniper/migrations/snapshot.json');
  assert.throws(
    () => emit(firstRoutes, lost, new Date()),
    /sniper\/migrations holds migrations \(20260301120000_versions_sinks_members\.ts\) but no snapshot\.json/,
  );
});

test.run();
