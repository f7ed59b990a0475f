/**
 * The publisher's tables bulk-loaded: organizations, then users with `_v` = 1, a tenth of them
 * Members (PostgreSQL: `INSERT ... SELECT` over `generate_series`; SQLite: over a recursive CTE).
 * Nothing of it is published: the subscriber did not exist.
 */
import { connect, type DbRef } from '../lib/index.js';
import { bulkPrefix } from './settings.js';

export async function bulkLoad(
  ref: DbRef,
  rows: number,
  orgs: number,
  progress: (done: number) => void,
): Promise<void> {
  const db = connect(ref);
  try {
    const batch = 100_000;
    if (ref.dialect === 'postgres') {
      await db.raw(`INSERT INTO organizations (id, name, _v) SELECT i, 'Org ' || i, 1 FROM generate_series(1, ?) i`, [
        orgs,
      ]);
      for (let from = 1; from <= rows; from += batch) {
        const to = Math.min(rows, from + batch - 1);
        await db.raw(
          `INSERT INTO users (id, type, name, email, first_name, last_name, addresses, org_id, tags, points, login_count, _v)
           SELECT (? || lpad(to_hex(i), 12, '0'))::uuid,
                  CASE WHEN i % 10 = 0 THEN 'Member' ELSE 'User' END,
                  'User ' || i, 'user' || i || '@example.com', 'User', i::text,
                  '[{"id":"a0000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0') || '","street_name":"Main Street","zipcode":"12345"}]',
                  1 + i % ?, '["bench"]', CASE WHEN i % 10 = 0 THEN i % 1000 END, 0, 1
           FROM generate_series(?::int, ?::int) i`,
          [bulkPrefix, orgs, from, to],
        );
        progress(to);
      }
      await db.raw('ANALYZE users');
      await db.raw('ANALYZE organizations');
    } else {
      await db.raw(
        `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
         INSERT INTO organizations (id, name, _v) SELECT i, 'Org ' || i, 1 FROM s`,
        [orgs],
      );
      for (let from = 1; from <= rows; from += batch) {
        const to = Math.min(rows, from + batch - 1);
        await db.raw(
          `WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?)
           INSERT INTO users (id, type, name, email, first_name, last_name, addresses, org_id, tags, points, login_count, _v)
           SELECT ? || printf('%012x', i),
                  CASE WHEN i % 10 = 0 THEN 'Member' ELSE 'User' END,
                  'User ' || i, 'user' || i || '@example.com', 'User', CAST(i AS TEXT),
                  '[{"id":"a0000000-0000-4000-8000-' || printf('%012x', i) || '","street_name":"Main Street","zipcode":"12345"}]',
                  1 + i % ?, '["bench"]', CASE WHEN i % 10 = 0 THEN i % 1000 END, 0, 1
           FROM s`,
          [from, to, bulkPrefix, orgs],
        );
        progress(to);
      }
      await db.raw('ANALYZE');
    }
  } finally {
    await db.destroy();
  }
}
