/**
 * The checks of derived attributes and of the sink: the publisher's derived columns hold what
 * they derive from, recomputed from its own rows; the outside API's last payload of each
 * invoice is the publisher's, and no payload was posted twice.
 */
import type { Knex } from 'knex';
import type { ModelDescriptor } from '../../src/runtime/index.js';
import { schema as replica } from '../fixtures/chinook/generated/replica/subscriber.js';
import { models } from '../fixtures/chinook/generated/store/publisher.js';
import type { Received } from '../helpers/sink-api.js';
import type { CheckResult } from './checker.js';
import { normalise } from './checker.js';

/** Rows whose derived column differs from its recomputation, by attribute: each a count query. */
const recomputed: Record<string, string> = {
  'Album.artist_name': `SELECT a.album_id AS id FROM album a LEFT JOIN artist r ON r.artist_id = a.artist_id
    WHERE a.artist_name IS DISTINCT FROM r.name`,
  'Track.album_title': `SELECT t.track_id AS id FROM track t LEFT JOIN album a ON a.album_id = t.album_id
    WHERE t.album_title IS DISTINCT FROM a.title`,
  'Track.artist_name': `SELECT t.track_id AS id FROM track t LEFT JOIN album a ON a.album_id = t.album_id
    LEFT JOIN artist r ON r.artist_id = a.artist_id WHERE t.artist_name IS DISTINCT FROM r.name`,
  'Customer.support_rep_name': `SELECT c.customer_id AS id FROM customer c LEFT JOIN employee e ON e.employee_id = c.support_rep_id
    WHERE c.support_rep_name IS DISTINCT FROM (e.first_name || ' ' || e.last_name)`,
  'Invoice.line_count': `SELECT i.invoice_id AS id FROM invoice i
    WHERE i.line_count IS DISTINCT FROM (SELECT count(*) FROM invoice_line l WHERE l.invoice_id = i.invoice_id)`,
  'Invoice.line_total': `SELECT i.invoice_id AS id FROM invoice i WHERE i.line_total IS DISTINCT FROM
    (SELECT coalesce(sum(l.unit_price), 0) FROM invoice_line l WHERE l.invoice_id = i.invoice_id)`,
  'Playlist.track_count': `SELECT p.playlist_id AS id FROM playlist p
    WHERE p.track_count IS DISTINCT FROM (SELECT count(*) FROM playlist_track x WHERE x.playlist_id = p.playlist_id)`,
};

/** Every derived column of the publisher equals its recomputation from the rows it derives from. */
export async function checkDerived(store: Knex): Promise<CheckResult> {
  const details: string[] = [];
  let rows = 0;
  for (const [attribute, sql] of Object.entries(recomputed)) {
    const wrong = ((await store.raw(sql)) as { rows: { id: number }[] }).rows;
    rows += wrong.length;
    if (wrong.length > 0)
      details.push(
        `${attribute}: ${wrong.length} rows differ (${wrong
          .slice(0, 5)
          .map((r) => r.id)
          .join(', ')}...)`,
      );
  }
  const [marks] = (await store('promiscuous_refresh').count({ n: '*' })) as { n: string }[];
  if (Number(marks?.n) > 0) details.push(`${marks?.n} subjects still marked for a coalesced refresh`);
  return {
    passed: rows === 0 && Number(marks?.n) === 0,
    summary: `every derived attribute holds what it derives from (${Object.keys(recomputed).length} attributes recomputed on the publisher)`,
    details,
  };
}

/**
 * The sink: the API's last payload of each invoice (each idempotency key counted once, at its
 * first acceptance) is the publisher's invoice, or null for one destroyed; no invoice was
 * posted the same payload twice in a row under two keys; every invoice was posted.
 */
export async function checkSink(store: Knex, received: readonly Received[]): Promise<CheckResult> {
  const model = models.Invoice as ModelDescriptor;
  const observer = Object.values(replica.observers).find((o) => o.name === 'Billed');
  const names = observer?.attributes ?? [];
  const seen = new Set<string>();
  const posts = new Map<string, unknown[]>();
  let retried = 0;
  for (const r of received) {
    if (r.status !== 200) continue;
    if (seen.has(r.idempotencyKey)) {
      retried += 1;
      continue;
    }
    seen.add(r.idempotencyKey);
    posts.set(r.subject, [...(posts.get(r.subject) ?? []), r.body.payload]);
  }
  const details: string[] = [];
  let twice = 0;
  for (const [subject, payloads] of posts) {
    for (let i = 1; i < payloads.length; i += 1) {
      if (JSON.stringify(payloads[i]) !== JSON.stringify(payloads[i - 1])) continue;
      twice += 1;
      if (twice <= 5) details.push(`invoice ${subject}: the same payload posted twice, under two keys`);
    }
  }
  const expected = (row: Record<string, unknown>) =>
    JSON.stringify(
      names.map((name) => {
        const attribute = model.attributes.find((a) => a.name === name);
        return normalise(attribute?.kind, row[attribute?.column ?? name]);
      }),
    );
  const posted = (payload: unknown) =>
    payload === null
      ? 'null'
      : JSON.stringify(
          names.map((name) =>
            normalise(model.attributes.find((a) => a.name === name)?.kind, (payload as Record<string, unknown>)[name]),
          ),
        );
  const invoices = (await store(model.table).select('*')) as Record<string, unknown>[];
  const current = new Map(invoices.map((row) => [String(row[model.primaryKey.column]), row]));
  let wrong = 0;
  for (const [id, row] of current) {
    const last = posts.get(id)?.at(-1);
    if (last !== undefined && posted(last) === expected(row)) continue;
    wrong += 1;
    if (wrong <= 5)
      details.push(
        `invoice ${id}: the API's last payload ${last === undefined ? 'none' : posted(last)}, the publisher's ${expected(row)}`,
      );
  }
  for (const [id, payloads] of posts) {
    if (current.has(id) || payloads.at(-1) === null) continue;
    wrong += 1;
    if (wrong <= 5) details.push(`invoice ${id}: destroyed, but the API's last payload is ${posted(payloads.at(-1))}`);
  }
  return {
    passed: wrong === 0 && twice === 0,
    summary:
      `the API's invoices are the publisher's, none posted twice (${seen.size} posts of ${posts.size} invoices, ` +
      `${retried} repeated under a key already accepted; ${wrong} differ, ${twice} posted twice)`,
    details,
  };
}
