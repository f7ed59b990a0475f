import type { Knex } from 'knex';
import { up as crowdtapMigration } from '../../examples/users/generated/crowdtap/migrations/promiscuous.js';
import { schema as crowdtap, type Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import { up as sniperMigration } from '../../examples/users/generated/sniper/migrations/promiscuous.js';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';

export { crowdtap, sniper };

export const virtuals: Virtuals = {
  User: { full_name: (row) => `${row.first_name} ${row.last_name}` },
};

/** crowdtap's own tables (the app owns its schema), then the generated migration. */
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

/** sniper's own tables, with foreign keys enforced, then the generated migration. */
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

export function newUser<Extra extends object = object>(name: string, extra?: Extra) {
  return {
    id: crypto.randomUUID(),
    name,
    email: `${name.toLowerCase()}@example.com`,
    first_name: name,
    last_name: 'Skywalker',
    addresses: [],
    tags: [],
    ...(extra as Extra),
  };
}
