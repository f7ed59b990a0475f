import type { Knex } from 'knex';
import { migrationSource as crowdtapMigrations } from './generated/crowdtap/migrations.js';
import { migrationSource as sniperMigrations } from './generated/sniper/migrations.js';

/**
 * crowdtap owns the tables it publishes: its own migration makes them, then the generated
 * migrations add what the runtime needs (the outbox, a `_v` column on each).
 */
export async function crowdtapTables(knex: Knex): Promise<void> {
  await knex.schema.createTable('organizations', (t) => {
    t.integer('id').primary();
    t.string('name').notNullable();
  });
  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary();
    t.string('type', 32);
    t.string('name').notNullable();
    t.string('email');
    t.string('first_name').notNullable();
    t.string('last_name').notNullable();
    t.text('addresses').notNullable();
    t.integer('org_id').references('id').inTable('organizations');
    t.text('tags').notNullable();
    t.integer('points');
    t.string('role', 16);
    t.integer('login_count').defaultTo(0);
  });
  await knex.migrate.latest({ migrationSource: crowdtapMigrations });
}

/** sniper's tables are all the generated migrations': `members`, `organizations` and the applied versions. */
export async function sniperTables(knex: Knex): Promise<void> {
  await knex.migrate.latest({ migrationSource: sniperMigrations });
}
