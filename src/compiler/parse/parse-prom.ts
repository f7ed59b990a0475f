import type { CstNode, IRecognitionException, IToken } from 'chevrotain';
import { parser } from '../../../grammar/parser.js';
import { lexer, reservedWords } from '../../../grammar/tokens.js';
import type {
  AppAst,
  AttributeRefAst,
  DeclAst,
  Discriminator,
  FieldAst,
  ModifierAst,
  Name,
  SubscribeAst,
  TypeAst,
} from '../ast/ast.js';
import { DiagnosticBag, type Result } from '../diagnostics/diagnostic.js';
import { closest } from '../diagnostics/suggest.js';
import { LineIndex, type SourceFile, type Span } from '../source/source-file.js';

/** What one `.prom` file contributes: its app sections and the files it includes. */
export interface PromFile {
  readonly apps: readonly AppAst[];
  readonly includes: readonly Name[];
}

type Children = Record<string, (CstNode | IToken)[] | undefined>;

/** Parses one `.prom` file into AST nodes. Syntax errors become P001 diagnostics. */
export function parseProm(source: SourceFile): Result<PromFile> {
  const lines = new LineIndex(source.path, source.text);
  const bag = new DiagnosticBag();
  const lexed = lexer.tokenize(source.text);
  for (const error of lexed.errors) {
    const char = source.text.slice(error.offset, error.offset + (error.length || 1));
    const message = error.message.includes('pop Lexer Mode')
      ? `unmatched \`${char}\``
      : `unexpected character ${JSON.stringify(char)}`;
    bag.error('P001', lines.span(error.offset, error.length || 1), message, 'remove it or quote it inside a string');
  }
  parser.input = lexed.tokens;
  const cst = parser.file();
  for (const error of parser.errors) {
    bag.push(syntaxDiagnostic(error, (offset, length) => lines.span(offset, length), lexed.tokens));
  }
  const builder = new AstBuilder((offset, length) => lines.span(offset, length), bag);
  const value = builder.file(cst);
  return { value, diagnostics: bag.items };
}

function syntaxDiagnostic(
  error: IRecognitionException,
  spanAt: (offset: number, length: number) => Span,
  tokens: IToken[],
) {
  const token = error.token;
  const previous = (error as { previousToken?: IToken }).previousToken;
  let span: Span;
  // A token that recovery invented has no position: anchor on the previous real one.
  if (isReal(token)) span = spanAt(token.startOffset, token.image.length);
  else if (isReal(previous)) span = spanAt(previous.startOffset + previous.image.length, 1);
  else {
    const last = tokens.at(-1);
    span = last ? spanAt(last.startOffset + last.image.length, 1) : spanAt(0, 1);
  }
  let suggestion: string | undefined;
  if (isReal(token) && token.tokenType.name === 'Identifier') {
    const keyword = closest(token.image, reservedWords);
    if (keyword !== undefined && keyword !== token.image) suggestion = `did you mean \`${keyword}\`?`;
  } else if (isReal(token) && reservedWords.includes(token.image) && error.message.includes('expected a name')) {
    suggestion = `\`${token.image}\` is a reserved word: choose another name (a field can keep its column with \`column "${token.image}"\`)`;
  }
  if (suggestion === undefined && error.message.includes('a new line')) {
    suggestion = 'put each field on its own line, or separate fields with commas';
  }
  const bag = new DiagnosticBag();
  bag.error('P001', span, error.message, suggestion);
  return bag.items[0] as NonNullable<(typeof bag.items)[0]>;
}

/**
 * Parses one field (`email string? primary`) or one type (`enum(a, b)[]`) written inside a
 * config string, with the `.prom` grammar, so that both front ends read them the same way.
 * `spanAt` maps offsets in `text` back to the config file.
 */
