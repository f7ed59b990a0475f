/**
 * Turns the `.prom` CST into AST nodes. The visitor implements the interface generated from the
 * grammar (grammar/cst.ts), so a rule or child renamed in the parser is a compile error here.
 * Recovery may leave holes, so grammar/cst.ts types every child as optional. A method whose
 * AST node has a span of its own takes the CST node's location as its second argument.
 */
import type { CstNodeLocation, IToken } from 'chevrotain';
import type {
  AggregateCstChildren,
  AppHeaderCstChildren,
  AsClauseCstChildren,
  AttributeBlockCstChildren,
  AttributeRefCstChildren,
  BelongsToCstChildren,
  CoalesceClauseCstChildren,
  ColumnCstChildren,
  CopyCstChildren,
  EmbeddedDeclCstChildren,
  EmbedsCstChildren,
  EphemeralDeclCstChildren,
  ExtendsClauseCstChildren,
  FieldBlockCstChildren,
  FieldCstChildren,
  FileCstChildren,
  FromClauseCstChildren,
  ForeignKeyClauseCstChildren,
  ICstNodeVisitor,
  IncludeCstChildren,
  IntoClauseCstChildren,
  ModifierCstChildren,
  ObserveDeclCstChildren,
  PathCstChildren,
  PublishDeclCstChildren,
  SubscribeDeclCstChildren,
  ToClauseCstChildren,
  TypeArgCstChildren,
  TypeRefCstChildren,
  VirtualCstChildren,
  WhenClauseCstChildren,
} from '../../../grammar/cst.js';
import { parser } from '../../../grammar/parser.js';
import { isReal, UnterminatedString } from '../../../grammar/tokens.js';
import type {
  AggregateFunction,
  AppAst,
  AttributeRefAst,
  DeclAst,
  Discriminator,
  FieldAst,
  ModifierAst,
  Name,
  PathAst,
  SubscribeAst,
  TypeAst,
} from '../ast/ast.js';
import { optional } from '../ast/optional.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { Span } from '../source/source-file.js';

/** What one `.prom` file contributes: its app sections and the files it includes. */
export interface PromFile {
  readonly apps: readonly AppAst[];
  readonly includes: readonly Name[];
}

type At = CstNodeLocation | undefined;

/** A node directly under `file`: a declaration, an app header or an include. */
type TopLevelNode = NonNullable<FileCstChildren[keyof FileCstChildren]>[number];

const Base = parser.getBaseCstVisitorConstructor<At, unknown>();

// `implements` already proves that every rule has a method, so Chevrotain's runtime
// `validateVisitor()` is not called: it would run again on every file and every fragment.

export class AstVisitor extends Base implements ICstNodeVisitor<At, unknown> {
  private readonly apps: { name: Name; decls: DeclAst[] }[] = [];
  private readonly includes: Name[] = [];

  constructor(
    private readonly spanAt: (offset: number, length: number) => Span,
    private readonly bag: DiagnosticBag,
  ) {
    super();
  }

  file(c: FileCstChildren): PromFile {
    // Children of `file` are grouped by rule; restore source order before reading them. Every
    // group is read, so a top-level rule added to the grammar reaches its method here.
    const groups: (TopLevelNode[] | undefined)[] = Object.values(c);
    const items = groups
      .flatMap((nodes) => nodes ?? [])
      .sort((a, b) => (a.location?.startOffset ?? 0) - (b.location?.startOffset ?? 0));
    for (const node of items) this.visit(node, node.location);
    return {
      apps: this.apps.map((a) => ({ kind: 'app', name: a.name, decls: a.decls })),
      includes: this.includes,
    };
  }

  appHeader(c: AppHeaderCstChildren): void {
    const name = this.name(c.Identifier);
    if (name) this.apps.push({ name, decls: [] });
  }

  include(c: IncludeCstChildren): void {
    const path = this.name(c.StringLiteral);
    if (path) this.includes.push(path);
  }

