/**
 * The subscriber on Chinook's tables, handed one message at a time.
 *
 * A row whose parent is destroyed on the subscriber, in SQLite with foreign keys on: the
 * publisher moved the album to another artist and then deleted the first artist, and the
 * subscriber got the delete before the album's create. The album must neither be written (its
 * artist is gone) nor dropped for good (its track would be lost with it): the message waits
 * for the album's newer version, here through a re-sync answer.
 *
 * On PostgreSQL, where workers apply concurrently: a transaction keeps the parents its rows
 * reference from being destroyed under it, and holds nothing else it only depends on; and its
 * version lookup probes the primary key for each key, whatever the number of keys and the
 * size of the table.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Knex } from 'knex';
import { migrationSource as replicaMigrations } from '../fixtures/chinook/generated/replica/migrations.js';
import { schema } from '../fixtures/chinook/generated/replica/subscriber.js';
import {
  type Delivery,
  type Envelope,
  type OperationMessage,
  type OutgoingMessage,
  Subscriber,
  type Transport,
  versionsTable,
} from '../../src/runtime/index.js';
import { database, isVersionLookup } from '../helpers/services.js';

const op = (
  type: string,
  id: number,
  operation: OperationMessage['operation'],
  version: number,
  attributes: Record<string, unknown> | null,
): OperationMessage => ({
  endpoint: `store/${type.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()}`,
  types: [type],
  id: String(id),
  operation,
  version,
  attributes,
});

const envelope = (operations: OperationMessage[], dependencies: Envelope['dependencies'] = []): Envelope => ({
  format: 1,
  id: randomUUID(),
  app: 'store',
  host: 'test',
  generation: 1,
  timestamp: Date.now(),
  context: null,
  operations,
  dependencies,
});

/** Hands a message to the subscriber as the broker would, and says how it was settled. */
async function handle(subscriber: Subscriber, message: Envelope): Promise<string> {
  let outcome = 'unsettled';
  const delivery: Delivery = {
    body: Buffer.from(JSON.stringify(message)),
    messageId: message.id,
    attempt: 0,
    waitingSince: undefined,
    redelivered: false,
    ack: async () => void (outcome = 'ack'),
    retry: async (error) => void (outcome = `retry: ${error.message}`),
    defer: async () => void (outcome = 'defer'),
    park: async (reason) => void (outcome = `park: ${reason}`),
  };
  await subscriber.handle(delivery);
  return outcome;
}

test('a row whose parent was deleted here waits for its own newer version, and its children are not lost', async () => {
  const db = await database('sqlite');
  try {
    const connection = (await db.knex.client.acquireConnection()) as { exec(sql: string): void };
    connection.exec(readFileSync(new URL('../fixtures/chinook/chinook-sqlite.sql', import.meta.url), 'utf8'));
    connection.exec(readFileSync(new URL('../fixtures/chinook/derived-sqlite.sql', import.meta.url), 'utf8'));
    await db.knex.client.releaseConnection(connection);
    await db.knex.migrate.latest({ migrationSource: replicaMigrations });
    const published: OutgoingMessage[] = [];
    const transport = { publish: async (messages: readonly OutgoingMessage[]) => void published.push(...messages) };
    const subscriber = new Subscriber({
      schema,
      knex: db.knex,
      transport: transport as unknown as Transport,
      waitMs: 0,
      dependencyTimeoutMs: 0,
    });
    const artist = (id: number) => ({ endpoint: 'store/artist', id: String(id), version: 1, types: ['Artist'] });

    // The fixture holds Chinook's tables, empty: what the test needs arrives first.
    const artists = envelope([
      op('Artist', 90001, 'create', 1, { name: 'First' }),
      op('Artist', 90002, 'create', 1, { name: 'Second' }),
      op('MediaType', 1, 'create', 1, { name: 'MPEG audio file' }),
    ]);
    const created = envelope(
      [
        op('Album', 90010, 'create', 1, { title: 'Moved', artist_id: 90001 }),
        op('Track', 90020, 'create', 1, {
          name: 'Kept',
          album_id: 90010,
          media_type_id: 1,
          genre_id: null,
          composer: null,
          milliseconds: 1000,
          bytes: null,
          unit_price: '0.99',
        }),
      ],
      [artist(90001)],
    );
    const moved = envelope([op('Album', 90010, 'update', 2, { title: 'Moved', artist_id: 90002 })], [artist(90002)]);
    const deleted = envelope([op('Artist', 90001, 'destroy', 2, null)]);

    assert.is(await handle(subscriber, artists), 'ack');
    assert.is(await handle(subscriber, deleted), 'ack', 'nothing here references the first artist yet');
    assert.is(await handle(subscriber, created), 'defer', 'the album waits: its artist is deleted here');
    assert.is(await handle(subscriber, moved), 'defer', 'the update waits for the create');
    assert.ok(
      published.some((m) => m.body.toString().includes('"store/album"') && m.body.toString().includes('"90010"')),
      'the album was asked of its publisher',
    );

    // The publisher's answer: the album's current state.
    const answer = envelope([op('Album', 90010, 'sync', 2, { title: 'Moved', artist_id: 90002 })], [artist(90002)]);
    assert.is(await handle(subscriber, answer), 'ack');
    assert.is(await handle(subscriber, created), 'ack', 'redelivered: the track goes in, the album is older');
    assert.is(await handle(subscriber, moved), 'ack');

    assert.equal(await db.knex('Album').where('AlbumId', 90010).first(), {
      AlbumId: 90010,
      Title: 'Moved',
      ArtistId: 90002,
      ArtistName: null,
    });
    assert.is((await db.knex('Track').where('TrackId', 90020).first())?.AlbumId, 90010, 'the track is not lost');
    assert.is(await db.knex('Artist').where('ArtistId', 90001).first(), undefined);
  } finally {
    await db.drop();
  }
});

