/**
 * The `PublisherTransaction` the generated hooks call: it writes rows through the
 * transaction's session, bumps `_v` in the same statements, and records the operations (and
 * the dependencies of what it read) that the transaction's message carries.
 */
import { randomUUID } from 'node:crypto';
import type { EphemeralDescriptor, FindOptions, Id, ModelDescriptor, PublisherTransaction } from '../contract.js';
import type { Database } from '../db/database.js';
import type { Session } from '../db/session.js';
import type { Dependency, OperationMessage } from '../envelope.js';
import { PublisherError } from '../../common/errors.js';
import { columnValues, sameWire, toWire } from '../values.js';
import { endpointKey, type RowOf } from './dependencies.js';
import type { Publications } from './publications.js';
import type { RawWriteWatch } from './raw-writes.js';

export class Recorder implements PublisherTransaction {
  readonly operations: OperationMessage[] = [];
  readonly dependencies: Dependency[] = [];
  /** Rows created or updated, whose relations become dependencies at commit. */
  readonly written: RowOf[] = [];
  /** Objects written or read: their relations need no other version read. */
  readonly known = new Set<string>();
  private current: Session | undefined;

  constructor(
    private readonly publications: Publications,
    private readonly database: Database,
    private readonly watch: RawWriteWatch,
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
    return created;
  }

  private async updateRow(
    model: ModelDescriptor,
    id: Id,
    patch: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | undefined> {
    // Undefined values write nothing (as Knex leaves them out).
    const writes = Object.fromEntries(
      Object.entries(columnValues(this.publications.tableAttributes(model.table), patch)).filter(
        ([, v]) => v !== undefined,
      ),
    );
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
