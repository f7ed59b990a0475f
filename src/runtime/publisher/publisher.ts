import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Knex } from 'knex';
import type { Consumer, Delivery, OutgoingMessage, Transport } from '../../transport/transport.js';
import type {
  AttributeDescriptor,
  EphemeralDescriptor,
  FindOptions,
  Id,
  ModelDescriptor,
  PublisherSchema,
  PublisherTransaction,
} from '../contract.js';
import { type Dependency, type Envelope, goneVersion, type OperationMessage } from '../envelope.js';
import { PublisherError } from '../../common/errors.js';
import { defaultMetrics, type Metrics } from '../observability/metrics.js';
import { traceCarrier } from '../observability/tracing.js';
import { parseResyncRequest, resyncQueueApp, resyncRequestKey, syncReplyKey } from '../resync.js';
import { columnValues, isJsonKind, sameWire, toWire } from '../values.js';
import {
  dependenciesOn,
  mergeDependencies,
  objectKey,
  type RowOf,
  referencedOf,
  relationDependencies,
} from './dependencies.js';
import { outboxTable } from './outbox.js';
import { type OutboxRow, Relay, type RelayOptions, route, toOutgoing } from './relay.js';
import { literal, type PgConnection, PgTransaction } from '../postgres.js';
import { withPreparedStatements } from '../sqlite.js';
import { connectionSession, type Session, sqliteRaw } from './session.js';

/** Functions computing virtual attributes: `{ User: { full_name: (row) => ... } }`. */
export type VirtualFunctions = Readonly<Record<string, Readonly<Record<string, (row: never) => unknown>>>>;

export interface PublisherOptions<Hooks, Virtuals> {
  readonly schema: PublisherSchema<Hooks, Virtuals>;
  readonly knex: Knex;
  readonly transport: Transport;
  /** The functions of the virtual attributes; the generated `Virtuals` type says which are needed. */
  readonly virtuals?: Virtuals;
  /** Default: the machine's host name. */
  readonly host?: string;
  /** Default 1; bump it when the outbox is recreated, so that old messages can be told apart. */
  readonly generation?: number;
  /** The relay that moves committed outbox rows to the broker; `false` leaves it to `promiscuous relay`. */
  readonly relay?: RelayOptions | false;
  /**
   * Answer subscribers' re-sync requests with the current state of the objects they miss
   * (default: whenever the relay runs).
   */
  readonly answerResync?: boolean;
  readonly errorNotifier?: (error: Error, payload?: unknown) => void;
  /**
   * Report writes to published tables that bypass the hooks (a raw Knex query, say): they
   * would never be published. Default: on unless NODE_ENV is `production`.
   */
  readonly detectRawWrites?: boolean;
  /** Where the publisher and its relay record what they do (default: {@link defaultMetrics}). */
  readonly metrics?: Metrics;
}

export interface Context {
  readonly name: string;
  readonly userId?: string;
}

/** A running context: what it is, and the operations of its last message, which its next one depends on. */
interface ContextState {
  readonly context: Context;
  previous: readonly Dependency[];
}

/**
 * Publishes an app's models. `transaction` owns the Knex transaction: the generated hooks
 * write rows, bump `_v` in the same statements, and at commit the transaction's operations are
 * written to the outbox in the same database transaction. The relay publishes them after
 * commit; a rolled-back transaction leaves nothing to publish.
 */
export class Publisher<Hooks, Virtuals = unknown> {
  readonly relay: Relay | undefined;
  private readonly contexts = new AsyncLocalStorage<ContextState>();
  /** Set while a hook runs its queries: a write to a published table outside it bypassed the hooks. */
  readonly hooks = new AsyncLocalStorage<true>();
  private readonly detecting: boolean;

  /** Runs a hook's queries marked as the hooks', when raw writes are being watched for. */
  marked<T>(fn: () => Promise<T>): Promise<T> {
    return this.detecting ? this.hooks.run(true, fn) : fn();
  }
  private readonly host: string;
  private readonly responder: Promise<Consumer | undefined> | undefined;
  private readonly virtuals: VirtualFunctions;
  private readonly tables: Map<string, ModelDescriptor[]>;
  private readonly columns = new Map<string, AttributeDescriptor[]>();
  private readonly published = new Map<string, ReadonlySet<string>>();
  private readonly json = new Map<string, ReadonlySet<string>>();

