import type { Knex } from 'knex';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { literal, type PgConnection, PgTransaction } from '../../src/runtime/db/pg-transaction.js';
import { database, type TestDatabase } from '../helpers/services.js';

/**
 * The PostgreSQL transaction that sends BEGIN with its first statement and COMMIT with its
 * last: what reaches the server, and that values written in as literals arrive as the same
 * values as parameters.
 */
const pg = suite<{ db: TestDatabase; connection: PgConnection; sent: string[] }>('PostgreSQL transaction');

pg.before.each(async (ctx) => {
  ctx.db = await database('postgres');
  await ctx.db.knex.schema.createTable('kinds', (t) => {
    t.integer('id').primary();
    t.text('text');
    t.binary('bytes');
    t.timestamp('at', { useTz: true });
    t.jsonb('doc');
    t.bigInteger('big');
    t.boolean('flag');
    t.decimal('amount', 12, 4);
    t.specificType('tags', 'text[]');
  });
  ctx.connection = (await ctx.db.knex.client.acquireConnection()) as PgConnection;
  // What the server is sent, seen below the transaction's own interception.
  ctx.sent = [];
  const query = ctx.connection.query;
  ctx.connection.query = function (this: unknown, ...args: Parameters<PgConnection['query']>) {
    const [config] = args;
    ctx.sent.push(typeof config === 'string' ? config : config.text);
    return query.apply(ctx.connection, args);
  };
});

pg.after.each(async (ctx) => {
  await ctx.db.knex.client.releaseConnection(ctx.connection);
  await ctx.db.drop();
});

/** The error a promise rejects with; undefined when it resolves. */
const failure = (promise: PromiseLike<unknown>): Promise<Error | undefined> =>
  Promise.resolve(promise).then(
    () => undefined,
    (e: Error) => e,
  );

const on = (knex: Knex, connection: PgConnection) => (table: string) => knex(table).connection(connection);

const tricky = {
  text: "it's a \\path\\ with $1 and -- not a comment",
  at: new Date('2026-11-23T01:02:03.456Z'),
  doc: { quote: "'", backslash: '\\', nested: [1, null, { dollar: '$$' }] },
  big: '9007199254740993',
  flag: false,
  amount: '12345678.1234',
  // An array's elements as node-postgres writes them ({"...","..."}, quoted and escaped).
  tags: ['NULL', 'a"b', 'c\\d', '{x,y}', '', null],
};

pg(
  'a one-write transaction sends BEGIN with its write and COMMIT with its last statement: two round trips',
  async ({ db, connection, sent }) => {
    const transaction = new PgTransaction(connection);
    const [row] = (await on(
      db.knex,
      connection,
    )('kinds')
      .insert({ id: 1, ...tricky })
      .returning('*')) as Record<string, unknown>[];
    const [last] = await transaction.commit('SELECT count(*)::int AS n FROM kinds');
    assert.equal(sent.length, 2);
    assert.match(sent[0] as string, /^BEGIN; insert into "kinds"/);
    assert.match(sent[0] as string, / 'false', '1', /, 'the parameters are written in as literals');
    assert.equal(sent[1], 'SELECT count(*)::int AS n FROM kinds; COMMIT');
    assert.equal(last?.rows, [{ n: 1 }]);
    assert.equal(row?.id, 1, 'the first statement resolves with its own result, not BEGIN’s');
    // The same values through parameters, in a statement of its own, read back the same.
    await db.knex('kinds').insert({ id: 2, ...tricky });
    const [literal, parameter] = await db.knex('kinds').orderBy('id');
    assert.equal({ ...literal, id: 2 }, parameter);
    assert.equal(literal.text, tricky.text);
    assert.equal(literal.at, tricky.at);
    assert.equal(literal.doc, tricky.doc);
    assert.equal(literal.tags, tricky.tags);
  },
);

pg(
  'a transaction that ran nothing sends nothing; one whose statement cannot be inlined sends BEGIN alone',
  async ({ db, connection, sent }) => {
    await new PgTransaction(connection).commit();
    assert.equal(sent, []);
    const transaction = new PgTransaction(connection);
    await db.knex.raw('/* a comment */ INSERT INTO kinds (id, text) VALUES (?, ?)', [3, 'x']).connection(connection);
    await transaction.commit();
    assert.equal(sent.length, 3);
    assert.equal(sent[0], 'BEGIN');
    assert.match(sent[1] as string, /\$1, \$2/);
    assert.equal(sent[2], 'COMMIT');
    assert.equal(await db.knex('kinds').pluck('id'), [3]);
  },
);

pg(
  'a failed statement rolls the whole transaction back, and the connection is usable after',
  async ({ db, connection }) => {
    const transaction = new PgTransaction(connection);
    const table = on(db.knex, connection);
    await table('kinds').insert({ id: 4 });
    const failed = await failure(table('kinds').insert({ id: 4 }));
    assert.match(String(failed?.message), /duplicate key/);
    await transaction.rollback();
    assert.equal(await db.knex('kinds').count({ n: '*' }), [{ n: '0' }]);
    const after = (await connection.query('SELECT 1 AS one')) as { rows: unknown[] };
    assert.equal(after.rows, [{ one: 1 }], 'the connection is out of the failed transaction');
    const transaction2 = new PgTransaction(connection);
    await table('kinds').insert({ id: 5 });
    await transaction2.commit();
    assert.equal(await db.knex('kinds').pluck('id'), [5]);
  },
);

