/**
 * `promiscuous refresh`: after a migration adds derived attributes to rows that exist, their
 * columns are empty until the command computes them, and it publishes the rows it changes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import knex from 'knex';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/cli/index.js';
import { generateRoutes, migrate, nextProject, projectsRoot, removeProjects } from '../helpers/project.js';
import { randomName } from '../helpers/services.js';
import { removeNamespace } from '../helpers/world.js';

const routes = `
app shop
publish customers as Customer { id integer primary, name string }
publish orders as Order {
  id             integer primary
  customer_id    belongs_to Customer
  customer_name  from customer.name
  line_count     integer count(OrderLine)
}
publish order_lines as OrderLine { id integer primary, order_id belongs_to Order }
`;

async function cli(
  config: string,
  namespace: string,
  ...args: string[]
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const previous = process.env.PROMISCUOUS_NAMESPACE;
  process.env.PROMISCUOUS_NAMESPACE = namespace;
  try {
    const code = await runCli(['node', 'promiscuous', ...args, '--config', config], {
      info: (line) => void out.push(line),
      error: (line) => void err.push(line),
    });
    return { code, out, err };
  } finally {
    if (previous === undefined) delete process.env.PROMISCUOUS_NAMESPACE;
    else process.env.PROMISCUOUS_NAMESPACE = previous;
  }
}

test('refresh fills the derived columns of existing rows, publishes them once, and says how many', async () => {
  const root = projectsRoot();
  const namespace = randomName('prom');
  const dir = nextProject(root, 'refresh');
  const file = join(dir, 'shop.sqlite');
  const db = knex({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
  try {
    await generateRoutes(dir, routes);
    await db.schema.createTable('customers', (t) => {
      t.integer('id').primary();
      t.string('name');
    });
    await db.schema.createTable('orders', (t) => {
      t.integer('id').primary();
      t.integer('customer_id');
    });
    await db.schema.createTable('order_lines', (t) => {
      t.integer('id').primary();
      t.integer('order_id');
    });
    await migrate(db, dir, 'shop');
    // Rows from before the derived attributes: their columns are empty.
    await db('customers').insert([{ id: 1, name: 'Jane', _v: 1 }]);
    await db('orders').insert([1, 2, 3].map((id) => ({ id, customer_id: 1, _v: 1 })));
    await db('order_lines').insert([{ id: 1, order_id: 2, _v: 1 }]);
    const config = join(dir, 'promiscuous.config.ts');
    writeFileSync(
      config,
      `export default {
  routes: ['routes.prom'],
  database: { client: 'better-sqlite3', connection: { filename: ${JSON.stringify(file)} }, useNullAsDefault: true },
};
`,
    );

    const first = await cli(config, namespace, 'refresh', 'Order', '--app', 'shop');
    assert.is(first.code, 0, first.err.join('\n'));
    assert.equal(first.out, ['[shop] Order: 3 rows refreshed']);
    const rows = await db('orders').select('id', 'customer_name', 'line_count', '_v').orderBy('id');
    assert.equal(rows, [
      { id: 1, customer_name: 'Jane', line_count: 0, _v: 2 },
      { id: 2, customer_name: 'Jane', line_count: 1, _v: 2 },
      { id: 3, customer_name: 'Jane', line_count: 0, _v: 2 },
    ]);
    const [{ n }] = (await db('promiscuous_outbox').count({ n: '*' })) as [{ n: number }];
    assert.is(Number(n), 0, 'the relay published what it wrote');

    const again = await cli(config, namespace, 'refresh', 'Order', '--app', 'shop');
    assert.is(again.code, 0);
    assert.equal((await db('orders').max({ v: '_v' }))[0], { v: 2 }, 'a second run changes nothing');

    const wrong = await cli(config, namespace, 'refresh', 'Customer', '--app', 'shop');
    assert.is(wrong.code, 64);
    assert.match(wrong.err.join('\n'), 'Customer: no model of shop with derived attributes (those with some: Order)');
  } finally {
    await db.destroy();
    await removeNamespace(namespace, 'shop').catch(() => {});
    removeProjects(root);
  }
});

test.run();
