import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Knex } from 'knex';
import type { Consumer, OutgoingMessage, Transport } from '../../transport/transport.js';
import type { EphemeralDescriptor, Id, ModelDescriptor, PublisherSchema } from '../contract.js';
import { databaseOf } from '../db/index.js';
import type { Database, OutboxInsert } from '../db/database.js';
import { requireTables } from '../db/schema-check.js';
import type { Session } from '../db/session.js';
import type { Dependency, Envelope, OperationMessage } from '../envelope.js';
import { PublisherError } from '../../common/errors.js';
import { errorText, guardedLogger, type Logger, silentLogger } from '../../common/logger.js';
import { defaultMetrics, type Metrics } from '../observability/metrics.js';
import { traceCarrier } from '../observability/tracing.js';
import { syncReplyKey } from '../resync.js';
import { type AckRequest, Acknowledgements, defaultAckTimeoutMs, type TransactionOptions } from './acks.js';
import { publishingTransport } from '../signatures/signer.js';
import { type SignatureOptions, Verifier } from '../signatures/verifier.js';
import { keyPages, takeDue } from './derived/backfill.js';
import { DerivedChanges } from './derived/changes.js';
import { Refresher, refreshInterval } from './derived/refresher.js';
import type { DerivedFunction } from './derived/compute.js';
import { dependenciesOn, mergeDependencies, relationDependencies } from './dependencies.js';
import { Publications, type VirtualFunctions } from './publications.js';
import { RawWriteWatch } from './raw-writes.js';
import { ephemeralOperation, Recorder } from './recorder.js';
import { type OutboxRow, Relay, type RelayOptions, route, toOutgoing } from './relay.js';
import { answerResyncRequests } from './resync-responder.js';
import { asciiJson } from './outbox.js';
import { syncMessages } from './sync-messages.js';

export type { VirtualFunctions } from './publications.js';

export interface PublisherOptions<Hooks, Virtuals> {
  readonly schema: PublisherSchema<Hooks, Virtuals>;
  readonly knex: Knex;
  readonly transport: Transport;
  /**
   * The functions of the virtual attributes, typed by the schema's generated `Virtuals` (the
   * object the config's `virtuals.<app>` holds). The publisher refuses to start when one is
   * missing or names no virtual attribute.
   */
  readonly virtuals?: NoInfer<Virtuals>;
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
   * Where the publisher, its relay and its re-sync answers say what they do and what went
   * wrong (default: nowhere): a pino logger, or any {@link Logger}. Records carry `app` and
   * `component` (`publisher`, `relay`).
   */
  readonly logger?: Logger;
  /**
   * Report writes to published tables that bypass the hooks (a raw Knex query, say): they
   * would never be published. Default: on unless NODE_ENV is `production`.
   */
  readonly detectRawWrites?: boolean;
  /** Where the publisher and its relay record what they do (default: the process's `defaultMetrics()`). */
  readonly metrics?: Metrics;
  /**
   * Signatures (default: none made, none checked). `key`: this app's private key, which signs
   * everything it publishes (the relay's messages, ephemerals, syncs and re-sync answers);
   * `trust` and `require`: how the re-sync requests of subscribers are verified.
   */
  readonly signatures?: SignatureOptions;
}

export interface Context {
  readonly name: string;
  readonly userId?: string;
}

/** How a transaction refreshes derived attributes beyond those its writes alter. */
interface RefreshRound {
  /** Coalescing models whose subjects are refreshed now rather than marked. */
  readonly due?: ReadonlySet<string>;
  /** The refresher's round: it gives way to writers (see `ComputeContext.givesWay`). */
  readonly givesWay?: boolean;
  /** Runs after the refresh, before the outbox row: the round removes the marks it settled. */
  readonly settle?: () => Promise<void>;
}

/** A transaction's outbox row before it is inserted, with the route the relay publishes it by. */
interface PendingOutboxRow {
  readonly insert: OutboxInsert;
  readonly route: NonNullable<OutboxRow['route']>;
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
  /** Refreshes the subjects of coalescing models once due, where the relay runs. */
  readonly refresher: Refresher | undefined;
  private readonly contexts = new AsyncLocalStorage<ContextState>();
  private readonly host: string;
  private readonly database: Database;
  private readonly publications: Publications;
  private readonly watch: RawWriteWatch;
  private readonly responder: Promise<Consumer | undefined> | undefined;
  private readonly log: Logger;
  /** The options' transport, signing what it publishes when the app has a key. */
  private readonly transport: Transport;
  /** Whether `ready()` passed: writes then skip it. */
  private verified = false;

