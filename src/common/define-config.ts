/**
 * The `promiscuous.config.ts` front end: the same routes as a `.prom` file, as typed data.
 *
 * @example
 * ```ts
 * import { defineConfig } from 'promiscuous';
 *
 * export default defineConfig({
 *   apps: {
 *     crowdtap: {
 *       publish: [{ table: 'users', as: 'User', fields: { id: 'uuid primary', name: 'string' } }],
 *     },
 *     sniper: {
 *       subscribe: [{ type: 'User', from: 'crowdtap/user', attributes: ['name'] }],
 *     },
 *   },
 * });
 * ```
 */

import type { Logger } from './logger.js';
import type { SignatureConfig } from './signature-settings.js';

/** The built-in scalar types. */
export type ScalarType =
  'string' | 'text' | 'integer' | 'bigint' | 'decimal' | 'float' | 'boolean' | 'date' | 'timestamp' | 'uuid' | 'json';

type BaseType = ScalarType | `enum(${string})` | `decimal(${number}, ${number})`;

/** A type as in a `.prom` file: `'string'`, `'string?'` (nullable), `'integer[]'`, `'enum(a, b)'`. */
export type TypeSpec = BaseType | `${BaseType}?` | `${BaseType}[]` | `${BaseType}[]?`;

/** A field: a type, a type followed by `primary`/`private`, or the full form. */
export type FieldSpec = TypeSpec | `${TypeSpec} primary` | `${TypeSpec} private` | FieldOptions;

export interface FieldOptions {
  /**
   * Required unless the field `belongsTo` a model (it then takes the model's key type), embeds
   * one, or copies a field `from` another model (it then takes that field's type).
   */
  readonly type?: TypeSpec;
  /** The model's primary key. Default: the field named `id`. */
  readonly primary?: boolean;
  /** A column the app reads (for virtual attributes) but never publishes. */
  readonly private?: boolean;
  /** The table column, when it differs from the attribute name. */
  readonly column?: string;
  /**
   * A computed attribute: the app supplies the function; re-published when these fields change.
   * A field of a related model is named by its path (`'customer.first_name'`): the attribute is
   * then derived, stored in its column and kept current by the publisher.
   */
  readonly virtual?: { readonly use: readonly string[] };
  /**
   * A derived attribute copied from a related row, along `belongs_to` relations:
   * `'customer.region.name'`. Stored in its column and kept current by the publisher.
   */
  readonly from?: string;
  /** A derived count of the rows of a model that belong to this one: `'OrderLine'`. */
  readonly count?: string;
  /** A derived sum over the rows that belong to this one: `'OrderLine.amount'`. */
  readonly sum?: string;
  /** The smallest value over the rows that belong to this one (null when none does): `'OrderLine.amount'`. */
  readonly min?: string;
  /** The largest value over the rows that belong to this one (null when none does): `'OrderLine.amount'`. */
  readonly max?: string;
  /** The aggregated model's `belongs_to` field that points at this model, when it has several. */
  readonly via?: string;
  /** A relation: the value is that model's id, and a causal dependency. `'Organization?'` is nullable. */
  readonly belongsTo?: string;
  /** One embedded document (`'Address'`, or `'Address?'` when it may be absent). */
  readonly embedsOne?: string;
  /** A list of embedded documents. */
  readonly embedsMany?: string;
}

export type Fields = { readonly [name: string]: FieldSpec };

export interface Discriminator {
  readonly column: string;
  readonly value: string;
}

/** `publish <table> as <Type> ...` */
export interface PublishConfig {
  readonly table: string;
  /** The published type name. Default: the table name, singular, in PascalCase. */
  readonly as?: string;
  /** The parent model: this one is a subtype stored in the same table. */
  readonly extends?: string;
  /** How rows of this subtype are told apart. Default: `{ column: 'type', value: <Type> }`. */
  readonly when?: Discriminator;
  /** The endpoint. Default: `<app>/<type in snake_case>`. */
  readonly to?: string;
  /**
   * Refresh the model's derived attributes after this window (`'200ms'`, `'2s'`) rather than in
   * the writing transaction, so that a burst of changes publishes each row once.
   */
  readonly coalesce?: `${number}ms` | `${number}s`;
  readonly fields: Fields;
}

