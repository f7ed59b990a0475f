import type { Knex } from 'knex';
import { topicMatches } from '../common/topic.js';
import type { Envelope } from './envelope.js';

/**
 * The contract between generated code and the runtime. `promiscuous generate` emits plain data
 * (descriptors) and thin typed wrappers; the runtime does the work. Nothing here imports the
 * compiler.
 */

export type AttributeKind =
  | 'string'
  | 'text'
  | 'integer'
  | 'bigint'
  | 'decimal'
  | 'float'
  | 'boolean'
  | 'date'
  | 'timestamp'
  | 'uuid'
  | 'json'
  | 'enum'
  | 'array'
  | 'embedded';

export interface AttributeDescriptor {
  readonly name: string;
  /** The column; absent for virtual attributes. */
  readonly column?: string;
  readonly kind: AttributeKind;
  readonly nullable: boolean;
  /** Columns a virtual attribute is computed from. */
  readonly uses?: readonly string[];
  /** The model a `belongs_to` attribute points at. */
  readonly belongsTo?: string;
  /** The embedded model, for `embedded` attributes. */
  readonly embedded?: string;
  readonly many?: boolean;
  /** Private columns are read for virtual attributes but never published. */
  readonly private?: boolean;
  /**
   * A derived attribute: its value comes from related rows. It is stored in `column` (which
   * the generated migrations add) and the publisher keeps it current; the app never writes it.
   */
  readonly derived?: Derivation;
}

/** A step along a `belongs_to` relation, from a row to the row it references. */
export interface RelationStep {
  /** The relation's name: the field, less a trailing `_id` (`customer_id` -> `customer`). */
  readonly name: string;
  /** The referencing row's column that holds the referenced key. */
  readonly column: string;
  /** The referenced model, its table and its key column. */
  readonly model: string;
  readonly table: string;
  readonly key: string;
}

/** Columns read from the row at the end of a path of relations (the row itself when the path is empty). */
export interface RelatedColumns {
  readonly path: readonly RelationStep[];
  readonly columns: readonly string[];
}

export type AggregateFunction = 'count' | 'sum' | 'min' | 'max';

export type Derivation =
  /** `from customer.name`: a column of the row a path of relations leads to; null where a relation is null. */
  | { readonly kind: 'copy'; readonly path: readonly RelationStep[]; readonly column: string }
  /**
   * `virtual(use status, customer.first_name)`: the app's function of the row and its related
   * rows. `reads` names every column it is given: the row's own (empty path) and each
   * relation's, which the function gets nested by relation name (`related.customer.first_name`).
   */
  | { readonly kind: 'virtual'; readonly reads: readonly RelatedColumns[] }
  /**
   * `count(OrderLine)`, `sum(OrderLine.amount via order_id)`: over the rows of `table` whose
   * `via` column holds this row's key. count and sum of no rows are 0, min and max null.
   */
  | {
      readonly kind: 'aggregate';
      readonly function: AggregateFunction;
      readonly model: string;
      readonly table: string;
      readonly via: string;
      /** The aggregated column; absent for count. */
      readonly column?: string;
    };

/**
 * What a change to one table can alter: a derived attribute of a subject model, the columns
 * of the table it reads, and how a changed row leads to the subjects it alters.
 */
export interface DependentDescriptor {
  /** The subject model and its derived attribute. */
  readonly model: string;
  readonly attribute: string;
  /** The columns of the changed table whose change can alter the attribute; a create or destroy always can. */
  readonly columns: readonly string[];
  /**
   * How a changed row leads to its subjects. `path`: the relations from the subject to this
   * table (empty: the row is the subject); subjects are the rows whose path ends at the
   * changed row. `via`: an aggregate's children table; the subject's key is the changed row's
   * `via` column, before and after the change.
   */
  readonly reach: { readonly path: readonly RelationStep[] } | { readonly via: string };
}

export interface ModelDescriptor {
  readonly name: string;
  readonly table: string;
  readonly endpoint: string;
  /** This type first, then its ancestors. */
  readonly types: readonly string[];
  readonly primaryKey: { readonly attribute: string; readonly column: string };
  readonly discriminator?: { readonly column: string; readonly value: string };
  readonly attributes: readonly AttributeDescriptor[];
}

export interface EphemeralDescriptor {
  readonly name: string;
  readonly endpoint: string;
  readonly attributes: readonly AttributeDescriptor[];
}

export interface EmbeddedDescriptor {
  readonly name: string;
  readonly primaryKey: string;
  readonly attributes: readonly AttributeDescriptor[];
}

export type Id = string | number;