pg(
  'a Knex transaction on the connection: its BEGIN goes with the first statement, its COMMIT with the last announced',
  async ({ db, connection, sent }) => {
    const transaction = new PgTransaction(connection);
    const ids = await db.knex.transaction(
      async (trx) => {
        await trx('kinds').insert({ id: 6, text: 'six' });
        transaction.last();
        return trx('kinds').insert({ id: 7, text: 'seven' }).returning('id');
      },
      { connection },
    );
    await transaction.close();
    assert.equal(ids, [{ id: 7 }]);
    assert.equal(sent.length, 2);
    assert.match(sent[0] as string, /^BEGIN; insert into "kinds" \("id", "text"\) values \('6', 'six'\)$/);
    assert.match(
      sent[1] as string,
      /^insert into "kinds" \("id", "text"\) values \('7', 'seven'\) returning "id"; COMMIT$/,
    );
    assert.equal(await db.knex('kinds').orderBy('id').pluck('text'), ['six', 'seven']);
  },
);

pg('a Knex transaction that fails rolls back; one that ran nothing sends nothing', async ({ db, connection, sent }) => {
  let transaction = new PgTransaction(connection);
  await db.knex.transaction(async () => {}, { connection });
  await transaction.close();
  assert.equal(sent, []);
  transaction = new PgTransaction(connection);
  const failed = await failure(
    db.knex.transaction(
      async (trx) => {
        await trx('kinds').insert({ id: 8 });
        transaction.last();
        await trx('kinds').insert({ id: 8 });
      },
      { connection },
    ),
  );
  await transaction.close();
  assert.match(String(failed?.message), /duplicate key/);
  assert.equal(sent.at(-1), 'ROLLBACK');
  assert.equal(await db.knex('kinds').count({ n: '*' }), [{ n: '0' }]);
});

pg(
  'bytes, and a backslash beside a character beyond ASCII, go as parameters, after BEGIN alone',
  async ({ db, connection, sent }) => {
    const values = [
      { id: 9, bytes: Buffer.from([0, 39, 92, 255]) },
      { id: 10, text: 'Zoë \\ 表' },
    ];
    for (const value of values) {
      sent.length = 0;
      const transaction = new PgTransaction(connection);
      await on(db.knex, connection)('kinds').insert(value);
      await transaction.commit();
      assert.equal(sent[0], 'BEGIN');
      assert.match(sent[1] as string, /values \(\$1, \$2\)/);
      assert.equal(sent[2], 'COMMIT');
    }
    const rows = await db.knex('kinds').whereIn('id', [9, 10]).orderBy('id').select('id', 'bytes', 'text');
    assert.equal(rows, [
      { id: 9, bytes: values[0]?.bytes, text: null },
      { id: 10, bytes: null, text: values[1]?.text },
    ]);
  },
);

pg(
  'after a failure that left no transaction open, later statements are refused and COMMIT fails: nothing runs outside the transaction',
  async ({ db, connection }) => {
    const transaction = new PgTransaction(connection);
    const table = on(db.knex, connection);
    // A syntax error: PostgreSQL refuses the whole text, BEGIN included.
    const syntax = await failure(db.knex.raw('INSERT INTO kinds (id) VALUE (?)', [11]).connection(connection));
    assert.match(String(syntax?.message), /syntax error/);
    const refused = await failure(table('kinds').insert({ id: 12 }));
    assert.match(String(refused?.message), /the transaction is aborted/);
    const commit = await failure(transaction.commit());
    assert.ok(commit, 'COMMIT fails');
    await transaction.close();
    assert.equal(await db.knex('kinds').count({ n: '*' }), [{ n: '0' }]);
  },
);

pg(
  'a COMMIT after a caught failure inside an open transaction fails instead of reporting success',
  async ({ db, connection }) => {
    const transaction = new PgTransaction(connection);
    const table = on(db.knex, connection);
    await table('kinds').insert({ id: 13 });
    // Sent with its parameters (a comment), so that it fails inside the open transaction.
    await db.knex
      .raw('/* fails */ INSERT INTO kinds (id) VALUES (?)', [13])
      .connection(connection)
      .catch(() => {});
    const commit = await failure(transaction.commit());
    assert.match(String(commit?.message), /COMMIT rolled the transaction back|aborted/);
    await transaction.close();
    assert.equal(await db.knex('kinds').count({ n: '*' }), [{ n: '0' }]);
  },
);

pg(
  'plain values are written in as node-postgres would write them, and arrive as the same values as parameters',
  async ({ db, connection, sent }) => {
    // Values that need no escaping take a shorter path than node-postgres's conversion.
    const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
      prepareValue(value: unknown): unknown;
    };
    const plain = {
      text: 'a "quoted" word, a $ and ünïcödé',
      doc: { list: [1, 'two', null], nested: { ok: true } },
      big: 9007199254740993n,
      flag: true,
      amount: -12.5,
      tags: ['a', '', 'NULL', 'ü', 7, false, null, undefined],
    };
    for (const value of [...Object.values(plain), 0, 1e21, Number.NaN, '', null, undefined, [], [[1, 2]], ['a"b']]) {
      const prepared = prepareValue(value);
      const expected = prepared === null ? 'NULL' : connection.escapeLiteral(String(prepared));
      assert.is(literal(value, connection), expected, `${String(value)}`);
    }
    const transaction = new PgTransaction(connection);
    await on(db.knex, connection)('kinds').insert({ id: 1, ...plain });
    await transaction.commit();
    assert.match(sent[0] as string, /'\{"a","","NULL","ü","7","false",NULL,NULL\}'/, 'the array is written in');
    await db.knex('kinds').insert({ id: 2, ...plain });
    const [literally, parameter] = await db.knex('kinds').orderBy('id');
    assert.equal({ ...literally, id: 2 }, parameter);
    assert.equal(literally.tags, ['a', '', 'NULL', 'ü', '7', 'false', null, null]);
  },
);

pg.run();