  constructor(private readonly options: PublisherOptions<Hooks, Virtuals>) {
    this.host = options.host ?? hostname();
    this.virtuals = (options.virtuals ?? {}) as VirtualFunctions;
    this.tables = new Map();
    for (const model of Object.values(options.schema.models)) {
      const list = this.tables.get(model.table) ?? [];
      list.push(model);
      this.tables.set(model.table, list);
      this.columns.set(model.table, [...(this.columns.get(model.table) ?? []), ...model.attributes]);
    }
    this.detecting = options.detectRawWrites ?? process.env.NODE_ENV !== 'production';
    if (this.detecting) {
      options.knex.on('query', (query: { method?: string; sql?: string }) => this.inspect(query));
    }
    this.relay =
      options.relay === false
        ? undefined
        : new Relay(options.knex, options.transport, {
            ...options.relay,
            onError: (e) => this.notify(e),
            app: options.schema.app,
            ...(options.metrics ? { metrics: options.metrics } : {}),
          });
    if (options.answerResync ?? this.relay !== undefined) this.responder = this.answerResyncs();
  }

  /** A published model, by name. */
  model(name: string): ModelDescriptor {
    const { app, models } = this.options.schema;
    const model = models[name];
    if (!model)
      throw new PublisherError(`${app} publishes no model ${name} (it has ${Object.keys(models).join(', ')})`);
    return model;
  }

  /**
   * Publishes the current state of rows as `sync` operations: for a new subscriber (initial
   * sync), or to repair one. `which` is a list of ids (an id no row has is published as gone)
   * or a function narrowing the query. A subscriber applies a sync only when it is newer than
   * what it holds, so a sync racing live writes is harmless. Resolves to the number of rows
   * found, once the broker confirmed every message.
   */
  async sync(
    model: ModelDescriptor | string,
    which: readonly Id[] | ((query: Knex.QueryBuilder) => void),
    options: { readonly to?: string } = {},
  ): Promise<number> {
    const descriptor = typeof model === 'string' ? this.model(model) : model;
    const key = descriptor.primaryKey.column;
    const query = this.options.knex(descriptor.table);
    if (typeof which === 'function') which(query);
    else query.whereIn(key, which as Id[]);
    const rows = (await query) as Record<string, unknown>[];
    const found = new Set(rows.map((row) => String(row[key])));
    const gone = typeof which === 'function' ? [] : which.map(String).filter((id) => !found.has(id));
    await this.syncRows(descriptor, rows, gone, options.to);
    return rows.length;
  }

  /**
   * Publishes rows of one model as `sync` operations, in messages of {@link syncBatch}, with
   * their relations as dependencies; `gone` ids as tombstones. `to` sends them to one
   * subscriber app's queue instead of every subscriber's.
   */
  async syncRows(
    model: ModelDescriptor,
    rows: readonly Record<string, unknown>[],
    gone: readonly string[] = [],
    to?: string,
  ): Promise<void> {
    const messages: OutgoingMessage[] = [];
    const send = (operations: OperationMessage[], dependencies: Dependency[]): void => {
      const outgoing = toOutgoing({ ...this.envelope(operations, dependencies), context: null });
      messages.push(to === undefined ? outgoing : { ...outgoing, routingKeys: [syncReplyKey(to)] });
    };
    const { models } = this.options.schema;
    const items = rows.map((row) => ({ model, row }));
    // The rows' references, read once for all the rows: each message takes those of its own.
    const table = (name: string) => this.options.knex(name);
    const read = await relationDependencies(table, models, items, new Set());
    const references = new Map(read.map((d) => [objectKey(d.endpoint, d.id), d]));
    for (let i = 0; i < rows.length; i += syncBatch) {
      const chunk = rows.slice(i, i + syncBatch);
      const operations = chunk.flatMap((row) =>
        this.publicationsOf(model, row).map((publication): OperationMessage => ({
          endpoint: publication.endpoint,
          types: publication.types,
          id: String(row[model.primaryKey.column]),
          operation: 'sync',
          version: Number(row._v ?? 0),
          attributes: this.attributes(publication, row),
        })),
      );
      const skip = new Set(operations.map((op) => objectKey(op.endpoint, op.id)));
      send(operations, referencedOf(references, models, items.slice(i, i + syncBatch), skip));
    }
    for (let i = 0; i < gone.length; i += syncBatch) {
      const { endpoint, types } = model;
      send(
        gone
          .slice(i, i + syncBatch)
          .map((id) => ({ endpoint, types, id, operation: 'sync', version: goneVersion, attributes: null })),
        [],
      );
    }
    await this.options.transport.publish(messages);
  }

