/**
 * Derived attributes added to a project whose tables are published already: the one new
 * migration runs from the folders on PostgreSQL, MariaDB and SQLite, adds each derived column
 * (nullable, of its type, as the startup check wants it) and the refresh table, and rolls back
 * to the app's own tables as they were.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RequiredTable } from '../../src/runtime/index.js';
import { checkTables } from '../../src/runtime/db/schema-check.js';
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
import { type Dialect, database } from '../helpers/services.js';

const routes = (order: string) => `app shop
publish customers as Customer { id integer primary, name string }
publish orders as Order${order}
publish order_lines as OrderLine { id integer primary, order_id belongs_to Order, amount decimal(12, 2) }
`;

const before = routes(' { id integer primary, customer_id belongs_to Customer }');
const after = routes(` coalesce 200ms {
  id             integer primary
  customer_id    belongs_to Customer
  customer_name  from customer.name
  line_count     integer count(OrderLine)
  total          decimal(14, 2) sum(OrderLine.amount)
  biggest        decimal(12, 2)? max(OrderLine.amount)
}`);

const ownTables = [
  "await knex.schema.createTable('customers', (t) => { t.integer('id').primary(); t.string('name').notNullable(); });",
  "await knex.schema.createTable('orders', (t) => { t.integer('id').primary(); t.integer('customer_id').notNullable(); });",
  "await knex.schema.createTable('order_lines', (t) => { t.integer('id').primary(); t.integer('order_id'); t.decimal('amount', 12, 2); });",
].join('\n  ');

for (const dialect of ['sqlite', 'postgres', 'mariadb'] as Dialect[]) {
  const test = suite(`derived columns on ${dialect}`);

  test('are added to the published tables by one new migration, and roll back', async () => {
    const root = projectsRoot();
    const db = await database(dialect);
    try {
      const first = nextProject(root, 'before');
      ownMigration(first, 'shop', '20000101000000_tables', ownTables);
      await generateRoutes(first, before);
      await migrate(db.knex, first, 'shop');
      const second = nextProject(root, 'after', first);
      const added = await generateRoutes(second, after);
      assert.is(added.length, 1, added.join(', '));
      assert.equal(await migrate(db.knex, second, 'shop'), [added[0]?.slice('shop/'.length)]);

      const { tables } = await generatedModule<{ tables: readonly RequiredTable[] }>(second, 'shop/migrations.ts');
      assert.equal(await checkTables(db.knex, tables), [], 'the startup check finds every column it needs');
      // Rows made before the columns, and rows the app makes, hold no value until the publisher refreshes them.
      await db.knex('customers').insert({ id: 1, name: 'Leia' });
      await db.knex('orders').insert({ id: 1, customer_id: 1, _v: 1 });
      const row = await db.knex('orders').where('id', 1).first();
      assert.equal([row.customer_name, row.line_count, row.total, row.biggest], [null, null, null, null]);
      await db.knex('orders').where('id', 1).update({ customer_name: 'Leia', total: '12.50', line_count: 2 });
      assert.is(Number((await db.knex('orders').where('id', 1).first()).total), 12.5);

      await db.knex('promiscuous_refresh').insert({ model: 'Order', id: '1', due_at: Date.now() });
      const twice = await db
        .knex('promiscuous_refresh')
        .insert({ model: 'Order', id: '1', due_at: 0 })
        .then(
          () => 'inserted',
          () => 'refused',
        );
      assert.is(twice, 'refused', 'one refresh waits per subject: (model, id) is the primary key');

      assert.is((await rollbackAll(db.knex, second, 'shop')).length, 3);
      for (const column of ['customer_name', 'line_count', 'total', 'biggest', '_v'])
        assert.not.ok(await db.knex.schema.hasColumn('orders', column), `orders.${column} is gone`);
      assert.ok(await db.knex.schema.hasColumn('orders', 'customer_id'), "the app's own columns stay");
      assert.not.ok(await db.knex.schema.hasTable('promiscuous_refresh'));
    } finally {
      await db.drop();
      removeProjects(root);
    }
  });

  test.run();
}