export function parseFragment(
  text: string,
  rule: 'field' | 'typeRef',
  spanAt: (offset: number, length: number) => Span,
  bag: DiagnosticBag,
): FieldAst | TypeAst | undefined {
  const lexed = lexer.tokenize(text);
  for (const error of lexed.errors) {
    bag.error('P001', spanAt(error.offset, error.length || 1), `unexpected character ${JSON.stringify(text[error.offset] ?? '')}`);
  }
  parser.input = lexed.tokens;
  const cst = rule === 'field' ? parser.field() : parser.typeRef();
  const errors = parser.errors;
  for (const error of errors) bag.push(syntaxDiagnostic(error, spanAt, lexed.tokens));
  if (lexed.errors.length > 0 || errors.length > 0) return undefined;
  const builder = new AstBuilder(spanAt, bag);
  return rule === 'field' ? builder.fieldNode(cst) : builder.typeNode(cst);
}

function isReal(token: IToken | undefined): token is IToken {
  return token !== undefined && !Number.isNaN(token.startOffset) && token.tokenType.name !== 'EOF';
}

/** Turns the CST into AST nodes. Recovery may leave holes: every child is optional here. */
class AstBuilder {
  private apps: { name: Name; decls: DeclAst[] }[] = [];
  private includes: Name[] = [];

  constructor(
    private readonly spanAt: (offset: number, length: number) => Span,
    private readonly bag: DiagnosticBag,
  ) {}

  file(cst: CstNode | undefined): PromFile {
    if (!cst) return { apps: [], includes: [] };
    // Children of `file` are grouped by rule; restore source order before reading them.
    const items = Object.values(cst.children)
      .flat()
      .filter((c): c is CstNode => isNode(c))
      .sort((a, b) => (a.location?.startOffset ?? 0) - (b.location?.startOffset ?? 0));
    for (const node of items) this.topLevel(node);
    return {
      apps: this.apps.map((a) => ({ kind: 'app', name: a.name, decls: a.decls })),
      includes: this.includes,
    };
  }

  private topLevel(node: CstNode): void {
    const c = node.children as Children;
    if (node.name === 'appHeader') {
      const name = this.name(c, 'Identifier');
      if (name) this.apps.push({ name, decls: [] });
      return;
    }
    if (node.name === 'include') {
      const path = this.string(c, 'StringLiteral');
      if (path) this.includes.push(path);
      return;
    }
    const decl = this.decl(node);
    if (!decl) return;
    const app = this.apps.at(-1);
    if (!app) {
      this.bag.error('P003', decl.span, `this ${decl.kind} is not inside an app`, 'start the file with `app <name>`');
      return;
    }
    app.decls.push(decl);
  }

  private decl(node: CstNode): DeclAst | undefined {
    const c = node.children as Children;
    const span = this.nodeSpan(node);
    const head = this.name(c, 'Identifier');
    if (!head || !span) return undefined;
    switch (node.name) {
      case 'publishDecl': {
        const clauses = this.clauses(c, ['asClause', 'extendsClause', 'whenClause', 'toClause']);
        return {
          kind: 'publish',
          span,
          table: head,
          ...optional('as', this.clauseName(clauses.asClause)),
          ...optional('extends', this.clauseName(clauses.extendsClause)),
          ...optional('when', this.when(clauses.whenClause)),
          ...optional('to', this.clauseString(clauses.toClause)),
          fields: this.fields(c),
        };
      }
      case 'ephemeralDecl': {
        const clauses = this.clauses(c, ['toClause']);
        return {
          kind: 'ephemeral',
          span,
          name: head,
          ...optional('to', this.clauseString(clauses.toClause)),
          fields: this.fields(c),
        };
      }
      case 'embeddedDecl':
        return { kind: 'embedded', span, name: head, fields: this.fields(c) };
      case 'subscribeDecl': {
        const clauses = this.clauses(c, [
          'asClause',
          'extendsClause',
          'whenClause',
          'fromClause',
          'intoClause',
          'foreignKeyClause',
        ]);
        const decl: SubscribeAst = {
          kind: 'subscribe',
          span,
          type: head,
          ...optional('as', this.clauseName(clauses.asClause)),
          ...optional('extends', this.clauseName(clauses.extendsClause)),
          ...optional('when', this.when(clauses.whenClause)),
          ...optional('from', this.clauseString(clauses.fromClause)),
          ...optional('into', this.clauseName(clauses.intoClause)),
          ...optional('foreignKey', this.foreignKey(clauses.foreignKeyClause)),
          attributes: this.attributes(c),
        };
        return decl;
      }
      case 'observeDecl': {
        const clauses = this.clauses(c, ['asClause', 'fromClause']);
        return {
          kind: 'observe',
          span,
          type: head,
          ...optional('as', this.clauseName(clauses.asClause)),
          ...optional('from', this.clauseString(clauses.fromClause)),
          attributes: this.attributes(c),
        };
      }
      default:
        return undefined;
    }
  }