/** What `publisher.transaction` hands the generated hooks. */
export interface PublisherTransaction {
  create(model: ModelDescriptor, values: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>>;
  update(
    model: ModelDescriptor,
    id: Id,
    patch: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | undefined>;
  destroy(model: ModelDescriptor, id: Id): Promise<boolean>;
  find(model: ModelDescriptor, id: Id, options?: FindOptions): Promise<Record<string, unknown> | undefined>;
  emit(ephemeral: EphemeralDescriptor, attributes: Readonly<Record<string, unknown>>): Promise<void>;
}

export interface FindOptions {
  /** Lock the row until the transaction ends (`SELECT ... FOR UPDATE`), to read-modify-write it safely. */
  readonly lock?: boolean;
}

/** The typed hooks of one published model. */
export interface ModelHooks<Row, Create, Update> {
  create(values: Create): Promise<Row>;
  /** Resolves to the updated row, or `undefined` when no row has that id. */
  update(id: Id, patch: Update): Promise<Row | undefined>;
  /** Resolves to whether a row was deleted. */
  destroy(id: Id): Promise<boolean>;
  /** Reads a row and records it as a dependency of the transaction's writes. */
  find(id: Id, options?: FindOptions): Promise<Row | undefined>;
}

export interface EphemeralHook<Attributes> {
  /** Resolves once the broker confirmed the message; rejects when it cannot be published. */
  create(attributes: Attributes): Promise<void>;
}

/** JSON values: what `json` attributes hold. */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** Wraps a runtime transaction in one model's typed hooks (used by generated `bind`). */
export function bindModel<Row, Create, Update>(
  tx: PublisherTransaction,
  model: ModelDescriptor,
): ModelHooks<Row, Create, Update> {
  return {
    create: (values) => tx.create(model, values as Record<string, unknown>) as Promise<Row>,
    update: (id, patch) => tx.update(model, id, patch as Record<string, unknown>) as Promise<Row | undefined>,
    destroy: (id) => tx.destroy(model, id),
    find: (id, options) => tx.find(model, id, options) as Promise<Row | undefined>,
  };
}

export function bindEphemeral<Attributes>(
  tx: PublisherTransaction,
  ephemeral: EphemeralDescriptor,
): EphemeralHook<Attributes> {
  return { create: (attributes) => tx.emit(ephemeral, attributes as Record<string, unknown>) };
}

/**
 * Everything the runtime needs to publish an app's models. `Virtuals` is the type of the
 * functions the app supplies for virtual attributes (never set here: it types `virtuals`).
 */
export interface PublisherSchema<Hooks = unknown, Virtuals = unknown> {
  readonly virtualsType?: Virtuals;
  readonly app: string;
  readonly models: Readonly<Record<string, ModelDescriptor>>;
  readonly ephemerals: Readonly<Record<string, EphemeralDescriptor>>;
  readonly embedded: Readonly<Record<string, EmbeddedDescriptor>>;
  readonly bind: (tx: PublisherTransaction) => Hooks;
  readonly validate: PayloadValidators;
  /** What the publisher needs of its database (its published tables, the outbox): checked before it writes. */
  readonly tables?: readonly RequiredTable[];
  /** For each table, the derived attributes a change to it can alter (derived by the compiler). */
  readonly dependents?: Readonly<Record<string, readonly DependentDescriptor[]>>;
  /**
   * Every derived attribute, each after those it reads: the order the publisher refreshes
   * them in, so that one derived from another sees its new value.
   */
  readonly derivations?: readonly { readonly model: string; readonly attribute: string }[];
  /**
   * Models whose derived attributes are refreshed after a window rather than in the writing
   * transaction, in milliseconds (`coalesce 200ms`): a burst publishes each subject once.
   */
  readonly coalesce?: Readonly<Record<string, number>>;
}

export interface SubscribedAttributeDescriptor {
  readonly name: string;
  readonly column: string;
  /** Known when the publisher was known at generate time; used to convert values for the column. */
  readonly kind?: AttributeKind;
  /** The published type whose id the attribute holds, when the publisher was known at generate time. */
  readonly references?: string;
}

export interface SubscriptionDescriptor {
  readonly name: string;
  /** The published type. */
  readonly type: string;
  /** The AMQP topic binding. */
  readonly binding: string;
  readonly table: string;
  /** The column storing the publisher's id. */
  readonly key: string;
  readonly parent?: string;
  readonly discriminator?: { readonly column: string; readonly value: string };
  readonly attributes: readonly SubscribedAttributeDescriptor[];
}

export interface ObserverDescriptor {
  readonly name: string;
  readonly type: string;
  readonly binding: string;
  readonly attributes: readonly string[];
}

/** A column kind as the routes name it; arrays and embedded documents are 'json'. */
export type ColumnKind = Exclude<AttributeKind, 'array' | 'embedded'>;

export interface RequiredColumn {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  /** The generated migration that adds it; absent for the app's own columns. */
  readonly migration?: string;
}

/** A table an app's processes need: what the generated `migrations.ts` exports as `tables`. */
export interface RequiredTable {
  readonly name: string;
  /** outbox, versions, sinks, refresh: the runtime's; published: the app's own table; subscribed: a subscription's. */
  readonly role: 'outbox' | 'versions' | 'sinks' | 'published' | 'subscribed' | 'refresh';
  /** Created and altered by the generated migrations; false for published and opted-out tables. */
  readonly managed: boolean;
  readonly columns: readonly RequiredColumn[];
}

/** A JSON Schema validator (see `lazyValidators`); `errors` is set after a failed call. */
export interface CompiledValidator {
  (data: unknown): boolean;
  errors?: readonly { readonly instancePath: string; readonly message?: string }[] | null;
}

export interface PayloadValidators {
  readonly envelope: CompiledValidator;
  /** By local subscription or observer name, or by published type name on the publisher. */
  readonly attributes: Readonly<Record<string, CompiledValidator>>;
}

/**
 * Everything the runtime needs to apply an app's subscriptions. `Callbacks` and `Sinks` are the
 * types of the app's callbacks and sinks by local name (never set here: they type `callbacks`
 * and `sinks`).
 */
export interface SubscriberSchema<Callbacks = unknown, Sinks = unknown> {
  readonly callbacksType?: Callbacks;
  readonly sinksType?: Sinks;
  readonly app: string;
  readonly subscriptions: Readonly<Record<string, SubscriptionDescriptor>>;
  readonly observers: Readonly<Record<string, ObserverDescriptor>>;
  /** Every binding of the app's queue, sorted. */
  readonly bindings: readonly string[];
  readonly validate: PayloadValidators;
  /**
   * What the subscriber needs of its database (the versions, the sinks' table, its tables):
   * checked before it consumes, the sinks' table only when sinks are given.
   */
  readonly tables?: readonly RequiredTable[];
}

/** What an observer callback receives. */
export interface ObservedEvent<Attributes> {
  readonly id: string;
  readonly type: string;
  readonly operation: 'create' | 'update' | 'destroy' | 'sync';
  readonly version: number;
  /** `null` for a destroy, and for a sync of an object its publisher no longer has. */
  readonly attributes: Attributes | null;
  /** Stable across redeliveries of the same operation: use it to make side effects idempotent. */
  readonly idempotencyKey: string;
  readonly envelope: Envelope;
  /**
   * The apply transaction: what a callback writes through it commits with the operation and
   * its recorded version, or rolls back with them. Do not commit or roll it back.
   */
  readonly trx: Knex.Transaction;
}

export type ObserverCallback<Attributes> = (event: ObservedEvent<Attributes>) => void | Promise<void>;

export interface ObserverCallbacks<Attributes> {
  readonly afterCreate?: ObserverCallback<Attributes>;
  readonly afterUpdate?: ObserverCallback<Attributes>;
  readonly afterDestroy?: ObserverCallback<Attributes>;
  /** After a create or an update. */
  readonly afterSave?: ObserverCallback<Attributes>;
  /**
   * After a re-sync or an initial sync brought the object's current state (not after a create
   * or update, so that a sync never repeats their side effects).
   */
  readonly afterSync?: ObserverCallback<Attributes>;
}

/** What a sink's `send` receives: an object's payload that differs from the one it last sent. */
export interface SinkEvent<Payload> {
  /** The object's published type. */
  readonly type: string;
  readonly id: string;
  readonly operation: 'create' | 'update' | 'destroy' | 'sync';
  readonly version: number;
  /** The attributes the target receives, by their published names; `null` once the object is gone. */
  readonly payload: Payload | null;
  /** The payload this sink last sent for the object; `null` when it sent none, or sent its destroy. */
  readonly previous: Payload | null;
  /** `<sink>:<endpoint>:<id>:<version>` (`:sync` appended for a sync): the same when this send is tried again. */
  readonly idempotencyKey: string;
  /** Aborted when the send outlives its timeout: pass it to the HTTP client. */
  readonly signal: AbortSignal;
  /** The apply transaction, as callbacks get it. Do not commit or roll it back. */
  readonly trx: Knex.Transaction;
}

export type SinkSend<Payload> = (event: SinkEvent<Payload>) => unknown;

/**
 * Sends each change of an object's payload on (to an external API), from inside the apply
 * transaction that records it as sent: a function, or one with its options.
 */
export type Sink<Payload> =
  | SinkSend<Payload>
  | {
      readonly send: SinkSend<Payload>;
      /** How long a send may take before it fails and its message is retried (default 10 s). */
      readonly timeoutMs?: number;
      /** Attempts of a message whose send fails before it is parked (default: the subscriber's `maxAttempts`). */
      readonly attempts?: number;
    };

/**
 * Nearest subscribed ancestor: walks `types` (the type first, then its ancestors) and returns
 * the first subscription of that type whose binding matches the operation's routing key, so
 * that an unsubscribed subtype lands in its nearest subscribed ancestor.
 */
export function resolveSubscription(
  schema: Pick<SubscriberSchema, 'subscriptions'>,
  routingKey: string,
  types: readonly string[],
): SubscriptionDescriptor | undefined {
  const candidates = Object.values(schema.subscriptions);
  for (const type of types) {
    const found = candidates.find((s) => s.type === type && topicMatches(s.binding, routingKey));
    if (found) return found;
  }
  return undefined;
}

/** The observers that see an operation: each observer of any type in the chain whose binding matches. */
export function resolveObservers(
  schema: Pick<SubscriberSchema, 'observers'>,
  routingKey: string,
  types: readonly string[],
): ObserverDescriptor[] {
  return Object.values(schema.observers).filter((o) => types.includes(o.type) && topicMatches(o.binding, routingKey));
}
