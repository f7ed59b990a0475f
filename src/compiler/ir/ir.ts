/**
 * The routes IR: what the emitters read. It is span-free and sorted, so that the same routes
 * written as `.prom` or as `defineConfig` give the same IR, the same hash and the same output.
 */

export const scalarNames = [
  'string',
  'text',
  'integer',
  'bigint',
  'decimal',
  'float',
  'boolean',
  'date',
  'timestamp',
  'uuid',
  'json',
] as const;

export type ScalarName = (typeof scalarNames)[number];

export type FieldType =
  | { readonly kind: 'scalar'; readonly name: ScalarName; readonly precision?: number; readonly scale?: number }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'array'; readonly of: FieldType }
  | { readonly kind: 'embedded'; readonly model: string; readonly many: boolean };

export type FieldTypeKind = FieldType['kind'];

export interface Field {
  /** The attribute name on the wire and in generated types. */
  readonly name: string;
  /** The table column; absent for virtual attributes and for ephemeral or embedded fields. */
  readonly column?: string;
  readonly type: FieldType;
  readonly nullable: boolean;
  readonly primary: boolean;
  /** A private field is a column the app reads (for virtual attributes) but never publishes. */
  readonly private: boolean;
  /** Computed by an app-supplied function from these fields; re-published when they change. */
  readonly virtual?: { readonly uses: readonly string[] };
  /** A `belongs_to` relation: the value is the id of that model, and a causal dependency. */
  readonly relation?: { readonly model: string };
  /**
   * A derived attribute: its value comes from related rows, and is stored in `column`, which
   * the publisher keeps current and the app never writes.
   */
  readonly derived?: Derivation;
  /** Declared by this model rather than inherited from its parent. */
  readonly own: boolean;
}

/** A step along a `belongs_to` relation, from a row to the row it references. */
export interface RelationStep {
  /** The field less a trailing `_id` (`customer_id` -> `customer`). */
  readonly name: string;
  /** The referencing row's column that holds the referenced key. */
  readonly column: string;
  readonly model: string;
  readonly table: string;
  /** The referenced model's key column. */
  readonly key: string;
}

/** Columns read from the row at the end of a path (the row itself when the path is empty). */
export interface RelatedColumns {
  readonly path: readonly RelationStep[];
  readonly columns: readonly string[];
}

export type AggregateFunction = 'count' | 'sum' | 'min' | 'max';

/** How a derived attribute is computed: the shapes the runtime's contract names `Derivation`. */
export type Derivation =
  | { readonly kind: 'copy'; readonly path: readonly RelationStep[]; readonly column: string }
  | { readonly kind: 'virtual'; readonly reads: readonly RelatedColumns[] }
  | {
      readonly kind: 'aggregate';
      readonly function: AggregateFunction;
      readonly model: string;
      readonly table: string;
      /** The children's column that holds this row's key. */
      readonly via: string;
      /** The aggregated column; absent for count. */
      readonly column?: string;
    };

export interface Endpoint {
  /** `crowdtap/user` */
  readonly name: string;
  readonly app: string;
  readonly model: string;
}

export interface Publication {
  readonly kind: 'publication';
  readonly name: string;
  readonly table: string;
  readonly endpoint: Endpoint;
  readonly parent?: string;
  /** This type first, then each ancestor up to the root: the wire's `types` list. */
  readonly ancestors: readonly string[];
  readonly discriminator?: { readonly column: string; readonly value: string };
  readonly fields: readonly Field[];
  readonly primaryKey: string;
  /** `coalesce 200ms`: its derived attributes are refreshed after this many milliseconds. */
  readonly coalesce?: number;
}

export interface Ephemeral {
  readonly kind: 'ephemeral';
  readonly name: string;
  readonly endpoint: Endpoint;
  readonly fields: readonly Field[];
}

export interface EmbeddedModel {
  readonly kind: 'embedded';
  readonly name: string;
  readonly fields: readonly Field[];
  readonly primaryKey: string;
}

export interface Source {
  /** What the routes said, or the default `*\/<type>`. */
  readonly from: string;
  /** The AMQP topic binding: `crowdtap.user.*`, `*.user.#`. */
  readonly binding: string;
}

export interface SubscribedAttribute {
  readonly name: string;
  readonly column: string;
  /** Known when the publisher is in the workspace or its schemas were given. */
  readonly type?: FieldType;
  readonly nullable?: boolean;
  /**
   * The published type whose id the attribute holds (a `belongs_to` of its publisher), when
   * the publisher is in the workspace: the subscriber deletes a row only once nothing of its
   * own still references it.
   */
  readonly references?: string;
  readonly own: boolean;
}

export interface Subscription {
  readonly kind: 'subscription';
  /** The local name: generated types and the polymorphic resolution use it. */
  readonly name: string;
  /** The published type it receives. */
  readonly type: string;
  readonly source: Source;
  readonly table: string;
  /**
   * The column that stores the publisher's id (`foreign_key`), `id` by default, with its type:
   * the one declared, or else the publisher's key type when the publisher is known.
   */
  readonly key: { readonly column: string; readonly type?: FieldType };
  /** Whether the generated migrations create and alter its table (false: `unmanaged`, the app's own). */
  readonly managed: boolean;
  readonly parent?: string;
  readonly discriminator?: { readonly column: string; readonly value: string };
  readonly attributes: readonly SubscribedAttribute[];
  /** The publishing app, when one is known. */
  readonly publisher?: string;
}

export interface Observer {
  readonly kind: 'observer';
  readonly name: string;
  readonly type: string;
  readonly source: Source;
  readonly attributes: readonly SubscribedAttribute[];
  readonly publisher?: string;
}

export interface App {
  readonly name: string;
  readonly publications: readonly Publication[];
  readonly ephemerals: readonly Ephemeral[];
  readonly embedded: readonly EmbeddedModel[];
  readonly subscriptions: readonly Subscription[];
  readonly observers: readonly Observer[];
  /**
   * For every type known to be published where this app subscribes: the subscription it lands
   * in (its own, or its nearest subscribed ancestor's). Sorted by endpoint, then type.
   */
  readonly resolutions: readonly Resolution[];
}

export interface Resolution {
  readonly endpoint: string;
  readonly type: string;
  readonly subscription: string;
}

export interface Workspace {
  readonly apps: readonly App[];
}