  /** Collects header clauses; a clause given twice is reported and the first one kept. */
  private clauses<K extends string>(c: Children, names: readonly K[]): Partial<Record<K, CstNode>> {
    const found: Partial<Record<K, CstNode>> = {};
    for (const name of names) {
      const nodes = (c[name] ?? []).filter(isNode);
      const [first, ...rest] = nodes;
      if (first) found[name] = first;
      for (const extra of rest) {
        const span = this.nodeSpan(extra);
        const word = name.replace(/Clause$/, '').replace('foreignKey', 'foreign_key');
        if (span) this.bag.error('P004', span, `\`${word}\` is given twice`, `keep one \`${word}\` clause`);
      }
    }
    return found;
  }

  private clauseName(node: CstNode | undefined): Name | undefined {
    return node ? this.name(node.children as Children, 'Identifier') : undefined;
  }

  private clauseString(node: CstNode | undefined): Name | undefined {
    return node ? this.string(node.children as Children, 'StringLiteral') : undefined;
  }

  private when(node: CstNode | undefined): Discriminator | undefined {
    if (!node) return undefined;
    const c = node.children as Children;
    const column = this.name(c, 'Identifier', 0);
    const value = this.string(c, 'StringLiteral') ?? this.name(c, 'Identifier', 1);
    return column && value ? { column, value } : undefined;
  }

  private foreignKey(node: CstNode | undefined): SubscribeAst['foreignKey'] {
    if (!node) return undefined;
    const c = node.children as Children;
    const column = this.name(c, 'Identifier');
    if (!column) return undefined;
    const type = this.typeRef(first(c.typeRef));
    return type ? { column, type } : { column };
  }

  fieldNode(node: CstNode): FieldAst | undefined {
    return this.field(node);
  }

  typeNode(node: CstNode): TypeAst | undefined {
    return this.typeRef(node);
  }

  private fields(c: Children): FieldAst[] {
    const block = first(c.fieldBlock);
    if (!block) return [];
    return ((block.children as Children).field ?? [])
      .filter(isNode)
      .map((f) => this.field(f))
      .filter((f): f is FieldAst => f !== undefined);
  }

  private field(node: CstNode): FieldAst | undefined {
    const c = node.children as Children;
    const name = this.name(c, 'Identifier');
    const span = this.nodeSpan(node);
    if (!name || !span) return undefined;
    const modifiers: ModifierAst[] = [];
    const type = this.typeRef(first(c.typeRef));
    for (const head of [...(c.belongsTo ?? []), ...(c.embeds ?? [])].filter(isNode)) {
      const modifier = this.modifier(head);
      if (modifier) modifiers.push(modifier);
    }
    for (const m of (c.modifier ?? []).filter(isNode)) {
      const inner = Object.values(m.children).flat()[0];
      const modifier = inner === undefined ? undefined : isNode(inner) ? this.modifier(inner) : this.flag(inner);
      if (modifier) modifiers.push(modifier);
    }
    return type ? { kind: 'field', span, name, type, modifiers } : { kind: 'field', span, name, modifiers };
  }

