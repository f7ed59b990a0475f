import type { Knex } from 'knex';
import { up as crowdtapMigration } from './generated/crowdtap/migrations/promiscuous.js';
import { up as sniperMigration } from './generated/sniper/migrations/promiscuous.js';

/**
 * Each app owns its tables; the generated migration then adds what the runtime needs (the
 * outbox and `_v` columns for crowdtap, the applied-versions table for sniper).
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
  await crowdtapMigration(knex);
}

export async function sniperTables(knex: Knex): Promise<void> {
  await knex.schema.createTable('organizations', (t) => {
    t.integer('id').primary();
    t.string('name');
  });
  await knex.schema.createTable('members', (t) => {
    t.increments('id').primary();
    t.uuid('crowdtap_id').notNullable().unique();
    t.string('type', 32);
    t.string('name');
    t.string('contact_email');
    t.integer('points');
  });
  await sniperMigration(knex);
}