  private async answerResyncs(): Promise<Consumer | undefined> {
    const app = this.options.schema.app;
    try {
      return await this.options.transport.consume(
        resyncQueueApp(app),
        { prefetch: 10, bindings: [resyncRequestKey(app)] },
        (delivery) => this.answer(delivery),
      );
    } catch (error) {
      this.notify(new PublisherError(`cannot answer re-sync requests: ${(error as Error).message}`, { cause: error }));
      return undefined;
    }
  }

  /** Answers one re-sync request: the current state of each object asked for, to the asking app. */
  private async answer(delivery: Delivery): Promise<void> {
    const request = parseResyncRequest(delivery.body);
    if (typeof request === 'string') return delivery.park(request);
    try {
      const byModel = new Map<ModelDescriptor, string[]>();
      for (const object of request.objects) {
        const model = this.endpointRoot(object.endpoint);
        if (model) byModel.set(model, [...(byModel.get(model) ?? []), object.id]);
      }
      for (const [model, ids] of byModel) await this.sync(model, ids, { to: request.app });
      await delivery.ack();
      (this.options.metrics ?? defaultMetrics()).resyncAnswered.inc({ app: this.options.schema.app });
    } catch (error) {
      this.notify(new PublisherError(`could not answer a re-sync request of ${request.app}`, { cause: error }));
      await delivery.retry(error as Error, Math.min(60_000, 1_000 * 2 ** delivery.attempt));
    }
  }

  /** The model at the root of what an endpoint publishes: its rows are every object of the endpoint. */
  private endpointRoot(endpoint: string): ModelDescriptor | undefined {
    const models = Object.values(this.options.schema.models).filter((m) => m.endpoint === endpoint);
    return models.sort((a, b) => a.types.length - b.types.length)[0];
  }

  /** Runs `fn` with a context (a request, a job) whose name and user id travel with its messages. */
  context<T>(context: Context, fn: () => Promise<T>): Promise<T> {
    return this.contexts.run({ context, previous: [] }, fn);
  }

  /**
   * Runs `fn` in a database transaction with the typed hooks. Resolves after commit; the
   * outbox makes the publishing durable. An ephemeral emitted inside travels in the same
   * message as the transaction's writes, so it is never seen before them.
   */
  async transaction<T>(fn: (tx: Hooks) => Promise<T>): Promise<T> {
    const recorder = new Recorder(this as Publisher<unknown, unknown>);
    const run = async (session: Session): Promise<T> => {
      recorder.begin(session);
      const result = await fn(this.options.schema.bind(recorder));
      recorder.end();
      return result;
    };
    const client = this.options.knex.client.config.client;
    const { value, written } =
      client === 'pg'
        ? await this.postgresTransaction(recorder, run)
        : client === 'better-sqlite3'
          ? await this.sqliteTransaction(recorder, run)
          : await this.knexTransaction(recorder, run);
    if (written) {
      this.relay?.enqueue(written);
      this.followed(recorder.operations);
    }
    return value;
  }

  /** A transaction through Knex, the outbox row inserted as one more statement. */
  private async knexTransaction<T>(
    recorder: Recorder,
    run: (session: Session) => Promise<T>,
  ): Promise<{ value: T; written?: OutboxRow }> {
    let written: OutboxRow | undefined;
    const value = await this.options.knex.transaction(async (trx) => {
      const session: Session = {
        dialect: trx.client.config.client,
        table: (name) => trx(name),
        raw: async (sql, bindings) => trx.raw(sql, bindings as Knex.RawBinding[]),
      };
      const result = await run(session);
      const row = await this.outboxRow(recorder, session);
      if (row) written = { id: await insertId(trx, row.insert), message: row.insert.message, route: row.route };
      return result;
    });
    return written ? { value, written } : { value };
  }

