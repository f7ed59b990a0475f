/** Statements: how many a message (or a write, a page) costs, and where their time goes. */
import type { Knex } from 'knex';
import { fmt } from './format.js';
import { now } from './options.js';

interface QueryEvent {
  readonly sql: string;
  readonly __knexQueryUid?: string;
}

export interface ShapeStat {
  n: number;
  ms: number;
}

const shapeCache = new Map<string, string>();

/** A statement's shape: its verb and table, `BEGIN`, `COMMIT`. */
export function shape(sql: string): string {
  let known = shapeCache.get(sql);
  if (known === undefined) {
    known = shapeOf(sql);
    if (shapeCache.size < 10_000) shapeCache.set(sql, known);
  }
  return known;
}

function shapeOf(sql: string): string {
  const s = sql.trim().toLowerCase();
  if (/^(begin|start transaction)/.test(s)) return 'BEGIN';
  if (s.startsWith('commit')) return 'COMMIT';
  if (s.startsWith('rollback')) return 'ROLLBACK';
  const table = (re: RegExp): string => re.exec(s)?.[1] ?? '?';
  const t = /["`]?([a-z0-9_]+)["`]?/.source;
  if (s.startsWith('insert'))
    return `insert ${table(new RegExp(`^insert into ${t}`))}${/ returning /.test(s) ? ' returning' : ''}${/ on conflict /.test(s) ? ' on conflict' : ''}`;
  if (s.startsWith('update')) return `update ${table(new RegExp(`^update ${t}`))}`;
  if (s.startsWith('delete')) return `delete ${table(new RegExp(`^delete from ${t}`))}`;
  if (s.startsWith('select')) {
    const lock = / for update skip locked/.test(s)
      ? ' for update skip locked'
      : / for update/.test(s)
        ? ' for update'
        : '';
    return `select ${table(new RegExp(` from ${t}`))}${lock}`;
  }
  return s.split(/\s+/).slice(0, 2).join(' ');
}

export class QueryStats {
  private shapes = new Map<string, ShapeStat>();
  private started = new Map<string, [string, number]>();

  /** `shapeOf`: how statements are grouped (by default `shape`). */
  constructor(private readonly shapeOf: (sql: string) => string = shape) {}

  attach(db: Knex, onQuery?: (shape: string) => void): void {
    db.on('query', (q: QueryEvent) => {
      const key = this.shapeOf(q.sql);
      onQuery?.(key);
      const stat = this.shapes.get(key) ?? { n: 0, ms: 0 };
      stat.n += 1;
      this.shapes.set(key, stat);
      if (q.__knexQueryUid) this.started.set(q.__knexQueryUid, [key, now()]);
    });
    const done = (q: QueryEvent): void => {
      const started = q.__knexQueryUid ? this.started.get(q.__knexQueryUid) : undefined;
      if (!started || !q.__knexQueryUid) return;
      this.started.delete(q.__knexQueryUid);
      const stat = this.shapes.get(started[0]);
      if (stat) stat.ms += now() - started[1];
    };
    db.on('query-response', (_r: unknown, q: QueryEvent) => done(q));
    db.on('query-error', (_e: unknown, q: QueryEvent) => done(q));
  }

  reset(): void {
    this.shapes = new Map();
    this.started = new Map();
  }

  snapshot(): Record<string, ShapeStat> {
    return Object.fromEntries([...this.shapes].map(([k, v]) => [k, { ...v }]));
  }
}

export function addShapes(into: Record<string, ShapeStat>, from: Record<string, ShapeStat>): void {
  for (const [k, v] of Object.entries(from)) {
    const s = into[k] ?? { n: 0, ms: 0 };
    s.n += v.n;
    s.ms += v.ms;
    into[k] = s;
  }
}

export function totalStatements(s: Record<string, ShapeStat>): number {
  return Object.values(s).reduce((a, b) => a + b.n, 0);
}

/** Statements per unit (a message, a page), by shape, with their mean time. */
export function perUnit(s: Record<string, ShapeStat>, units: number, limit = 10): string {
  return Object.entries(s)
    .sort((a, b) => b[1].ms - a[1].ms || b[1].n - a[1].n)
    .slice(0, limit)
    .map(([k, v]) => `${k} ${fmt(v.n / Math.max(1, units), 2)} (${fmt(v.ms / Math.max(1, v.n), 2)} ms)`)
    .join(', ');
}
