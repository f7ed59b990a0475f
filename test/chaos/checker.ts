/**
 * What the suite proves after quiescence, from the databases themselves: both sides hold the
 * same rows with the same published attributes; nothing of a rolled-back transaction is on the
 * subscriber; every observer effect was applied exactly once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { AttributeKind, ModelDescriptor, SubscriptionDescriptor } from '../../src/runtime/index.js';
import { schema as replica } from '../fixtures/chinook/generated/replica/subscriber.js';
import { models } from '../fixtures/chinook/generated/store/publisher.js';
import { effectsTable, rollbackMarker } from './world.js';

export interface CheckResult {
  readonly passed: boolean;
  /** One line: what was checked, with its figures. */
  readonly summary: string;
  /** What differs, when it failed. */
  readonly details: readonly string[];
}

/** An object whose rows differ, as the traces name it (`Customer 41`). */
export interface Differing {
  readonly type: string;
  readonly id: string;
}

/** Values as both sides should agree on them, whatever the database returned. */
export function normalise(kind: AttributeKind | undefined, value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'integer':
    case 'float':
      return Number(value);
    case 'decimal':
      // PostgreSQL returns '0.99', SQLite's NUMERIC column 0.99: compare the numbers.
      return String(Number(value));
    case 'timestamp':
      // PostgreSQL returns a Date, SQLite the milliseconds Knex stored.
      return new Date(value instanceof Date || typeof value === 'number' ? value : String(value)).toISOString();
    case 'date':
      return (value instanceof Date ? value.toISOString() : String(value)).slice(0, 10);
    case 'boolean':
      return value === true || value === 1 || value === '1' || value === 't' || value === 'true';
    default:
      return String(value);
  }
}

function subscriptionOf(model: ModelDescriptor): SubscriptionDescriptor {
  const subscription = Object.values(replica.subscriptions).find((s) => s.type === model.name);
  if (!subscription) throw new Error(`replica does not subscribe ${model.name}`);
  return subscription;
}

/** Every published attribute of every row, equal on both sides; lists what differs. */
export async function compareRows(
  store: Knex,
  sqlite: Knex,
): Promise<CheckResult & { readonly differing: readonly Differing[] }> {
  const details: string[] = [];
  const objects: Differing[] = [];
  let rows = 0;
  let differing = 0;
  for (const model of Object.values(models) as ModelDescriptor[]) {
    const subscription = subscriptionOf(model);
    const key = model.primaryKey.column;
    const published = new Map(
      ((await store(model.table).select('*')) as Record<string, unknown>[]).map((r) => [String(r[key]), r]),
    );
    const stored = new Map(
      ((await sqlite(subscription.table).select('*')) as Record<string, unknown>[]).map((r) => [
        String(r[subscription.key]),
        r,
      ]),
    );
    rows += published.size;
    const problems: string[] = [];
    const differs = (id: string, problem: string): void => {
      problems.push(problem);
      if (objects.at(-1)?.id !== id || objects.at(-1)?.type !== model.name) objects.push({ type: model.name, id });
    };
    for (const [id, row] of published) {
      const copy = stored.get(id);
      if (!copy) {
        differs(id, `${model.name} ${id}: missing on the subscriber (publisher version ${String(row._v)})`);
        continue;
      }
      for (const attribute of subscription.attributes) {
        const descriptor = model.attributes.find((a) => a.name === attribute.name);
        const kind = descriptor?.kind ?? attribute.kind;
        const a = normalise(kind, row[descriptor?.column ?? attribute.name]);
        const b = normalise(kind, copy[attribute.column]);
        if (a !== b)
          differs(id, `${model.name} ${id}.${attribute.name}: publisher ${String(a)}, subscriber ${String(b)}`);
      }
    }
    for (const id of stored.keys()) {
      if (!published.has(id)) differs(id, `${model.name} ${id}: on the subscriber, not on the publisher`);
    }
    differing += problems.length;
    details.push(...problems.slice(0, 10));
    if (problems.length > 10) details.push(`... and ${problems.length - 10} more differences in ${model.name}`);
  }
  return {
    differing: objects,
    passed: differing === 0,
    summary: `every published attribute of every row is equal on both sides (${rows} rows in ${Object.keys(models).length} tables${differing > 0 ? `; ${differing} differences` : ''})`,
    details,
  };
}

/**
 * Nothing rolled back arrived: no delivery carried the marker (the workers look at each one),
 * the tap saw no published message carrying it, no subscriber row holds it, and no object
 * created in a rolled-back transaction has a version on the subscriber.
 */