test('on PostgreSQL, a transaction locks the versions of the parents its rows reference, not of what it only depends on', async () => {
  const db = await database('postgres');
  try {
    await replicaTables(db.knex, ['Artist', 'Genre', 'Album']);
    /** Whether another connection finds the object's version locked: a destroy of the object would wait. */
    const locked = async (endpoint: string, id: number): Promise<boolean> => {
      try {
        await db.knex.raw('SELECT 1 FROM ?? WHERE endpoint = ? AND object_id = ? FOR UPDATE NOWAIT', [
          versionsTable,
          endpoint,
          String(id),
        ]);
        return false;
      } catch (error) {
        if ((error as { code?: string }).code === '55P03') return true;
        throw error;
      }
    };
    const seen: Record<string, boolean> = {};
    const subscriber = new Subscriber({
      schema,
      knex: db.knex,
      transport: {} as Transport,
      callbacks: {
        // Runs in the album's transaction, before its commit.
        Album: {
          afterCreate: async () => {
            seen.artist = await locked('store/artist', 1);
            seen.genre = await locked('store/genre', 1);
          },
        },
      },
    });
    const dependency = (type: string, id: number) => ({
      endpoint: `store/${type.toLowerCase()}`,
      id: String(id),
      version: 1,
      types: [type],
    });
    const parents = envelope([
      op('Artist', 1, 'create', 1, { name: 'AC/DC' }),
      op('Genre', 1, 'create', 1, { name: 'Rock' }),
    ]);
    assert.is(await handle(subscriber, parents), 'ack');
    const album = envelope(
      [op('Album', 1, 'create', 1, { title: 'Back in Black', artist_id: 1 })],
      [dependency('Artist', 1), dependency('Genre', 1)],
    );
    assert.is(await handle(subscriber, album), 'ack');
    assert.equal(seen, { artist: true, genre: false });
    assert.is(await locked('store/artist', 1), false, 'released at commit');
  } finally {
    await db.drop();
  }
});

test('on PostgreSQL, a lookup of a thousand versions probes the primary key for each, on a large table never analyzed', async () => {
  const db = await database('postgres');
  try {
    await replicaTables(db.knex, ['Artist']);
    // 100,000 versions of other objects, and no ANALYZE, as during a new subscriber's sync.
    await db.knex.raw(
      `INSERT INTO ?? (publisher, endpoint, object_id, version, destroyed, updated_at)
       SELECT 'store', 'store/track', i::text, 1, false, 0 FROM generate_series(1, 100000) AS i`,
      [versionsTable],
    );
    const lookups: { sql: string; bindings: unknown[] }[] = [];
    const listen = (q: { sql: string; bindings?: unknown[] }): void => {
      if (isVersionLookup(q.sql, versionsTable)) lookups.push({ sql: q.sql, bindings: q.bindings ?? [] });
    };
    db.knex.on('query', listen);
    const subscriber = new Subscriber({ schema, knex: db.knex, transport: {} as Transport });
    const artists = envelope(
      Array.from({ length: 1000 }, (_, i) => op('Artist', i + 1, 'create', 1, { name: `Artist ${i}` })),
    );
    assert.is(await handle(subscriber, artists), 'ack');
    db.knex.removeListener('query', listen);
    assert.is(
      await db
        .knex('Artist')
        .count({ n: '*' })
        .first()
        .then((r) => Number(r?.n)),
      1000,
    );
    assert.is(lookups.length, 1, 'one lookup for the message');
    const lookup = lookups[0] as { sql: string; bindings: unknown[] };
    const { rows } = (await db.knex.raw(
      `EXPLAIN (FORMAT JSON) ${lookup.sql.replace(/\$\d+/g, '?')}`,
      lookup.bindings as Knex.RawBinding[],
    )) as { rows: { 'QUERY PLAN': PlanNode[] }[] };
    const scans = scansOf(rows[0]?.['QUERY PLAN'][0]?.Plan);
    assert.ok(scans.length > 0, 'the plan reads the versions');
    assert.equal(
      scans.filter((scan) => scan.relation === versionsTable).map((scan) => scan.type),
      scans.filter((scan) => scan.relation === versionsTable).map(() => 'Index Scan'),
      `each key is looked up in the primary key: ${JSON.stringify(scans)}`,
    );
  } finally {
    await db.drop();
  }
});

/** Some of Chinook's tables, in PostgreSQL, with the replica's own. */
async function replicaTables(knex: Knex, tables: readonly ('Artist' | 'Genre' | 'Album')[]): Promise<void> {
  for (const table of tables)
    await knex.schema.createTable(table, (t) => {
      t.integer(`${table}Id`).primary();
      t.string(table === 'Album' ? 'Title' : 'Name');
      if (table === 'Album') t.integer('ArtistId').references('ArtistId').inTable('Artist');
    });
  await knex.migrate.latest({ migrationSource: replicaMigrations });
}

interface PlanNode {
  readonly Plan?: PlanNode;
  readonly 'Node Type'?: string;
  readonly 'Relation Name'?: string;
  readonly Plans?: PlanNode[];
}

/** Every scan of a table in a plan, with its kind. */
function scansOf(node: PlanNode | undefined): { type: string; relation: string }[] {
  if (!node) return [];
  const own = node['Relation Name'] ? [{ type: node['Node Type'] ?? '', relation: node['Relation Name'] }] : [];
  return [...own, ...(node.Plans ?? []).flatMap(scansOf)];
}

test.run();