  /**
   * On PostgreSQL the publisher drives the transaction on a pooled connection itself, so that
   * BEGIN travels with the first statement and COMMIT with the outbox row (see
   * {@link PgTransaction}): a transaction of one write takes two round trips, where a Knex
   * transaction without the outbox takes three.
   */
  private async postgresTransaction<T>(
    recorder: Recorder,
    run: (session: Session) => Promise<T>,
  ): Promise<{ value: T; written?: OutboxRow }> {
    const { knex } = this.options;
    const connection = (await knex.client.acquireConnection()) as PgConnection;
    const transaction = new PgTransaction(connection);
    try {
      const session = connectionSession(knex, 'pg', connection);
      const value = await run(session);
      const row = await this.outboxRow(recorder, session);
      if (!row) {
        await transaction.commit();
        return { value };
      }
      const { insert, route } = row;
      const values = [insert.message, insert.created_at, insert.attempts, insert.claimed_by, insert.claimed_until].map(
        (v) => literal(v, connection),
      );
      // The message is ASCII JSON, the rest numbers and this host's name: literals, always.
      if (values.includes(undefined)) throw new PublisherError(`the outbox row cannot be written as literals`);
      const [inserted] = await transaction.commit(
        `INSERT INTO ${outboxTable} (message, created_at, attempts, claimed_by, claimed_until) VALUES (${values.join(', ')}) RETURNING id`,
      );
      return { value, written: { id: inserted?.rows[0]?.id as string, message: insert.message, route } };
    } finally {
      // Rolls back whatever did not commit.
      await transaction.close();
      await knex.client.releaseConnection(connection);
    }
  }

  /**
   * On SQLite the transaction starts with `BEGIN IMMEDIATE`: the hooks read before they write,
   * and a deferred transaction that another process's write overtakes between the two fails
   * with "database is locked" at once, whereas an immediate one waits for the lock.
   */
  private async sqliteTransaction<T>(
    recorder: Recorder,
    run: (session: Session) => Promise<T>,
  ): Promise<{ value: T; written?: OutboxRow }> {
    const { knex } = this.options;
    // The transaction's statements (all of them the hooks') are prepared once per connection.
    return withPreparedStatements(knex, async (connection) => {
      try {
        connection.prepare('BEGIN IMMEDIATE').run();
        const session: Session = {
          ...connectionSession(knex, 'better-sqlite3', connection),
          raw: sqliteRaw(connection),
        };
        const value = await run(session);
        const row = await this.outboxRow(recorder, session);
        let written: OutboxRow | undefined;
        if (row) {
          const { message, created_at, attempts, claimed_by, claimed_until } = row.insert;
          const [inserted] = (await session.raw(
            'INSERT INTO ?? (message, created_at, attempts, claimed_by, claimed_until) VALUES (?, ?, ?, ?, ?) RETURNING id',
            [outboxTable, message, created_at, attempts, claimed_by ?? null, claimed_until ?? null],
          )) as { id: number }[];
          written = { id: inserted?.id as number, message, route: row.route };
        }
        connection.prepare('COMMIT').run();
        return written ? { value, written } : { value };
      } catch (error) {
        if (connection.inTransaction) connection.exec('ROLLBACK');
        throw error;
      }
    });
  }

  /** The outbox row of a transaction's operations, with their dependencies; none when it wrote nothing published. */
  private async outboxRow(
    recorder: Recorder,
    session: Session,
  ): Promise<{ insert: OutboxInsert; route: NonNullable<OutboxRow['route']> } | undefined> {
    if (recorder.operations.length === 0) return undefined;
    const { models } = this.options.schema;
    const relations = await relationDependencies(session.table, models, recorder.written, recorder.known);
    const envelope = this.envelope(recorder.operations, [...recorder.dependencies, ...relations]);
    // Claimed by this process's relay from the start, so that it publishes the row right
    // after commit without claiming it in a transaction of its own.
    const insert = { message: asciiJson(envelope), created_at: Date.now(), attempts: 0, ...this.relay?.claim() };
    return { insert, route: route(envelope) };
  }

  /** Publishes an ephemeral outside any transaction; resolves once the broker confirmed it. */
  async emit(ephemeral: EphemeralDescriptor, attributes: Readonly<Record<string, unknown>>): Promise<void> {
    await this.publishNow([ephemeralOperation(ephemeral, attributes)]);
  }