export async function checkRollbacks(
  store: Knex,
  sqlite: Knex,
  seen: { readonly published: number; readonly delivered: number },
): Promise<CheckResult> {
  const details: string[] = [];
  const ids = ((await store('chaos_rolled_back').select('tx', 'object_id')) as { tx: string; object_id: string }[]).map(
    (r) => r.object_id,
  );
  const [txs] = (await store('chaos_rolled_back').countDistinct({ n: 'tx' })) as { n: string | number }[];
  let versions = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const [row] = (await sqlite('promiscuous_versions')
      .whereIn('object_id', ids.slice(i, i + 500))
      .count({ n: '*' })) as { n: number }[];
    versions += Number(row?.n);
  }
  let rows = 0;
  for (const subscription of Object.values(replica.subscriptions)) {
    for (const attribute of subscription.attributes.filter((a) => a.kind === 'string')) {
      const [row] = (await sqlite(subscription.table)
        .where(attribute.column, 'like', `%${rollbackMarker}%`)
        .count({ n: '*' })) as { n: number }[];
      const n = Number(row?.n);
      if (n > 0) details.push(`${n} rows of ${subscription.table} hold ${rollbackMarker} in ${attribute.column}`);
      rows += n;
    }
  }
  if (seen.published > 0) details.push(`${seen.published} messages on the exchange carried a rolled-back row`);
  if (seen.delivered > 0) details.push(`${seen.delivered} deliveries carried a rolled-back row`);
  if (versions > 0)
    details.push(`${versions} objects created in rolled-back transactions have a version on the subscriber`);
  return {
    passed: rows + versions + seen.published + seen.delivered === 0,
    summary: `nothing rolled back arrived (${Number(txs?.n)} transactions rolled back on purpose, ${ids.length} ids they created)`,
    details,
  };
}

/**
 * No effect applied twice, none lost: the observer's idempotency keys are unique, and each
 * invoice line the publisher has at version v has its effect for v. `invocations` counts the
 * callback's calls, also those rolled back with their transaction (a worker killed mid-apply):
 * the ones an outside side effect would have to drop by their key.
 */
export async function checkEffects(store: Knex, sqlite: Knex, invocations: number): Promise<CheckResult> {
  const details: string[] = [];
  const repeated = (await sqlite(effectsTable)
    .select('idempotency_key')
    .count({ n: '*' })
    .groupBy('idempotency_key')
    .havingRaw('count(*) > 1')) as { idempotency_key: string; n: number }[];
  for (const r of repeated.slice(0, 10)) details.push(`${r.idempotency_key} applied ${r.n} times`);
  const keys = new Set(
    ((await sqlite(effectsTable).select('idempotency_key')) as { idempotency_key: string }[]).map(
      (r) => r.idempotency_key,
    ),
  );
  const [total] = (await sqlite(effectsTable).count({ n: '*' })) as { n: number }[];
  const lines = (await store(models.InvoiceLine.table).select('invoice_line_id', '_v')) as {
    invoice_line_id: number;
    _v: string | number;
  }[];
  // A version that reached the subscriber through a re-sync has its effect under the sync's key.
  const key = (l: (typeof lines)[number]) => `${models.InvoiceLine.endpoint}:${l.invoice_line_id}:${Number(l._v)}`;
  const missing = lines.filter((l) => !keys.has(key(l)) && !keys.has(`${key(l)}:sync`));
  const synced = lines.filter((l) => !keys.has(key(l)) && keys.has(`${key(l)}:sync`)).length;
  for (const l of missing.slice(0, 10)) details.push(`no effect for invoice line ${l.invoice_line_id} version ${l._v}`);
  return {
    passed: repeated.length === 0 && missing.length === 0,
    summary:
      `no effect applied twice, none missing (${Number(total?.n)} effects, ${repeated.length} keys repeated; ` +
      `${missing.length} of ${lines.length} current invoice lines without the effect of their version, ` +
      `${synced} with it from a re-sync; ${invocations - Number(total?.n)} callback calls rolled back with their transaction)`,
    details,
  };
}

/**
 * What became of a few differing objects: each message on the exchange that wrote them (the
 * tap's log), each delivery of one (the workers' traces), and the version the subscriber holds.
 */
export async function histories(dir: string, sqlite: Knex, objects: readonly Differing[]): Promise<string[]> {
  const logs = readdirSync(dir).filter((f) => f === 'exchange.log' || /^worker-\d+\.log$/.test(f));
  const texts = logs.map((file) => ({ file, lines: readFileSync(join(dir, file), 'utf8').split('\n') }));
  const out: string[] = [];
  for (const { type, id } of objects.slice(0, 3)) {
    const model = (Object.values(models) as ModelDescriptor[]).find((m) => m.name === type);
    const versions = (await sqlite('promiscuous_versions')
      .where({ endpoint: model?.endpoint ?? '', object_id: id })
      .select('version', 'destroyed')) as { version: number; destroyed: number }[];
    out.push(
      `history of ${type} ${id} (subscriber's version: ${versions.map((v) => `${v.version}${v.destroyed ? ' destroyed' : ''}`).join(', ') || 'none'}):`,
    );
    const operation = new RegExp(`\\w+ ${type} ${id} v\\d+`);
    for (const { file, lines } of texts) {
      for (const line of lines) {
        const found = operation.exec(line);
        // The line's head (time, message id, outcome) and the operation on this object.
        if (found) out.push(`  ${file}: ${line.slice(0, line.indexOf('[')).slice(0, 200)}... ${found[0]}`);
      }
    }
  }
  return out;
}
