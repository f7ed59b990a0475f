/**
 * The body of every generated migration: the runtime's tables, and a `_v` column on each
 * published table. It is idempotent (it creates only what is missing), so that running it
 * again after `promiscuous generate` adds what new routes need and touches nothing else.
 */
export const migrationBody = `
export const outboxTable = 'promiscuous_outbox';
export const versionsTable = 'promiscuous_versions';

export async function up(knex: Knex): Promise<void> {
  if (publishedTables.length > 0 && !(await knex.schema.hasTable(outboxTable))) {
    await knex.schema.createTable(outboxTable, (table) => {
      table.bigIncrements('id').primary();
      table.text('message').notNullable();
      table.bigInteger('created_at').notNullable();
      table.integer('attempts').notNullable().defaultTo(0);
      table.string('claimed_by', 255).nullable();
      table.bigInteger('claimed_until').nullable().index();
    });
  }
  for (const name of publishedTables) {
    if (!(await knex.schema.hasTable(name))) {
      throw new Error(\`table \${name} does not exist: create it before the promiscuous migration runs\`);
    }
    if (!(await knex.schema.hasColumn(name, '_v'))) {
      await knex.schema.alterTable(name, (table) => {
        table.bigInteger('_v').notNullable().defaultTo(0);
      });
    }
  }
  if (subscribes && !(await knex.schema.hasTable(versionsTable))) {
    await knex.schema.createTable(versionsTable, (table) => {
      table.string('publisher', 64).notNullable();
      table.string('endpoint', 128).notNullable();
      table.string('object_id', 191).notNullable();
      table.bigInteger('version').notNullable();
      table.boolean('destroyed').notNullable().defaultTo(false);
      table.bigInteger('updated_at').notNullable();
      table.primary(['publisher', 'endpoint', 'object_id']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (subscribes) await knex.schema.dropTableIfExists(versionsTable);
  for (const name of publishedTables) {
    if ((await knex.schema.hasTable(name)) && (await knex.schema.hasColumn(name, '_v'))) {
      await knex.schema.alterTable(name, (table) => {
        table.dropColumn('_v');
      });
    }
  }
  if (publishedTables.length > 0) await knex.schema.dropTableIfExists(outboxTable);
}
`;