  private async publishNow(operations: OperationMessage[]): Promise<void> {
    const envelope = this.envelope(operations, []);
    this.followed(operations);
    try {
      await this.options.transport.publish([toOutgoing(envelope)]);
    } catch (error) {
      const failure = new PublisherError(
        `ephemeral message ${envelope.id} was not published: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
      this.notify(failure, envelope);
      throw failure;
    }
  }

  /** The context's next message depends on these operations, the context's last write. */
  private followed(operations: readonly OperationMessage[]): void {
    const state = this.contexts.getStore();
    if (state) state.previous = dependenciesOn(operations);
  }

  /** An envelope for operations, with their dependencies and those on the context's previous write. */
  envelope(operations: readonly OperationMessage[], dependencies: readonly Dependency[]): Envelope {
    const state = this.contexts.getStore();
    const context = state?.context;
    return {
      format: 1,
      id: randomUUID(),
      app: this.options.schema.app,
      host: this.host,
      generation: this.options.generation ?? 1,
      timestamp: Date.now(),
      context: context ? { name: context.name, ...(context.userId ? { userId: context.userId } : {}) } : null,
      operations,
      dependencies: mergeDependencies([...dependencies, ...(state?.previous ?? [])], operations),
      ...traceCarrier(),
    };
  }

  /** Every publication of a table, resolved to the most specific type the row is. */
  publicationsOf(model: ModelDescriptor, row: Readonly<Record<string, unknown>>): ModelDescriptor[] {
    const all = this.tables.get(model.table) ?? [model];
    const roots = [...new Set(all.map((m) => m.types.at(-1)))];
    return roots.map((root) => {
      const tree = all.filter((m) => m.types.at(-1) === root);
      const rootModel = tree.find((m) => m.name === root) ?? model;
      const column = rootModel.discriminator?.column;
      const value = column === undefined ? undefined : row[column];
      return tree.find((m) => m.discriminator?.value === value) ?? rootModel;
    });
  }

  private inspect(query: { method?: string; sql?: string }): void {
    if (this.hooks.getStore() || !query.sql || !['insert', 'update', 'del', 'raw'].includes(query.method ?? '')) return;
    const table = writtenTable(query.sql);
    if (table === undefined || !this.tables.has(table)) return;
    this.notify(
      new PublisherError(
        `a write to the published table ${table} bypassed the hooks and will not be published: ${query.sql.slice(0, 120)}`,
      ),
    );
  }

  /** The published attributes of a row as `model`, virtual ones computed. */
  attributes(model: ModelDescriptor, row: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const attribute of model.attributes) {
      if (attribute.private) continue;
      if (attribute.uses !== undefined) {
        const fn = this.virtualFunction(model, attribute.name);
        out[attribute.name] = toWire(attribute.kind, fn(row as never));
      } else {
        out[attribute.name] = toWire(attribute.kind, row[attribute.column ?? attribute.name]);
      }
    }
    return out;
  }

  private virtualFunction(model: ModelDescriptor, name: string): (row: never) => unknown {
    for (const type of model.types) {
      const fn = this.virtuals[type]?.[name];
      if (fn) return fn;
    }
    throw new PublisherError(`no function for the virtual attribute ${model.name}.${name}: pass it in \`virtuals\``);
  }

  /** Every attribute any publication reads from a table: a write converts its columns by them. */
  tableAttributes(table: string): readonly AttributeDescriptor[] {
    return this.columns.get(table) ?? [];
  }

  /**
   * The columns of a table whose change changes what some publication of it publishes: the
   * published attributes' own, those virtual attributes use, and the discriminator.
   */
  publishedColumns(table: string): ReadonlySet<string> {
    let columns = this.published.get(table);
    if (!columns) {
      const found = new Set<string>();
      for (const model of this.tables.get(table) ?? []) {
        if (model.discriminator) found.add(model.discriminator.column);
        for (const a of model.attributes) {
          if (a.private) continue;
          for (const column of a.uses ?? (a.column === undefined ? [] : [a.column])) found.add(column);
        }
      }
      this.published.set(table, (columns = found));
    }
    return columns;
  }

  /** The columns of a table that hold JSON (JSON, array and embedded attributes). */
  jsonColumns(table: string): ReadonlySet<string> {
    let columns = this.json.get(table);
    if (!columns) {
      columns = new Set(
        this.tableAttributes(table).flatMap((a) => (a.column !== undefined && isJsonKind(a.kind) ? [a.column] : [])),
      );
      this.json.set(table, columns);
    }
    return columns;
  }

  notify(error: Error, payload?: unknown): void {
    this.options.errorNotifier?.(error, payload);
  }

  async close(): Promise<void> {
    await (await this.responder)?.stop();
    await this.relay?.stop();
  }
}

/** The `PublisherTransaction` the generated hooks call: it writes rows and records operations. */
class Recorder implements PublisherTransaction {
  readonly operations: OperationMessage[] = [];
  readonly dependencies: Dependency[] = [];
  /** Rows created or updated, whose relations become dependencies at commit. */
  readonly written: RowOf[] = [];
  /** Objects written or read: their relations need no other version read. */
  readonly known = new Set<string>();
  private session: Session | undefined;

