import type { Span } from '../source/source-file.js';

/**
 * The routes AST. Both front ends (`.prom` and `defineConfig`) build these nodes; everything
 * after parsing works on them alone. Nodes are plain readonly data tagged with `kind`.
 */

export interface Name {
  readonly text: string;
  readonly span: Span;
}

export interface WorkspaceAst {
  readonly kind: 'workspace';
  readonly apps: readonly AppAst[];
}

/** One `app` section. Several sections (in one file or many) with the same name form one app. */
export interface AppAst {
  readonly kind: 'app';
  readonly name: Name;
  readonly decls: readonly DeclAst[];
}

export type DeclAst = PublishAst | EphemeralAst | EmbeddedAst | SubscribeAst | ObserveAst;

export interface Discriminator {
  readonly column: Name;
  readonly value: Name;
}

/** `publish users as User extends Base when type = "User" to "app/user" { ... }` */
export interface PublishAst {
  readonly kind: 'publish';
  readonly span: Span;
  readonly table: Name;
  readonly as?: Name;
  readonly extends?: Name;
  readonly when?: Discriminator;
  readonly to?: Name;
  /** `coalesce 200ms`, as written: checked when the model is resolved. */
  readonly coalesce?: Name;
  readonly fields: readonly FieldAst[];
}

/** `ephemeral UserEvent to "app/user_event" { ... }`: published, never stored. */
export interface EphemeralAst {
  readonly kind: 'ephemeral';
  readonly span: Span;
  readonly name: Name;
  readonly to?: Name;
  readonly fields: readonly FieldAst[];
}

/** `embedded Address { ... }`: a document stored inside its owner's row. */
export interface EmbeddedAst {
  readonly kind: 'embedded';
  readonly span: Span;
  readonly name: Name;
  readonly fields: readonly FieldAst[];
}

export interface FieldAst {
  readonly kind: 'field';
  readonly span: Span;
  readonly name: Name;
  readonly type?: TypeAst;
  readonly modifiers: readonly ModifierAst[];
}

/** `string`, `string?`, `integer[]`, `enum(a, b)`, `decimal(12, 2)` */
export interface TypeAst {
  readonly kind: 'type';
  readonly span: Span;
  readonly name: Name;
  readonly args: readonly Name[];
  readonly array: boolean;
  readonly nullable: boolean;
}

/** `customer.region.name`: the names of a path, in order; one name for a column of the row itself. */
export type PathAst = readonly Name[];

export type AggregateFunction = 'count' | 'sum' | 'min' | 'max';

/** `sum(OrderLine.amount via order_id)` */
export interface AggregateAst {
  readonly kind: 'aggregate';
  readonly span: Span;
  readonly function: AggregateFunction;
  readonly model: Name;
  readonly attribute?: Name;
  readonly via?: Name;
}

export type ModifierAst =
  | { readonly kind: 'primary'; readonly span: Span }
  | { readonly kind: 'private'; readonly span: Span }
  | { readonly kind: 'virtual'; readonly span: Span; readonly uses: readonly PathAst[] }
  | { readonly kind: 'from'; readonly span: Span; readonly path: PathAst }
  | AggregateAst
  | { readonly kind: 'column'; readonly span: Span; readonly column: Name }
  | { readonly kind: 'belongsTo'; readonly span: Span; readonly target: Name; readonly nullable: boolean }
  | {
      readonly kind: 'embeds';
      readonly span: Span;
      readonly many: boolean;
      readonly target: Name;
      readonly nullable: boolean;
    };

/** `subscribe User as Member from "*\/user" into members foreign_key crowdtap_id { name, email }` */
export interface SubscribeAst {
  readonly kind: 'subscribe';
  readonly span: Span;
  readonly type: Name;
  readonly as?: Name;
  readonly extends?: Name;
  readonly when?: Discriminator;
  readonly from?: Name;
  readonly into?: Name;
  readonly foreignKey?: { readonly column: Name; readonly type?: TypeAst };
  /** Where `unmanaged` was written: the app makes this table itself, the migrations leave it alone. */
  readonly unmanaged?: Span;
  readonly attributes: readonly AttributeRefAst[];
}

/** `observe UserEvent from "crowdtap.user_event.*" { user_id, event }` */
export interface ObserveAst {
  readonly kind: 'observe';
  readonly span: Span;
  readonly type: Name;
  readonly as?: Name;
  readonly from?: Name;
  readonly attributes: readonly AttributeRefAst[];
}

/** `email` or `email as contact_email` (the subscriber's column). */
export interface AttributeRefAst {
  readonly name: Name;
  readonly column?: Name;
}
