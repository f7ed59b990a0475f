/**
 * The `PublisherTransaction` the generated hooks call: it writes rows through the
 * transaction's session, bumps `_v` in the same statements, and records the operations (and
 * the dependencies of what it read) that the transaction's message carries.
 */
import { randomUUID } from 'node:crypto';
import type {
  AttributeDescriptor,
  EphemeralDescriptor,
  FindOptions,
  Id,
  ModelDescriptor,
  PublisherSchema,
  PublisherTransaction,
} from '../contract.js';
import type { Database } from '../db/database.js';
import type { Session } from '../db/session.js';
import type { Dependency, OperationMessage } from '../envelope.js';
import { PublisherError } from '../../common/errors.js';
import { columnValues, sameWire, toWire } from '../values.js';
import { endpointKey, type RowOf } from './dependencies.js';
import type { DerivedChanges } from './derived/changes.js';
import type { DerivedFunction } from './derived/compute.js';
import { refreshDerived } from './derived/refresh.js';
import type { Publications } from './publications.js';
import type { RawWriteWatch } from './raw-writes.js';

export class Recorder implements PublisherTransaction {
  readonly operations: OperationMessage[] = [];
  readonly dependencies: Dependency[] = [];
  /** Rows created or updated, whose relations become dependencies at commit. */
  readonly written: RowOf[] = [];
  /** Objects written or read: their relations need no other version read. */
  readonly known = new Set<string>();
  /** Rows (by table and key) this transaction gave a new version: a derived refresh keeps it. */
  private readonly versioned = new Set<string>();
  private current: Session | undefined;

  constructor(
    private readonly publications: Publications,
    private readonly database: Database,
    private readonly watch: RawWriteWatch,
    private readonly changes: DerivedChanges,
  ) {}

  begin(session: Session): void {
    this.current = session;
  }

  end(): void {
    this.current = undefined;
  }

  private get session(): Session {
    if (!this.current) throw new PublisherError('hooks were used after their transaction ended');
    return this.current;
  }