export interface EphemeralConfig {
  readonly to?: string;
  readonly fields: Fields;
}

export interface EmbeddedConfig {
  readonly fields: Fields;
}

/** A subscribed attribute: `'name'`, or `{ email: 'contact_email' }` to store it in another column. */
export type AttributeSpec = string | { readonly [attribute: string]: string };

export interface SubscribeConfig {
  /** The published type. */
  readonly type: string;
  /** The local name. Default: the published type. */
  readonly as?: string;
  readonly extends?: string;
  readonly when?: Discriminator;
  /** An endpoint (`'crowdtap/user'`, `'*\/user'`) or a routing-key pattern (`'crowdtap.user.*'`). */
  readonly from?: string;
  /** The table. Default: the local name, plural, in snake_case. */
  readonly into?: string;
  /** The column that stores the publisher's id, with its type when it should be checked. */
  readonly foreignKey?: string | { readonly column: string; readonly type?: TypeSpec };
  /**
   * The table is the app's own (made and altered by its own migrations): the generated
   * migrations leave it alone. Subscriptions into one table agree on it.
   */
  readonly unmanaged?: boolean;
  readonly attributes: readonly AttributeSpec[];
}

export interface ObserveConfig {
  readonly type: string;
  readonly as?: string;
  readonly from?: string;
  readonly attributes: readonly AttributeSpec[];
}

export interface AppConfig {
  readonly publish?: readonly PublishConfig[];
  readonly ephemerals?: { readonly [name: string]: EphemeralConfig };
  readonly embedded?: { readonly [name: string]: EmbeddedConfig };
  readonly subscribe?: readonly SubscribeConfig[];
  readonly observe?: readonly ObserveConfig[];
}

/**
 * The types of the functions the apps supply at run time: the generated `RuntimeHooks`
 * (`generated/hooks.ts`), by app.
 */
export interface HookTypes {
  readonly virtuals: object;
  readonly callbacks: object;
  readonly sinks?: object;
}

/** What `defineConfig({ ... })` without the generated types accepts: any app, any names. */
export interface UntypedHooks extends HookTypes {
  readonly virtuals: { readonly [app: string]: object };
  readonly callbacks: { readonly [app: string]: object };
  readonly sinks: { readonly [app: string]: object };
}

/**
 * How this process runs (the routes compiler ignores these keys). Each can be overridden from
 * the environment: `PROMISCUOUS_APP`, `PROMISCUOUS_AMQP_URL`, `PROMISCUOUS_REDIS_URL`,
 * `PROMISCUOUS_NAMESPACE`, `PROMISCUOUS_BACKEND`, `PROMISCUOUS_DATABASE_URL`.
 */
