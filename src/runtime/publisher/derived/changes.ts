/**
 * The subjects whose derived attributes a transaction's writes may have altered. A write names
 * the table, the row before and after, and the columns written; the compiler's map of
 * dependents says which derived attributes that can alter and how to reach their subjects.
 * Subjects reached through a path of relations are looked up once, when they are refreshed,
 * whatever the number of writes that led there.
 */
import type { DependentDescriptor, PublisherSchema, RelationStep } from '../../contract.js';
import type { Session } from '../../db/session.js';
import { readChunk } from './compute.js';

type Row = Readonly<Record<string, unknown>>;

/** Keys by their string form, each with its value as the database gave it. */
export type Keys = Map<string, unknown>;

export function attributeKey(model: string, attribute: string): string {
  return `${model}.${attribute}`;
}

export class DerivedChanges {
  /** Subjects to refresh, by {@link attributeKey}. */
  private readonly subjects = new Map<string, Keys>();
  /** Rows at the end of a dependent's path, whose subjects are still to be looked up. */
  private readonly ends = new Map<DependentDescriptor, Keys>();

  constructor(private readonly schema: PublisherSchema<unknown, unknown>) {}

  /** Whether a table's writes can alter some derived attribute. */
  feeds(table: string): boolean {
    return (this.schema.dependents?.[table]?.length ?? 0) > 0;
  }

  /** Whether a write of these columns must read the row before it: it moves a child between aggregates. */
  needsBefore(table: string, columns: Iterable<string>): boolean {
    const vias = (this.schema.dependents?.[table] ?? []).flatMap((d) => ('via' in d.reach ? [d.reach.via] : []));
    return vias.length > 0 && [...columns].some((c) => vias.includes(c));
  }

  /**
   * A row of `table` was written: `before` and `after` are its states (undefined where it did
   * not exist), `columns` those written (undefined: all, for a create or a destroy).
   */
  wrote(table: string, before: Row | undefined, after: Row | undefined, columns?: ReadonlySet<string>): void {
    if (!before && after) this.created(table, after);
    for (const dependent of this.schema.dependents?.[table] ?? []) {
      if (columns && !dependent.columns.some((c) => columns.has(c))) continue;
      const { reach } = dependent;
      if ('via' in reach) {
        for (const row of [before, after]) this.add(this.subjectsOf(dependent), row?.[reach.via]);
      } else if (reach.path.length === 0) {
        const model = this.schema.models[dependent.model];
        if (model && after) this.add(this.subjectsOf(dependent), after[model.primaryKey.column]);
      } else {
        const last = reach.path.at(-1) as RelationStep;
        const keys = this.ends.get(dependent) ?? new Map();
        this.ends.set(dependent, keys);
        this.add(keys, (after ?? before)?.[last.key]);
      }
    }
  }

  /** A new row has every derived attribute of its table to compute. */
  private created(table: string, row: Row): void {
    const model = Object.values(this.schema.models).find((m) => m.table === table);
    if (model) this.markRows(table, [row[model.primaryKey.column]]);
  }

  /** Marks rows of a table for a refresh of every derived attribute stored in it (asked for, or due). */
  markRows(table: string, keys: readonly unknown[]): void {
    for (const { model, attribute } of this.schema.derivations ?? []) {
      if (this.schema.models[model]?.table === table) this.mark(model, attribute, keys);
    }
  }

  private mark(model: string, attribute: string, keys: Iterable<unknown>): void {
    const set = this.subjects.get(attributeKey(model, attribute)) ?? new Map();
    this.subjects.set(attributeKey(model, attribute), set);
    for (const key of keys) this.add(set, key);
  }

  /** Whether anything is left to refresh or look up. */
  get pending(): boolean {
    return this.ends.size > 0 || [...this.subjects.values()].some((keys) => keys.size > 0);
  }

  /** Takes the subjects of a derived attribute to refresh, after looking up those reached through paths. */
  async take(session: Session, model: string, attribute: string): Promise<Keys> {
    for (const [dependent, keys] of this.ends) {
      if (dependent.model !== model || dependent.attribute !== attribute) continue;
      this.ends.delete(dependent);
      const found = await this.lookUp(session, dependent, [...keys.values()]);
      for (const key of found) this.add(this.subjectsOf(dependent), key);
    }
    const keys = this.subjects.get(attributeKey(model, attribute)) ?? new Map();
    this.subjects.delete(attributeKey(model, attribute));
    return keys;
  }

  private subjectsOf(dependent: DependentDescriptor): Keys {
    return this.subjects.get(attributeKey(dependent.model, dependent.attribute)) ?? this.newSet(dependent);
  }

  private newSet(dependent: DependentDescriptor): Keys {
    const keys: Keys = new Map();
    this.subjects.set(attributeKey(dependent.model, dependent.attribute), keys);
    return keys;
  }

  private add(keys: Keys, key: unknown): void {
    if (key !== null && key !== undefined) keys.set(String(key), key);
  }

  /** The subjects whose path of relations ends at one of these rows: one query, joining every hop but the last. */
  private async lookUp(session: Session, dependent: DependentDescriptor, ends: readonly unknown[]): Promise<unknown[]> {
    const model = this.schema.models[dependent.model];
    if (!model || !('path' in dependent.reach)) return [];
    const path = dependent.reach.path;
    const out: unknown[] = [];
    for (let i = 0; i < ends.length; i += readChunk) {
      const query = session.table(`${model.table} as t0`).select({ k: `t0.${model.primaryKey.column}` });
      let from = 't0';
      path.slice(0, -1).forEach((step, hop) => {
        query.join(`${step.table} as t${hop + 1}`, `${from}.${step.column}`, `t${hop + 1}.${step.key}`);
        from = `t${hop + 1}`;
      });
      const last = path.at(-1) as RelationStep;
      const rows = (await query.whereIn(`${from}.${last.column}`, ends.slice(i, i + readChunk) as string[])) as {
        k: unknown;
      }[];
      out.push(...rows.map((row) => row.k));
    }
    return out;
  }
}