  private async insertRow(
    model: ModelDescriptor,
    values: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown>> {
    this.refuseDerived(model, values);
    const row: Record<string, unknown> = {
      ...columnValues(this.publications.tableAttributes(model.table), values),
      _v: 1,
    };
    if (model.discriminator && row[model.discriminator.column] === undefined)
      row[model.discriminator.column] = model.discriminator.value;
    const key = model.primaryKey.column;
    let created: Record<string, unknown> | undefined;
    if (this.database.returnsRows) {
      // One round trip: the row comes back as the database stored it.
      const columns = Object.keys(row).filter((c) => row[c] !== undefined);
      const sql = `INSERT INTO ?? (${columns.map(() => '??').join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) RETURNING *`;
      created = this.first(await this.session.raw(sql, [model.table, ...columns, ...columns.map((c) => row[c])]));
    } else {
      const [inserted] = await this.session.table(model.table).insert(row);
      created = await this.read(model, (row[key] ?? inserted) as Id);
    }
    const id = row[key] ?? created?.[key];
    if (!created) throw new PublisherError(`${model.name} ${String(id)} was inserted but cannot be read back`);
    this.record(model, created, 'create', 1);
    this.changes.wrote(model.table, undefined, created);
    return created;
  }

  private async updateRow(
    model: ModelDescriptor,
    id: Id,
    patch: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | undefined> {
    this.refuseDerived(model, patch);
    // Undefined values write nothing (as Knex leaves them out).
    const writes = Object.fromEntries(
      Object.entries(columnValues(this.publications.tableAttributes(model.table), patch)).filter(
        ([, v]) => v !== undefined,
      ),
    );
    const columns = new Set(Object.keys(writes));
    // A child moved between aggregates alters its old parent too: read it before the write.
    const moved = this.changes.needsBefore(model.table, columns) ? await this.read(model, id, true) : undefined;
    const row = await this.writeUpdate(model, id, writes);
    if (row && this.changes.feeds(model.table)) this.changes.wrote(model.table, moved, row, columns);
    return row;
  }

  private async writeUpdate(
    model: ModelDescriptor,
    id: Id,
    writes: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | undefined> {
    if (this.database.returnsRows && Object.keys(writes).length > 0) return this.updateReturning(model, id, writes);
    const before = await this.read(model, id, true);
    if (!before) return undefined;
    const after = { ...before, ...writes };
    const publications = this.publications.of(model, after);
    // SyncMachine's rule: a write that changes no published attribute publishes nothing.
    const changed = publications.some(
      (p) => !sameWire(this.publications.attributes(p, before), this.publications.attributes(p, after)),
    );
    const version = Number(before._v ?? 0) + (changed ? 1 : 0);
    if (Object.keys(writes).length > 0 || changed) {
      await this.session
        .table(model.table)
        .where(model.primaryKey.column, id)
        .update({ ...writes, ...(changed ? { _v: version } : {}) });
    }
    const row = (await this.read(model, id)) ?? after;
    if (changed) this.record(model, row, 'update', version);
    return row;
  }

  /**
   * On a database whose writes return rows, one statement writes the row, bumps `_v` and
   * returns the row, on the condition that a written column feeds a published attribute
   * (directly, or through a virtual attribute that uses it) and changes. Nothing returned
   * means the row is missing or the write changes nothing published: where another
   * transaction can have committed in between (`Database.recheckUpdates`), the row is then
   * locked and the condition tried once more, and failing that the columns are written
   * without a new version.
   */
  private async updateReturning(
    model: ModelDescriptor,
    id: Id,
    writes: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | undefined> {
    const key = model.primaryKey.column;
    const columns = Object.keys(writes);
    const watched = this.publications.publishedColumns(model.table);
    const compared = columns.filter((c) => watched.has(c));
    const different = this.database.distinctFrom;
    const json = this.publications.jsonColumns(model.table);
    const set = columns.map(() => '?? = ?').join(', ');
    const bindings = [model.table, ...columns.flatMap((c) => [c, writes[c]]), key, id];
    const bump = async (): Promise<Record<string, unknown> | undefined> => {
      if (compared.length === 0) return undefined;
      const cast = (c: string) => (json.has(c) ? this.database.comparableJson : '');
      const condition = compared.map((c) => `??${cast(c)} ${different} ?${cast(c)}`).join(' OR ');
      const sql = `UPDATE ?? SET ${set}, "_v" = "_v" + 1 WHERE ?? = ? AND (${condition}) RETURNING *`;
      return this.first(await this.session.raw(sql, [...bindings, ...compared.flatMap((c) => [c, writes[c]])]));
    };
    let row = await bump();
    if (!row && compared.length > 0 && this.database.recheckUpdates) {
      if (!(await this.read(model, id, true))) return undefined;
      row = await bump();
    }
    if (!row) return this.first(await this.session.raw(`UPDATE ?? SET ${set} WHERE ?? = ? RETURNING *`, bindings));
    this.record(model, row, 'update', Number(row._v));
    return row;
  }

  /** The first row of a raw statement's result, whatever the dialect's shape of it. */
  private first(result: unknown): Record<string, unknown> | undefined {
    const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
    return rows[0] as Record<string, unknown> | undefined;
  }

  private async deleteRow(model: ModelDescriptor, id: Id): Promise<boolean> {
    const key = model.primaryKey.column;
    let before: Record<string, unknown> | undefined;
    if (this.database.returnsRows) {
      // One statement: the row as it was comes back from the DELETE.
      before = this.first(await this.session.raw('DELETE FROM ?? WHERE ?? = ? RETURNING *', [model.table, key, id]));
    } else {
      before = await this.read(model, id, true);
      if (before) await this.session.table(model.table).where(key, id).delete();
    }
    if (!before) return false;
    this.record(model, before, 'destroy', Number(before._v ?? 0) + 1);
    this.changes.wrote(model.table, before, undefined);
    return true;
  }

  // The hooks' writes run marked, so that raw-write detection tells them from bypasses.
  create(model: ModelDescriptor, values: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>> {
    return this.watch.asHooks(() => this.insertRow(model, values));
  }

  update(
    model: ModelDescriptor,
    id: Id,
    patch: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | undefined> {
    return this.watch.asHooks(() => this.updateRow(model, id, patch));
  }

  destroy(model: ModelDescriptor, id: Id): Promise<boolean> {
    return this.watch.asHooks(() => this.deleteRow(model, id));
  }

  async find(model: ModelDescriptor, id: Id, options?: FindOptions): Promise<Record<string, unknown> | undefined> {
    const row = await this.read(model, id, options?.lock === true);
    if (row) {
      const key = String(row[model.primaryKey.column]);
      for (const publication of this.publications.of(model, row)) {
        const { endpoint, types } = publication;
        this.dependencies.push({ endpoint, id: key, version: Number(row._v ?? 0), types });
        this.known.add(endpointKey(endpoint, key));
      }
    }
    return row;
  }

  async emit(ephemeral: EphemeralDescriptor, attributes: Readonly<Record<string, unknown>>): Promise<void> {
    if (!this.current) throw new PublisherError('hooks were used after their transaction ended');
    this.operations.push(ephemeralOperation(ephemeral, attributes));
  }

  /**
   * Refreshes the derived attributes the transaction's writes may have altered, before its
   * outbox row is written. `due`: coalescing models refreshed now (by the refresher).
   */
  async refresh(
    schema: PublisherSchema<unknown, unknown>,
    virtual: (model: ModelDescriptor, attribute: string) => DerivedFunction,
    { due, givesWay }: { readonly due?: ReadonlySet<string>; readonly givesWay?: boolean } = {},
  ): Promise<void> {
    if (!this.changes.pending) return;
    const { locksRows, staleReads } = this.database;
    const compute = { session: this.session, models: schema.models, virtual, locksRows, staleReads, givesWay };
    const now = Date.now();
    // Its writes are the hooks' own: raw-write detection must not report them.
    await this.watch.asHooks(() =>
      refreshDerived({ schema, compute, changes: this.changes, target: this, now, ...(due ? { due } : {}) }),
    );
  }

  versions(table: string, key: string): boolean {
    return this.versioned.has(`${table}:${key}`);
  }

  /** Marks rows of a table for a refresh of their derived attributes at the end of the transaction. */
  markDerived(table: string, keys: readonly unknown[]): void {
    this.changes.markRows(table, keys);
  }

  /** Marks subjects of a model (its table's rows) for a refresh at the end of the transaction. */
  markModel(model: string, keys: readonly unknown[]): void {
    this.changes.markRows(this.publications.model(model).table, keys);
  }

  /**
   * Writes a derived column of subjects. A subject this transaction versioned already keeps
   * that version, and its operation takes the new value; any other gets the next version and
   * an update. Either way the write may alter attributes derived from this one.
   */
  async writeDerived(
    model: ModelDescriptor,
    attribute: AttributeDescriptor,
    keys: readonly unknown[],
    value: unknown,
  ): Promise<void> {
    const key = model.primaryKey.column;
    const column = attribute.column as string;
    const fresh = keys.filter((k) => !this.versioned.has(`${model.table}:${String(k)}`));
    const again = keys.filter((k) => this.versioned.has(`${model.table}:${String(k)}`));
    for (const [ids, bump] of [
      [fresh, true],
      [again, false],
    ] as const) {
      if (ids.length === 0) continue;
      const version = bump ? ', ?? = ?? + 1' : '';
      await this.session.raw(`UPDATE ?? SET ?? = ?${version} WHERE ?? IN (${ids.map(() => '?').join(', ')})`, [
        model.table,
        column,
        value,
        ...(bump ? ['_v', '_v'] : []),
        key,
        ...ids,
      ]);
      const rows = (await this.session.table(model.table).whereIn(key, ids as string[])) as Record<string, unknown>[];
      for (const row of rows) {
        if (bump) this.record(model, row, 'update', Number(row._v));
        else this.restate(model, row);
        this.changes.wrote(model.table, undefined, row, new Set([column]));
      }
    }
  }

  /** Gives the operations this transaction recorded for a row its current attributes, at their version. */
  private restate(model: ModelDescriptor, row: Record<string, unknown>): void {
    const id = String(row[model.primaryKey.column]);
    for (const publication of this.publications.of(model, row)) {
      const current = this.publications.attributes(publication, row);
      const derived = publication.attributes.filter((a) => a.derived && !a.private).map((a) => a.name);
      // Every operation of the row in this message: a subscriber validates each, and applies
      // them together, so an earlier one takes the derived values the message ends with.
      for (let at = 0; at < this.operations.length; at += 1) {
        const op = this.operations[at] as OperationMessage;
        if (op.endpoint !== publication.endpoint || op.id !== id || op.attributes === null) continue;
        const attributes = { ...op.attributes };
        for (const name of derived) attributes[name] = current[name];
        this.operations[at] = { ...op, attributes };
      }
    }
  }

  /** Refuses a write of a derived attribute's column: the publisher keeps it. */
  private refuseDerived(model: ModelDescriptor, values: Readonly<Record<string, unknown>>): void {
    const derived = this.publications.derivedColumns(model.table);
    const written = Object.keys(values).filter((c) => derived.has(c) && values[c] !== undefined);
    if (written.length > 0) {
      throw new PublisherError(
        `${model.name} cannot be given ${written.join(', ')}: derived attributes are kept by the publisher`,
      );
    }
  }

  private async read(model: ModelDescriptor, id: Id, lock = false): Promise<Record<string, unknown> | undefined> {
    const query = this.session.table(model.table).where(model.primaryKey.column, id).first();
    if (lock && this.database.locksRows) query.forUpdate();
    return (await query) as Record<string, unknown> | undefined;
  }

  private record(
    model: ModelDescriptor,
    row: Record<string, unknown>,
    operation: OperationMessage['operation'],
    version: number,
  ): void {
    const key = String(row[model.primaryKey.column]);
    this.versioned.add(`${model.table}:${key}`);
    if (operation !== 'destroy') this.written.push({ model, row });
    for (const publication of this.publications.of(model, row)) {
      this.known.add(endpointKey(publication.endpoint, key));
      this.operations.push({
        endpoint: publication.endpoint,
        types: publication.types,
        id: key,
        operation,
        version,
        attributes: operation === 'destroy' ? null : this.publications.attributes(publication, row),
      });
    }
  }
}

/** An ephemeral's operation: a create of an object nobody stores, under an id of its own. */
export function ephemeralOperation(
  ephemeral: EphemeralDescriptor,
  attributes: Readonly<Record<string, unknown>>,
): OperationMessage {
  const published: Record<string, unknown> = {};
  for (const a of ephemeral.attributes) published[a.name] = toWire(a.kind, attributes[a.name]);
  return {
    endpoint: ephemeral.endpoint,
    types: [ephemeral.name],
    id: randomUUID(),
    operation: 'create',
    version: 1,
    attributes: published,
  };
}