export interface RuntimeConfig<Hooks extends HookTypes = UntypedHooks> {
  /** `.prom` routes files, relative to this file: the routes then need not be repeated under `apps`. */
  readonly routes?: string | readonly string[];
  /** The app this process runs, when the routes describe several. */
  readonly app?: string;
  /** Prefix of exchange and queue names; publishers and their subscribers share it. Default `promiscuous`. */
  readonly namespace?: string;
  /** Default `amqp://guest:guest@127.0.0.1:5672`. */
  readonly amqpUrl?: string;
  /** Default `redis://127.0.0.1:6379`. */
  readonly redisUrl?: string;
  /** The Knex config of an app's database, or a function of the app's name. */
  readonly database?: object | ((app: string) => object);
  /** `amqp` (default), `memory` (in-process, for tests) or `null` (publish nothing). */
  readonly backend?: 'amqp' | 'memory' | 'null';
  /** Where `promiscuous generate` wrote its output, relative to this file (default `generated`). */
  readonly generated?: string;
  /**
   * Callbacks of each subscribing app, by app then local name: `{ sniper: { User: { afterCreate
   * (event) { ... } } } }`. Typed by the generated `RuntimeHooks` with `defineConfig<RuntimeHooks>()`.
   */
  readonly callbacks?: Hooks['callbacks'];
  /**
   * Sinks of each subscribing app, by app then local name: `{ sniper: { User: ({ payload,
   * idempotencyKey, signal }) => api.post(...) } }`, for `promiscuous subscribe`. Typed by the
   * generated `RuntimeHooks` with `defineConfig<RuntimeHooks>()`.
   */
  readonly sinks?: Hooks['sinks'];
  /**
   * Virtual attribute functions of each publishing app, by app then model: `{ crowdtap: { User:
   * { full_name: (row) => ... } } }`. The same object the app passes to `new Publisher({ virtuals })`;
   * typed by the generated `RuntimeHooks` with `defineConfig<RuntimeHooks>()`.
   */
  readonly virtuals?: Hooks['virtuals'];
  /**
   * The logger of `subscribe`, `relay` and `publish` (default: theirs, as `--log-format` and
   * `--log-level` say): a pino logger, or any {@link Logger}.
   *
   * @example
   * ```ts
   * import pino from 'pino';
   * export default defineConfig({ apps: { ... }, logger: pino({ level: 'info' }) });
   * ```
   */
  readonly logger?: Logger;
  readonly errorNotifier?: (error: Error, payload?: unknown) => void;
  /**
   * Signed messages (default: none made, none checked): `keyFile`, this app's private key,
   * signs all it publishes; `trust`, the public keys of the apps it hears from, by app,
   * against which what it receives is verified; `require`, whether unsigned messages are parked.
   *
   * @example
   * ```ts
   * signatures: { keyFile: (app) => `keys/${app}.key`, trust: { shop: ['<base64>'] }, require: true },
   * ```
   */
  readonly signatures?: SignatureConfig;
}

/** The runtime keys that may stand beside `apps`. */
export const runtimeKeys = [
  'routes',
  'app',
  'namespace',
  'amqpUrl',
  'redisUrl',
  'database',
  'backend',
  'generated',
  'callbacks',
  'sinks',
  'virtuals',
  'logger',
  'errorNotifier',
  'signatures',
] as const satisfies readonly (keyof RuntimeConfig)[];

/** A config: its routes (under `apps`, in `.prom` files named by `routes`, or both) and how it runs. */
export interface RoutesConfig<Hooks extends HookTypes = UntypedHooks> extends RuntimeConfig<Hooks> {
  readonly apps?: { readonly [name: string]: AppConfig };
}

/**
 * The config as `defineConfig<Hooks>()` takes it: `virtuals`, `callbacks` and `sinks` exactly
 * as the generated types say, so that a misspelt or missing name is a type error; the other keys as
 * written, so that the config keeps its literal types.
 */
export type TypedConfig<T, Hooks extends HookTypes> = {
  [K in keyof T]: K extends 'virtuals' | 'callbacks' | 'sinks' ? Hooks[K] : T[K];
};

/**
 * Types the config for autocompletion; returns it unchanged. Given the generated hook types
 * first, it also checks the apps' virtual attribute functions and callbacks:
 *
 * @example
 * ```ts
 * import type { RuntimeHooks } from './generated/hooks.js';
 *
 * export default defineConfig<RuntimeHooks>()({
 *   apps: { ... },
 *   virtuals: { crowdtap: { User: { full_name: (row) => `${row.first_name} ${row.last_name}` } } },
 * });
 * ```
 */
export function defineConfig<const T extends RoutesConfig>(config: T): T;
export function defineConfig<Hooks extends HookTypes>(): <const T extends RoutesConfig<Hooks>>(
  config: TypedConfig<T, Hooks>,
) => T;
export function defineConfig(config?: RoutesConfig): RoutesConfig | ((config: RoutesConfig) => RoutesConfig) {
  return config ?? ((typed: RoutesConfig) => typed);
}