  publishDecl(c: PublishDeclCstChildren, at: At): void {
    const span = this.span(at);
    const table = this.name(c.Identifier);
    if (!table || !span) return;
    this.addDecl({
      kind: 'publish',
      span,
      table,
      ...optional('as', this.asClause(this.once(c.asClause, 'as')?.children)),
      ...optional('extends', this.extendsClause(this.once(c.extendsClause, 'extends')?.children)),
      ...optional('when', this.whenClause(this.once(c.whenClause, 'when')?.children)),
      ...optional('to', this.toClause(this.once(c.toClause, 'to')?.children)),
      ...optional('coalesce', this.coalesceClause(this.once(c.coalesceClause, 'coalesce')?.children)),
      fields: this.fieldBlock(c.fieldBlock?.[0]?.children),
    });
  }

  ephemeralDecl(c: EphemeralDeclCstChildren, at: At): void {
    const span = this.span(at);
    const name = this.name(c.Identifier);
    if (!name || !span) return;
    const to = this.toClause(this.once(c.toClause, 'to')?.children);
    this.addDecl({
      kind: 'ephemeral',
      span,
      name,
      ...optional('to', to),
      fields: this.fieldBlock(c.fieldBlock?.[0]?.children),
    });
  }

  embeddedDecl(c: EmbeddedDeclCstChildren, at: At): void {
    const span = this.span(at);
    const name = this.name(c.Identifier);
    if (!name || !span) return;
    this.addDecl({ kind: 'embedded', span, name, fields: this.fieldBlock(c.fieldBlock?.[0]?.children) });
  }

  subscribeDecl(c: SubscribeDeclCstChildren, at: At): void {
    const span = this.span(at);
    const type = this.name(c.Identifier);
    if (!type || !span) return;
    const decl: SubscribeAst = {
      kind: 'subscribe',
      span,
      type,
      ...optional('as', this.asClause(this.once(c.asClause, 'as')?.children)),
      ...optional('extends', this.extendsClause(this.once(c.extendsClause, 'extends')?.children)),
      ...optional('when', this.whenClause(this.once(c.whenClause, 'when')?.children)),
      ...optional('from', this.fromClause(this.once(c.fromClause, 'from')?.children)),
      ...optional('into', this.intoClause(this.once(c.intoClause, 'into')?.children)),
      ...optional('foreignKey', this.foreignKeyClause(this.once(c.foreignKeyClause, 'foreign_key')?.children)),
      ...optional('unmanaged', this.span(this.once(c.unmanagedClause, 'unmanaged')?.location)),
      attributes: this.attributeBlock(c.attributeBlock?.[0]?.children),
    };
    this.addDecl(decl);
  }

  observeDecl(c: ObserveDeclCstChildren, at: At): void {
    const span = this.span(at);
    const type = this.name(c.Identifier);
    if (!type || !span) return;
    this.addDecl({
      kind: 'observe',
      span,
      type,
      ...optional('as', this.asClause(this.once(c.asClause, 'as')?.children)),
      ...optional('from', this.fromClause(this.once(c.fromClause, 'from')?.children)),
      attributes: this.attributeBlock(c.attributeBlock?.[0]?.children),
    });
  }

  asClause(c: AsClauseCstChildren = {}): Name | undefined {
    return this.name(c.Identifier);
  }

  extendsClause(c: ExtendsClauseCstChildren = {}): Name | undefined {
    return this.name(c.Identifier);
  }

  toClause(c: ToClauseCstChildren = {}): Name | undefined {
    return this.name(c.StringLiteral);
  }

  fromClause(c: FromClauseCstChildren = {}): Name | undefined {
    return this.name(c.StringLiteral);
  }

  intoClause(c: IntoClauseCstChildren = {}): Name | undefined {
    return this.name(c.Identifier);
  }

  coalesceClause(c: CoalesceClauseCstChildren = {}): Name | undefined {
    return this.name(c.Duration) ?? this.name(c.NumberLiteral);
  }

  /** Read by `subscribeDecl` from the clause's location: it carries no value. */
  unmanagedClause(): undefined {
    return undefined;
  }

  whenClause(c: WhenClauseCstChildren | undefined): Discriminator | undefined {
    if (!c) return undefined;
    const column = this.name(c.Identifier, 0);
    const value = this.name(c.StringLiteral) ?? this.name(c.Identifier, 1);
    return column && value ? { column, value } : undefined;
  }