  constructor(private readonly options: PublisherOptions<Hooks, Virtuals>) {
    const logger = guardedLogger(options.logger ?? silentLogger);
    this.log = logger.child({ app: options.schema.app, component: 'publisher' });
    this.host = options.host ?? hostname();
    this.transport = publishingTransport(options.transport, options.signatures?.key);
    this.coalescing = new Set(Object.keys(options.schema.coalesce ?? {}));
    const verifier = Verifier.of(options.signatures);
    this.acks = new Acknowledgements(options.schema.app, this.transport, options.metrics ?? defaultMetrics(), {
      log: this.log,
      ...(verifier ? { verifier } : {}),
    });
    this.database = databaseOf(options.knex);
    this.publications = new Publications(
      options.schema as PublisherSchema<unknown, unknown>,
      (options.virtuals ?? {}) as VirtualFunctions,
    );
    this.watch = new RawWriteWatch(
      options.detectRawWrites ?? process.env.NODE_ENV !== 'production',
      options.knex,
      (table) => this.publications.publishes(table),
      (error, table) => {
        this.log.warn(
          { table, err: error },
          'a write to a published table bypassed the hooks: it will not be published',
        );
        this.report(error);
      },
    );
    this.relay =
      options.relay === false
        ? undefined
        : new Relay(options.knex, this.transport, {
            ...options.relay,
            onError: (e) => this.report(e),
            app: options.schema.app,
            logger,
            ...(options.metrics ? { metrics: options.metrics } : {}),
          });
    this.refresher = this.startRefresher();
    if (options.answerResync ?? this.relay !== undefined) {
      this.responder = answerResyncRequests({
        app: options.schema.app,
        transport: this.transport,
        verifier,
        publications: this.publications,
        sync: (model, ids, to) => this.sync(model, ids, { to }),
        report: (error) => this.report(error),
        log: this.log,
        metrics: options.metrics,
      });
    }
  }

  /** The refresher of coalescing models, where the relay runs. */
  private startRefresher(): Refresher | undefined {
    const windows = Object.values(this.options.schema.coalesce ?? {});
    if (!this.relay || windows.length === 0) return undefined;
    return new Refresher(
      () => this.refreshDue(),
      refreshInterval(windows),
      (error) => {
        this.log.error({ err: error }, 'a refresh of coalesced derived attributes failed: it is tried again');
        this.report(error);
      },
    );
  }

  /**
   * Resolves once the app's database has every table and column the publisher writes, of types
   * that hold their values (the generated schema's `tables`); rejects with a SchemaError naming
   * each problem and the migration that adds it. Await it at start to refuse to start; the
   * first transaction or sync waits for it anyway. A failed check is made again on the next
   * call, so running the migration is enough.
   */
  async ready(): Promise<void> {
    const { tables, app } = this.options.schema;
    if (tables) await requireTables(this.options.knex, app, tables);
    this.verified = true;
  }

