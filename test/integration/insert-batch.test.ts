/**
 * New rows written together by the subscriber: a row without a column (its attribute was not
 * sent by a publisher older than it) gets the column's default, on every database, whether the
 * rows are certainly new (creates) or may exist already (syncs).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { databaseOf } from '../../src/runtime/db/index.js';
import { InsertBatch } from '../../src/runtime/subscriber/insert-batch.js';
import { type Dialect, database, type TestDatabase } from '../helpers/services.js';

for (const dialect of ['sqlite', 'postgres', 'mariadb'] as Dialect[]) {
  const test = suite<{ db: TestDatabase }>(`insert batch on ${dialect}`, {} as { db: TestDatabase });

  test.before(async (context) => {
    context.db = await database(dialect);
    await context.db.knex.schema.createTable('accounts', (t) => {
      t.string('shop_id', 36).primary();
      t.string('name');
      t.string('bio').defaultTo('none yet');
    });
  });

  test.after(({ db }) => db.drop());

  for (const certain of [true, false]) {
    test(`a row without a column gets its default beside rows with it (${certain ? 'creates' : 'syncs'})`, async ({
      db,
    }) => {
      const prefix = certain ? 'c' : 's';
      await db.knex.transaction(async (trx) => {
        const batch = new InsertBatch(
          databaseOf(db.knex),
          trx,
          async (table, row) => void (await trx(table).where('shop_id', String(row.shop_id)).update(row)),
          () => 'shop_id',
        );
        await batch.add('accounts', { shop_id: `${prefix}1`, name: 'new', bio: 'written' }, certain);
        await batch.add('accounts', { shop_id: `${prefix}2`, name: 'old' }, certain);
        await batch.add('accounts', { shop_id: `${prefix}3`, name: 'new again', bio: null }, certain);
        await batch.flush();
      });
      const rows = await db.knex('accounts').where('shop_id', 'like', `${prefix}%`).orderBy('shop_id');
      assert.equal(
        rows.map((r: Record<string, unknown>) => [r.shop_id, r.bio]),
        [
          [`${prefix}1`, 'written'],
          [`${prefix}2`, 'none yet'],
          [`${prefix}3`, null],
        ],
      );
    });
  }

  test.run();
}