  foreignKeyClause(c: ForeignKeyClauseCstChildren | undefined): SubscribeAst['foreignKey'] {
    if (!c) return undefined;
    const column = this.name(c.Identifier);
    if (!column) return undefined;
    const node = c.typeRef?.[0];
    const type = node && this.typeRef(node.children, node.location);
    return type ? { column, type } : { column };
  }

  fieldBlock(c: FieldBlockCstChildren | undefined): FieldAst[] {
    return (c?.field ?? []).map((f) => this.field(f.children, f.location)).filter((f) => f !== undefined);
  }

  attributeBlock(c: AttributeBlockCstChildren | undefined): AttributeRefAst[] {
    return (c?.attributeRef ?? []).flatMap((ref) => this.attributeRef(ref.children));
  }

  /** Separators carry nothing. */
  separator(): void {}

  field(c: FieldCstChildren, at: At): FieldAst | undefined {
    const name = this.name(c.Identifier);
    const span = this.span(at);
    if (!name || !span) return undefined;
    const modifiers: ModifierAst[] = [];
    const typeNode = c.typeRef?.[0];
    const type = typeNode && this.typeRef(typeNode.children, typeNode.location);
    const belongsTo = (c.belongsTo ?? []).map((n) => this.belongsTo(n.children, n.location));
    const embeds = (c.embeds ?? []).map((n) => this.embeds(n.children, n.location));
    const copies = (c.copy ?? []).map((n) => this.copy(n.children, n.location));
    for (const modifier of [...belongsTo, ...embeds, ...copies]) if (modifier) modifiers.push(modifier);
    for (const m of c.modifier ?? []) {
      const modifier = this.modifier(m.children);
      if (modifier) modifiers.push(modifier);
    }
    return type ? { kind: 'field', span, name, type, modifiers } : { kind: 'field', span, name, modifiers };
  }

  typeRef(c: TypeRefCstChildren, at: At): TypeAst | undefined {
    const name = this.name(c.Identifier);
    const span = this.span(at);
    if (!name || !span) return undefined;
    return {
      kind: 'type',
      span,
      name,
      args: (c.typeArg ?? []).flatMap((arg) => this.typeArg(arg.children) ?? []),
      array: (c.ArraySuffix ?? []).length > 0,
      nullable: (c.Question ?? []).length > 0,
    };
  }

  typeArg(c: TypeArgCstChildren): Name | undefined {
    return this.name(c.Identifier) ?? this.name(c.StringLiteral) ?? this.name(c.NumberLiteral);
  }

  /** One modifier: a flag (`primary`, `private`) or a rule of its own. */
  modifier(c: ModifierCstChildren): ModifierAst | undefined {
    const primary = c.Primary?.[0];
    if (primary) return isReal(primary) ? { kind: 'primary', span: this.tokenSpan(primary) } : undefined;
    const flag = c.Private?.[0];
    if (flag) return isReal(flag) ? { kind: 'private', span: this.tokenSpan(flag) } : undefined;
    const virtual = c.virtual?.[0];
    if (virtual) return this.virtual(virtual.children, virtual.location);
    const column = c.column?.[0];
    if (column) return this.column(column.children, column.location);
    const belongsTo = c.belongsTo?.[0];
    if (belongsTo) return this.belongsTo(belongsTo.children, belongsTo.location);
    const embeds = c.embeds?.[0];
    if (embeds) return this.embeds(embeds.children, embeds.location);
    const copy = c.copy?.[0];
    if (copy) return this.copy(copy.children, copy.location);
    const aggregate = c.aggregate?.[0];
    return aggregate && this.aggregate(aggregate.children, aggregate.location);
  }

  virtual(c: VirtualCstChildren, at: At): ModifierAst | undefined {
    const span = this.span(at);
    const uses = (c.path ?? []).map((p) => this.path(p.children)).filter((p) => p.length > 0);
    return span ? { kind: 'virtual', span, uses } : undefined;
  }