  /** A published model, by name. */
  model(name: string): ModelDescriptor {
    return this.publications.model(name);
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
   * Publishes rows of one model as `sync` operations, in messages of 100 (sync-messages.ts), with
   * their relations as dependencies; `gone` ids as tombstones. `to` sends them to one
   * subscriber app's queue instead of every subscriber's.
   */
  async syncRows(
    model: ModelDescriptor,
    rows: readonly Record<string, unknown>[],
    gone: readonly string[] = [],
    to?: string,
  ): Promise<void> {
    if (!this.verified) await this.ready();
    const { knex, schema } = this.options;
    const batches = await syncMessages(knex, this.publications, schema.models, model, rows, gone);
    const messages = batches.map(({ operations, dependencies }): OutgoingMessage => {
      const outgoing = toOutgoing({ ...this.envelope(operations, dependencies), context: null });
      return to === undefined ? outgoing : { ...outgoing, routingKeys: [syncReplyKey(to)] };
    });
    await this.transport.publish(messages);
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
  async transaction<T>(fn: (tx: Hooks) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (!this.verified) await this.ready();
    const work = (recorder: Recorder): Promise<T> => fn(this.options.schema.bind(recorder));
    const apps = options.requireAcks ?? [];
    if (apps.length === 0) return this.recorded(work);
    const timeoutMs = options.ackTimeoutMs ?? defaultAckTimeoutMs;
    return this.acks.around(apps, timeoutMs, (acks) => this.recorded(work, {}, acks));
  }

  /**
   * Runs `work` in a publisher transaction: what it writes through the recorder, and the
   * derived attributes that alters, go to the outbox in the same transaction. `due`:
   * coalescing models whose subjects are refreshed now rather than marked.
   */
  private async recorded<T>(
    work: (recorder: Recorder, session: Session) => Promise<T>,
    refresh: RefreshRound = {},
    acks?: AckRequest,
  ): Promise<T> {
    const recorder = this.recorder();
    // Filled inside the transaction: a holder, since TypeScript does not follow a `let` assigned in a callback.
    const written: { row?: PendingOutboxRow | undefined } = {};
    const { value, outboxId } = await this.database.outboxTransaction(async (session) => {
      recorder.begin(session);
      const value = await work(recorder, session);
      await recorder.refresh(this.schema, this.derivedFunction, refresh);
      await refresh.settle?.();
      recorder.end();
      written.row = await this.outboxRow(recorder, session, acks);
      return { value, outbox: written.row?.insert };
    });
    if (written.row) {
      const { insert, route } = written.row;
      this.relay?.enqueue({ id: outboxId as number | string, message: insert.message, route });
      this.rememberLastWrite(recorder.operations);
    }
    return value;
  }

  /**
   * Refreshes the subjects of coalescing models that are due, in one transaction: resolves to
   * how many it took (the refresher runs it every few milliseconds while the relay runs).
   */
  async refreshDue(): Promise<number> {
    if (!this.verified) await this.ready();
    const round: { taken: number; settle?: () => Promise<void> } = { taken: 0 };
    await this.recorded(
      async (recorder, session) =>
        Object.assign(round, await takeDue(session, recorder, this.options.schema.coalesce ?? {}, this.coalescing)),
      {
        due: this.coalescing,
        givesWay: true,
        settle: () => round.settle?.() ?? Promise.resolve(),
      },
    );
    return round.taken;
  }

  /**
   * Recomputes the derived attributes of a model's rows, all of them or those `which` names,
   * in transactions of {@link refreshBatch} rows, publishing those whose value changes: after
   * a migration adds a derived attribute, whose column is empty until then. Resolves to the
   * number of rows refreshed.
   */
  async refresh(model: ModelDescriptor | string, which?: readonly Id[]): Promise<number> {
    if (!this.verified) await this.ready();
    const { table, primaryKey } = typeof model === 'string' ? this.model(model) : model;
    let done = 0;
    for await (const keys of keyPages(this.options.knex, table, primaryKey.column, which)) {
      await this.recorded(async (recorder) => recorder.markDerived(table, keys), { due: this.coalescing });
      done += keys.length;
    }
    return done;
  }

  /** The models whose derived attributes coalesce. */
  private readonly coalescing: ReadonlySet<string>;
  /** Acknowledgements that transactions wait for. */
  private readonly acks: Acknowledgements;

  /** A recorder for one transaction's writes. */
  private recorder(): Recorder {
    return new Recorder(this.publications, this.database, this.watch, new DerivedChanges(this.schema));
  }

  private get schema(): PublisherSchema<unknown, unknown> {
    return this.options.schema as PublisherSchema<unknown, unknown>;
  }

  private readonly derivedFunction = (model: ModelDescriptor, attribute: string): DerivedFunction =>
    this.publications.virtualFunction(model, attribute) as unknown as DerivedFunction;

  /** The outbox row of a transaction's operations, with their dependencies; none when it wrote nothing published. */
  private async outboxRow(
    recorder: Recorder,
    session: Session,
    acks?: AckRequest,
  ): Promise<PendingOutboxRow | undefined> {
    if (recorder.operations.length === 0) return undefined;
    const { models } = this.options.schema;
    const relations = await relationDependencies(session.table, models, recorder.written, recorder.known);
    const envelope = this.envelope(
      recorder.operations,
      [...recorder.dependencies, ...relations],
      acks && { apps: acks.apps, to: acks.to },
    );
    // Waited for before commit: no acknowledgement can come before the wait exists.
    acks?.expect(envelope.id);
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
    this.rememberLastWrite(operations);
    try {
      await this.transport.publish([toOutgoing(envelope)]);
    } catch (error) {
      const failure = new PublisherError(`ephemeral message ${envelope.id} was not published: ${errorText(error)}`, {
        cause: error,
      });
      this.log.error({ messageId: envelope.id, err: error }, 'an ephemeral message was not published');
      this.report(failure, envelope);
      throw failure;
    }
  }

  /** The context's next message depends on these operations, the context's last write. */
  private rememberLastWrite(operations: readonly OperationMessage[]): void {
    const state = this.contexts.getStore();
    if (state) state.previous = dependenciesOn(operations);
  }

  /** An envelope for operations, with their dependencies and those on the context's previous write. */
  envelope(
    operations: readonly OperationMessage[],
    dependencies: readonly Dependency[],
    acks?: Envelope['acks'],
  ): Envelope {
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
      ...(acks ? { acks } : {}),
    };
  }

  /** Reports an error to the app's `errorNotifier`. */
  private report(error: Error, payload?: unknown): void {
    this.options.errorNotifier?.(error, payload);
  }

  async close(): Promise<void> {
    await (await this.responder)?.stop();
    await this.acks.close();
    await this.refresher?.stop();
    await this.relay?.stop();
  }
}
