/**
 * The state the resolver's passes share, one `AppContext` per app. Each pass takes the context
 * and fills its own maps; later passes read what earlier ones resolved. The maps of resolved
 * nodes (`embedded`, `publications`, `ephemerals`, `subscriptions`, `observers`) leave out a
 * node with an error, so a later pass sees only what resolved cleanly. `names`, `embeddedNames`,
 * `publishDecls` and `localNames` record every declaration, resolved or not: a declaration not
 * resolved yet can be read, and a reference to one that failed (reported there) is not
 * reported again as unknown.
 */
import type { AppAst, DeclAst, PublishAst } from '../ast/ast.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { EmbeddedModel, Ephemeral, Field, Observer, Publication, Resolution, Subscription } from '../ir/ir.js';
import type { Span } from '../source/source-file.js';
import type { Catalog, CatalogEndpoint } from './catalog.js';

/** A resolved node, where it was declared, and its AST node for messages that point inside it. */
export interface Located<T> {
  readonly value: T;
  readonly span: Span;
  readonly decl: DeclAst;
}

/** A model's fields as resolved so far, whether all resolved, and where each was declared. */
export interface FieldsResult {
  ok: boolean;
  fields: Field[];
  spans: Map<string, Span>;
}

export interface AppContext {
  readonly name: string;
  /** The declarations of every section of the app, in source order. */
  readonly decls: readonly DeclAst[];
  readonly bag: DiagnosticBag;
  /** Model names (embedded, published, ephemeral), and whether each was given with `as`. */
  readonly names: Map<string, { span: Span; viaAs: boolean }>;
  readonly embedded: Map<string, Located<EmbeddedModel>>;
  /** Every embedded model declared, resolved or not. */
  readonly embeddedNames: Set<string>;
  /** Every publication declared under a name of its own, resolved or not. */
  readonly publishDecls: Map<string, PublishAst>;
  readonly publications: Map<string, Located<Publication>>;
  readonly ephemerals: Map<string, Located<Ephemeral>>;
  /** Local names of subscriptions and observers: one namespace for both. */
  readonly localNames: Map<string, Span>;
  readonly subscriptions: Map<string, Located<Subscription>>;
  readonly observers: Map<string, Located<Observer>>;
  readonly resolutions: Resolution[];
}

export function appContext(name: string, sections: readonly AppAst[], bag: DiagnosticBag): AppContext {
  return {
    name,
    decls: sections.flatMap((s) => s.decls),
    bag,
    names: new Map(),
    embedded: new Map(),
    embeddedNames: new Set(),
    publishDecls: new Map(),
    publications: new Map(),
    ephemerals: new Map(),
    localNames: new Map(),
    subscriptions: new Map(),
    observers: new Map(),
    resolutions: [],
  };
}

/** What every app's subscribers are checked against, known once all publishers are resolved. */
export interface Published {
  readonly catalog: Catalog;
  /** Apps of the workspace and of the schemas passed in. */
  readonly knownApps: ReadonlySet<string>;
  /** Types that publishers declared but could not publish: subscribers to them are not checked. */
  readonly broken: readonly BrokenType[];
}

/** A type that a publisher declared but could not publish, and where it would have been published. */
export interface BrokenType {
  readonly type: string;
  readonly endpoint: CatalogEndpoint;
}

/** The fix in the user's own syntax: a span with a config path comes from `defineConfig`. */
export function written(span: Span, prom: string, config: string): string {
  return span.path === undefined ? prom : config;
}
