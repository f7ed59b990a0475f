/**
 * Text shared by the generated migrations: the runtime's own tables, and the helpers a
 * migration declares when it uses them. A migration is written once and never rewritten, so
 * each carries what it runs instead of importing it: a later version changes none of them.
 */

/** `promiscuous_outbox`: the messages of committed changes, until the relay has published them. */
export const outboxTable = `await knex.schema.createTable('promiscuous_outbox', (table) => {
  table.bigIncrements('id').primary();
  table.text('message').notNullable();
  table.bigInteger('created_at').notNullable();
  table.integer('attempts').notNullable().defaultTo(0);
  table.string('claimed_by', 255).nullable();
  table.bigInteger('claimed_until').nullable().index();
});`;

/** `promiscuous_versions`: the version of each object applied, written in the transaction that applies it. */
export const versionsTable = `await knex.schema.createTable('promiscuous_versions', (table) => {
  table.string('publisher', 64).notNullable();
  table.string('endpoint', 128).notNullable();
  table.string('object_id', 191).notNullable();
  table.bigInteger('version').notNullable();
  table.boolean('destroyed').notNullable().defaultTo(false);
  table.bigInteger('updated_at').notNullable();
  table.primary(['publisher', 'endpoint', 'object_id']);
});`;

/** `promiscuous_refresh`: the subjects whose derived attributes wait for their window (`coalesce`) to be refreshed. */
export const refreshTable = `await knex.schema.createTable('promiscuous_refresh', (table) => {
  table.string('model', 255).notNullable();
  table.string('id', 255).notNullable();
  table.bigInteger('due_at').notNullable().index();
  table.integer('version').notNullable().defaultTo(0);
  table.primary(['model', 'id']);
});`;

/** Drops the derived columns a migration added to a table of the app's own, natively on SQLite. */
export const dropDerivedHelper = `/** Drops derived columns; SQLite drops them in place, where Knex would rebuild the table. */
async function dropDerived(knex: Knex, name: string, columns: readonly string[]): Promise<void> {
  if (knex.client.dialect !== 'sqlite3') {
    await knex.schema.alterTable(name, (table) => table.dropColumns(...columns));
    return;
  }
  for (const column of columns) await knex.raw('alter table ?? drop column ??', [name, column]);
}`;

/**
 * `promiscuous_sinks`: the payload each sink last sent for each object, written in the
 * transaction that applies the operation it sent.
 */
export const sinksTable = `await knex.schema.createTable('promiscuous_sinks', (table) => {
  table.string('sink', 128).notNullable();
  table.string('publisher', 64).notNullable();
  table.string('endpoint', 128).notNullable();
  table.string('object_id', 191).notNullable();
  table.text('payload', 'longtext').nullable();
  table.bigInteger('version').notNullable();
  table.bigInteger('sent_at').notNullable();
  table.primary(['sink', 'publisher', 'endpoint', 'object_id']);
});`;

/** Adds `_v` to a table of the app's own, which the app's own migrations made before. */
export const addVersionHelper = `/** \`_v\`, each row's version, on a table of the app's own: its own migration must run first. */
async function addVersion(knex: Knex, name: string): Promise<void> {
  if (!(await knex.schema.hasTable(name))) {
    throw new Error(\`table \${name} does not exist: create it in a migration that sorts before this one\`);
  }
  await knex.schema.alterTable(name, (table) => {
    table.bigInteger('_v').notNullable().defaultTo(0);
  });
}`;

/** Drops `_v` again, natively on SQLite, where Knex would rebuild a table that rows of others may reference. */
export const dropVersionHelper = `/** Drops \`_v\`; SQLite drops it in place, where Knex would rebuild the table. */
async function dropVersion(knex: Knex, name: string): Promise<void> {
  if (knex.client.dialect === 'sqlite3') await knex.raw('alter table ?? drop column ??', [name, '_v']);
  else await knex.schema.alterTable(name, (table) => table.dropColumn('_v'));
}`;

/** Runs a migration that alters columns outside Knex's transaction on SQLite only: see the comment it carries. */
export const outsideTransaction = `/**
 * Run outside Knex's transaction: SQLite alters a column, or adds a foreign key, by rebuilding
 * the table, and Knex turns the foreign-key checks off meanwhile (rows of other tables may
 * reference it) only outside one. Every other database runs it in one of its own (\`atomically\`).
 */
export const config = { transaction: false };`;

/** The transaction a migration outside Knex's own takes on every database but SQLite. */
export const atomicallyHelper = `/** Runs \`fn\` in a transaction, but on SQLite (see \`config\`). */
async function atomically(knex: Knex, fn: (knex: Knex) => Promise<void>): Promise<void> {
  if (knex.client.dialect === 'sqlite3') await fn(knex);
  else await knex.transaction(fn);
}`;

/** Gives a table the app made before the migrations managed it the columns it lacks. */
export const addMissingHelper = `/** The columns a table made before the migrations managed it lacks, added nullable. */
async function addMissing(
  knex: Knex,
  name: string,
  columns: Readonly<Record<string, (table: Knex.AlterTableBuilder) => void>>,
): Promise<void> {
  for (const [column, add] of Object.entries(columns)) {
    if (!(await knex.schema.hasColumn(name, column))) await knex.schema.alterTable(name, add);
  }
}`;

/** What the comment of every migration says of what is not in it. */
export const additiveNote = `A generated migration only adds: a table, column or \`_v\` the routes no longer need is
 * kept, never dropped. Drop it in a migration of your own once no process uses it.`;