  copy(c: CopyCstChildren, at: At): ModifierAst | undefined {
    const span = this.span(at);
    const node = c.path?.[0];
    const path = node ? this.path(node.children) : [];
    return span && path.length > 0 ? { kind: 'from', span, path } : undefined;
  }

  aggregate(c: AggregateCstChildren, at: At): ModifierAst | undefined {
    const span = this.span(at);
    const fn = [c.Count, c.Sum, c.Min, c.Max].find((tokens) => tokens?.[0] && isReal(tokens[0]))?.[0];
    const names = (c.Identifier ?? []).filter(isReal).map((t) => this.tokenName(t));
    const [model] = names;
    if (!span || !fn || !model) return undefined;
    // The names are the model, then the attribute after a `.`, then the column after `via`.
    const attribute = c.Dot ? names[1] : undefined;
    const via = c.Via ? names[c.Dot ? 2 : 1] : undefined;
    return {
      kind: 'aggregate',
      span,
      function: fn.image as AggregateFunction,
      model,
      ...optional('attribute', attribute),
      ...optional('via', via),
    };
  }

  path(c: PathCstChildren): PathAst {
    return (c.Identifier ?? []).filter(isReal).map((t) => this.tokenName(t));
  }

  column(c: ColumnCstChildren, at: At): ModifierAst | undefined {
    const span = this.span(at);
    const column = this.name(c.Identifier) ?? this.name(c.StringLiteral);
    return span && column ? { kind: 'column', span, column } : undefined;
  }

  belongsTo(c: BelongsToCstChildren, at: At): ModifierAst | undefined {
    const span = this.span(at);
    const target = this.name(c.Identifier);
    const nullable = (c.Question ?? []).length > 0;
    return span && target ? { kind: 'belongsTo', span, target, nullable } : undefined;
  }

  embeds(c: EmbedsCstChildren, at: At): ModifierAst | undefined {
    const span = this.span(at);
    const target = this.name(c.Identifier);
    const many = (c.Many ?? []).length > 0;
    const nullable = (c.Question ?? []).length > 0;
    return span && target ? { kind: 'embeds', span, many, target, nullable } : undefined;
  }

  attributeRef(c: AttributeRefCstChildren): AttributeRefAst[] {
    const name = this.name(c.Identifier, 0);
    const column = this.name(c.Identifier, 1);
    if (!name) return [];
    return [column ? { name, column } : { name }];
  }

  private addDecl(decl: DeclAst): void {
    const app = this.apps.at(-1);
    if (!app) {
      this.bag.error('P003', decl.span, `this ${decl.kind} is not inside an app`, 'put an `app <name>` line before it');
      return;
    }
    app.decls.push(decl);
  }

  /** A header clause given twice is reported, and the first one kept. */
  private once<N extends { readonly location?: CstNodeLocation }>(nodes: N[] | undefined, word: string): N | undefined {
    const [first, ...rest] = nodes ?? [];
    for (const extra of rest) {
      const span = this.span(extra.location);
      if (span) this.bag.error('P004', span, `\`${word}\` is given twice`, `keep one \`${word}\` clause`);
    }
    return first;
  }

  private name(tokens: IToken[] | undefined, index = 0): Name | undefined {
    const token = tokens?.[index];
    return token && isReal(token) ? this.tokenName(token) : undefined;
  }

  private tokenName(token: IToken): Name {
    const quoted = token.tokenType.name === 'StringLiteral';
    const open = token.tokenType === UnterminatedString;
    const inner = quoted ? token.image.slice(1, -1) : open ? token.image.slice(1) : token.image;
    const text = quoted || open ? inner.replace(/\\(.)/g, '$1') : inner;
    return { text, span: this.tokenSpan(token) };
  }

  private tokenSpan(token: IToken): Span {
    return this.spanAt(token.startOffset, token.image.length);
  }

  private span(location: At): Span | undefined {
    const start = location?.startOffset;
    if (start === undefined || Number.isNaN(start)) return undefined;
    const end = location?.endOffset;
    const length = end === undefined || Number.isNaN(end) ? 1 : end - start + 1;
    return this.spanAt(start, length);
  }
}