  constructor(private readonly publisher: Publisher<unknown, unknown>) {}

  begin(session: Session): void {
    this.session = session;
  }

  end(): void {
    this.session = undefined;
  }

  private get db(): Session {
    if (!this.session) throw new PublisherError('hooks were used after their transaction ended');
    return this.session;
  }

  private async insertRow(
    model: ModelDescriptor,
    values: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown>> {
    const row: Record<string, unknown> = {
      ...columnValues(this.publisher.tableAttributes(model.table), values),
      _v: 1,
    };
    if (model.discriminator && row[model.discriminator.column] === undefined)
      row[model.discriminator.column] = model.discriminator.value;
    const key = model.primaryKey.column;
    let created: Record<string, unknown> | undefined;
    if (this.returning()) {
      // One round trip: the row comes back as the database stored it.
      const columns = Object.keys(row).filter((c) => row[c] !== undefined);
      const sql = `INSERT INTO ?? (${columns.map(() => '??').join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) RETURNING *`;
      created = this.first(await this.db.raw(sql, [model.table, ...columns, ...columns.map((c) => row[c])]));
    } else {
      const [inserted] = await this.db.table(model.table).insert(row);
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
      Object.entries(columnValues(this.publisher.tableAttributes(model.table), patch)).filter(
        ([, v]) => v !== undefined,
      ),
    );
    if (this.returning() && Object.keys(writes).length > 0) return this.updateReturning(model, id, writes);
    const before = await this.read(model, id, true);
    if (!before) return undefined;
    const after = { ...before, ...writes };
    const publications = this.publisher.publicationsOf(model, after);
    // SyncMachine's rule: a write that changes no published attribute publishes nothing.
    const changed = publications.some(
      (p) => !sameWire(this.publisher.attributes(p, before), this.publisher.attributes(p, after)),
    );
    const version = Number(before._v ?? 0) + (changed ? 1 : 0);
    if (Object.keys(writes).length > 0 || changed) {
      await this.db
        .table(model.table)
        .where(model.primaryKey.column, id)
        .update({ ...writes, ...(changed ? { _v: version } : {}) });
    }
    const row = (await this.read(model, id)) ?? after;
    if (changed) this.record(model, row, 'update', version);
    return row;
  }

  /**
   * PostgreSQL and SQLite: one statement writes the row, bumps `_v` and returns the row, on
   * the condition that a written column feeds a published attribute (directly, or through a
   * virtual attribute that uses it) and changes. Nothing returned means the row is missing or
   * the write changes nothing published: on PostgreSQL the row is then locked and the
   * condition tried once more (a transaction that committed in between may have made it
   * true), and failing that the columns are written without a new version.
   */
  private async updateReturning(
    model: ModelDescriptor,
    id: Id,
    writes: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | undefined> {
    const key = model.primaryKey.column;
    const columns = Object.keys(writes);
    const watched = this.publisher.publishedColumns(model.table);
    const compared = columns.filter((c) => watched.has(c));
    const different = this.db.dialect === 'pg' ? 'IS DISTINCT FROM' : 'IS NOT';
    const json = this.publisher.jsonColumns(model.table);
    const set = columns.map(() => '?? = ?').join(', ');
    const bindings = [model.table, ...columns.flatMap((c) => [c, writes[c]]), key, id];
    const bump = async (): Promise<Record<string, unknown> | undefined> => {
      if (compared.length === 0) return undefined;
      // PostgreSQL's json type has no equality: JSON values are compared as jsonb.
      const cast = (c: string) => (this.db.dialect === 'pg' && json.has(c) ? '::jsonb' : '');
      const condition = compared.map((c) => `??${cast(c)} ${different} ?${cast(c)}`).join(' OR ');
      const sql = `UPDATE ?? SET ${set}, "_v" = "_v" + 1 WHERE ?? = ? AND (${condition}) RETURNING *`;
      return this.first(await this.db.raw(sql, [...bindings, ...compared.flatMap((c) => [c, writes[c]])]));
    };
    let row = await bump();
    // Only PostgreSQL can have let another transaction commit in between: SQLite's transaction
    // holds the write lock from its start.
    if (!row && compared.length > 0 && this.db.dialect === 'pg') {
      if (!(await this.read(model, id, true))) return undefined;
      row = await bump();
    }
    if (!row) return this.first(await this.db.raw(`UPDATE ?? SET ${set} WHERE ?? = ? RETURNING *`, bindings));
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
    if (this.returning()) {
      // One statement: the row as it was comes back from the DELETE.
      before = this.first(await this.db.raw('DELETE FROM ?? WHERE ?? = ? RETURNING *', [model.table, key, id]));
    } else {
      before = await this.read(model, id, true);
      if (before) await this.db.table(model.table).where(key, id).delete();
    }
    if (!before) return false;
    this.record(model, before, 'destroy', Number(before._v ?? 0) + 1);
    return true;
  }

  // The hooks' writes run marked, so that raw-write detection tells them from bypasses.
  create(model: ModelDescriptor, values: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>> {
    return this.publisher.marked(() => this.insertRow(model, values));
  }

  update(
    model: ModelDescriptor,
    id: Id,
    patch: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | undefined> {
    return this.publisher.marked(() => this.updateRow(model, id, patch));
  }

  destroy(model: ModelDescriptor, id: Id): Promise<boolean> {
    return this.publisher.marked(() => this.deleteRow(model, id));
  }

  async find(model: ModelDescriptor, id: Id, options?: FindOptions): Promise<Record<string, unknown> | undefined> {
    const row = await this.read(model, id, options?.lock === true);
    if (row) {
      const key = String(row[model.primaryKey.column]);
      for (const publication of this.publisher.publicationsOf(model, row)) {
        const { endpoint, types } = publication;
        this.dependencies.push({ endpoint, id: key, version: Number(row._v ?? 0), types });
        this.known.add(objectKey(endpoint, key));
      }
    }
    return row;
  }

  async emit(ephemeral: EphemeralDescriptor, attributes: Readonly<Record<string, unknown>>): Promise<void> {
    if (!this.session) throw new PublisherError('hooks were used after their transaction ended');
    this.operations.push(ephemeralOperation(ephemeral, attributes));
  }

  /** PostgreSQL and SQLite return written rows; MySQL and MariaDB need a read. */
  private returning(): boolean {
    const client = this.db.dialect;
    return client !== 'mysql2' && client !== 'mysql';
  }

  private async read(model: ModelDescriptor, id: Id, lock = false): Promise<Record<string, unknown> | undefined> {
    const query = this.db.table(model.table).where(model.primaryKey.column, id).first();
    // SQLite has no row locks: its single writer already serialises transactions.
    if (lock && this.db.dialect !== 'better-sqlite3') query.forUpdate();
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
    for (const publication of this.publisher.publicationsOf(model, row)) {
      this.known.add(objectKey(publication.endpoint, key));
      this.operations.push({
        endpoint: publication.endpoint,
        types: publication.types,
        id: key,
        operation,
        version,
        attributes: operation === 'destroy' ? null : this.publisher.attributes(publication, row),
      });
    }
  }
}

/** Operations per message of a sync: large enough to apply fast, small enough to stay a modest message. */
const syncBatch = 100;

/**
 * JSON with every character beyond ASCII escaped (`\u00e9`): the same JSON, which a
 * PostgreSQL literal carries whatever the connection's client encoding.
 */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

interface OutboxInsert {
  readonly message: string;
  readonly created_at: number;
  readonly attempts: number;
  readonly claimed_by?: string;
  readonly claimed_until?: number;
}

/** Inserts an outbox row and returns its id, on every dialect. */
async function insertId(trx: Knex.Transaction, row: OutboxInsert): Promise<number | string> {
  const client = trx.client.config.client;
  if (client === 'mysql2' || client === 'mysql') return ((await trx(outboxTable).insert(row)) as number[])[0] as number;
  const [inserted] = (await trx(outboxTable).insert(row).returning('id')) as { id: number | string }[];
  return inserted?.id as number | string;
}

/** The table an INSERT, UPDATE or DELETE writes, whatever the dialect's quotes. */
function writtenTable(sql: string): string | undefined {
  const match = /^\s*(?:insert\s+into|update|delete\s+from)\s+[`"[]?(?:\w+[`"\]]?\.[`"[]?)?(\w+)/i.exec(sql);
  return match?.[1];
}

function ephemeralOperation(
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