  private flag(token: IToken): ModifierAst | undefined {
    if (!isReal(token)) return undefined;
    const span = this.tokenSpan(token);
    if (token.image === 'primary') return { kind: 'primary', span };
    if (token.image === 'private') return { kind: 'private', span };
    return undefined;
  }

  private modifier(node: CstNode): ModifierAst | undefined {
    const c = node.children as Children;
    const span = this.nodeSpan(node);
    if (!span) return undefined;
    const nullable = (c.Question ?? []).length > 0;
    switch (node.name) {
      case 'virtual':
        return { kind: 'virtual', span, uses: this.names(c, 'Identifier') };
      case 'column': {
        const column = this.name(c, 'Identifier') ?? this.string(c, 'StringLiteral');
        return column ? { kind: 'column', span, column } : undefined;
      }
      case 'belongsTo': {
        const target = this.name(c, 'Identifier');
        return target ? { kind: 'belongsTo', span, target, nullable } : undefined;
      }
      case 'embeds': {
        const target = this.name(c, 'Identifier');
        const many = (c.Many ?? []).length > 0;
        return target ? { kind: 'embeds', span, many, target, nullable } : undefined;
      }
      default:
        return undefined;
    }
  }

  private typeRef(node: CstNode | undefined): TypeAst | undefined {
    if (!node) return undefined;
    const c = node.children as Children;
    const name = this.name(c, 'Identifier');
    const span = this.nodeSpan(node);
    if (!name || !span) return undefined;
    const args = (c.typeArg ?? []).filter(isNode).flatMap((arg) => {
      const token = Object.values(arg.children).flat()[0];
      return token && !isNode(token) && isReal(token) ? [this.tokenName(token)] : [];
    });
    return {
      kind: 'type',
      span,
      name,
      args,
      array: (c.ArraySuffix ?? []).length > 0,
      nullable: (c.Question ?? []).length > 0,
    };
  }

  private attributes(c: Children): AttributeRefAst[] {
    const block = first(c.attributeBlock);
    if (!block) return [];
    return ((block.children as Children).attributeRef ?? []).filter(isNode).flatMap((ref) => {
      const rc = ref.children as Children;
      const name = this.name(rc, 'Identifier', 0);
      const column = this.name(rc, 'Identifier', 1);
      if (!name) return [];
      return [column ? { name, column } : { name }];
    });
  }

  private names(c: Children, key: string): Name[] {
    return (c[key] ?? []).filter((t): t is IToken => !isNode(t) && isReal(t)).map((t) => this.tokenName(t));
  }

  private name(c: Children, key: string, index = 0): Name | undefined {
    const token = (c[key] ?? [])[index];
    return token && !isNode(token) && isReal(token) ? this.tokenName(token) : undefined;
  }

  private string(c: Children, key: string): Name | undefined {
    return this.name(c, key);
  }

  private tokenName(token: IToken): Name {
    const quoted = token.tokenType.name === 'StringLiteral';
    const text = quoted ? token.image.slice(1, -1).replace(/\\(.)/g, '$1') : token.image;
    return { text, span: this.tokenSpan(token) };
  }

  private tokenSpan(token: IToken): Span {
    return this.spanAt(token.startOffset, token.image.length);
  }

  private nodeSpan(node: CstNode): Span | undefined {
    const start = node.location?.startOffset;
    if (start === undefined || Number.isNaN(start)) return undefined;
    const end = node.location?.endOffset;
    const length = end === undefined || Number.isNaN(end) ? 1 : end - start + 1;
    return this.spanAt(start, length);
  }
}

function isNode(x: CstNode | IToken): x is CstNode {
  return 'children' in x;
}

function first(items: (CstNode | IToken)[] | undefined): CstNode | undefined {
  return items?.find(isNode);
}

/** Spreads `{ key: value }` only when the value exists, so optional AST fields stay absent. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
