/** The shop example's shop app: its database, with its own tables and its generated migrations run. */
import { migrationSource as shopMigrations } from '../../examples/shop/generated/shop/migrations.js';
import { database, type TestDatabase } from './services.js';

/** A fresh SQLite database of the shop app. */
export async function shopDatabase(): Promise<TestDatabase> {
  const db = await database('sqlite');
  await db.knex.schema.createTable('customers', (t) => {
    t.uuid('id').primary();
    t.string('email').notNullable();
    t.string('name').notNullable();
    t.string('phone');
    t.timestamp('created_at').notNullable();
    t.timestamp('updated_at').notNullable();
  });
  await db.knex.schema.createTable('orders', (t) => {
    t.uuid('id').primary();
    t.uuid('customer_id').notNullable().references('id').inTable('customers');
    t.string('status').notNullable();
    t.decimal('total', 12, 2).notNullable();
    t.string('currency').notNullable();
    t.string('customer_notes');
    t.timestamp('placed_at');
    t.timestamp('created_at').notNullable();
    t.timestamp('updated_at').notNullable();
  });
  await db.knex.schema.createTable('order_lines', (t) => {
    t.uuid('id').primary();
    t.uuid('order_id').notNullable();
    t.string('sku');
    t.integer('quantity');
    t.decimal('unit_price', 10, 2);
  });
  await db.knex.migrate.latest({ migrationSource: shopMigrations });
  return db;
}
