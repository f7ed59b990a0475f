import type { CstNode, IRecognitionException, IToken } from 'chevrotain';
import { declarationStarts, parser } from '../../../grammar/parser.js';
import {
  Comma,
  keywords,
  LCurly,
  lexer,
  Newline,
  RCurly,
  reservedWords,
  UnterminatedString,
} from '../../../grammar/tokens.js';
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
import { optional } from '../ast/optional.js';
import { type Diagnostic, DiagnosticBag, type Result } from '../diagnostics/diagnostic.js';
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
  const spanAt = (offset: number, length: number): Span => lines.span(offset, length);
  const bag = new DiagnosticBag();
  const lexed = lexer.tokenize(source.text);
  for (const error of lexed.errors) {
    const char = source.text.slice(error.offset, error.offset + (error.length || 1));
    bag.push(lexerDiagnostic(char, spanAt(error.offset, error.length || 1)));
  }
  reportUnterminated(lexed.tokens, spanAt, bag);
  const tokens = dropStrayNewlines(withEnds(lexed.tokens));
  parser.input = tokens;
  const cst = parser.file();
  for (const error of parser.errors) bag.push(syntaxDiagnostic(error, spanAt, tokens));
  const builder = new AstBuilder(spanAt, bag);
  const value = builder.file(cst);
  return { value, diagnostics: bag.items };
}

/**
 * The lexer tracks start offsets only (it is faster); end offsets are added here so that the
 * parser's nodes know where they end, and a caret can underline a whole type or clause.
 */
function withEnds(tokens: IToken[]): IToken[] {
  for (const token of tokens) token.endOffset = token.startOffset + token.image.length - 1;
  return tokens;
}

/** A character no token starts with. A closing bracket there has lost its opening one. */
function lexerDiagnostic(char: string, span: Span) {
  const bag = new DiagnosticBag();
  if (char === '}' || char === ')') {
    const open = char === '}' ? '{' : '(';
    bag.error(
      'P001',
      span,
      `unmatched \`${char}\``,
      `remove it, or add the \`${open}\` it closes; check that every \`{\` and \`(\` before it is closed`,
    );
  } else {
    bag.error('P001', span, `unexpected character ${JSON.stringify(char)}`, 'remove it, or quote it inside a string');
  }
  return bag.items[0] as NonNullable<(typeof bag.items)[0]>;
}

/** Strings left open are lexed as strings (so that parsing goes on) and reported here, once. */
function reportUnterminated(
  tokens: readonly IToken[],
  spanAt: (offset: number, length: number) => Span,
  bag: DiagnosticBag,
) {
  for (const token of tokens) {
    if (token.tokenType !== UnterminatedString) continue;
    const quote = token.image[0] ?? '"';
    bag.error(
      'P001',
      spanAt(token.startOffset, token.image.length),
      'this string is not closed',
      `end it with \`${quote}\` on the same line`,
    );
  }
}

/**
 * After a `{` left open, the lexer stays in block mode and hands the top level new lines that
 * the grammar does not expect. The parser reports the missing `}` (at the next declaration, or
 * at the end of the file); these new lines are dropped, so that one missing `}` is one error.
 */
function dropStrayNewlines(tokens: IToken[]): IToken[] {
  let depth = 0;
  return tokens.filter((token) => {
    if (token.tokenType === LCurly) depth++;
    else if (token.tokenType === RCurly) depth = Math.max(0, depth - 1);
    else if (declarationStarts.includes(token.tokenType)) depth = 0;
    else if (token.tokenType === Newline && depth === 0) return false;
    return true;
  });
}

/** What to write instead, by the rule the parser was in, when nothing more precise applies. */
const ruleHelp: Record<string, string> = {
  file: 'move it inside a `{ }` block, or remove it',
  appHeader: 'name the app: `app shop`',
  include: 'quote the path: `include "billing.prom"`',
  publishDecl: 'write `publish <table> { <field> <type> ... }`',
  ephemeralDecl: 'write `ephemeral <Name> { <field> <type> ... }`',
  embeddedDecl: 'write `embedded <Name> { <field> <type> ... }`',
  subscribeDecl: 'write `subscribe <Type> from "<app>/<model>" { <attribute> ... }`',
  observeDecl: 'write `observe <Type> from "<app>/<model>" { <attribute> ... }`',
  asClause: 'write `as <Name>`',
  extendsClause: 'write `extends <Parent>`',
  whenClause: 'write `when <column> = "<value>"`',
  toClause: 'quote the endpoint: `to "<app>/<model>"`',
  fromClause: 'quote the source: `from "<app>/<model>"` or `from "<app>.<model>.*"`',
  intoClause: 'name the table: `into <table>`',
  foreignKeyClause: 'name the column: `foreign_key <column>`, optionally followed by its type',
  fieldBlock: 'open the fields with `{`: `{ id integer primary }`',
  attributeBlock: 'open the attributes with `{`: `{ name, email }`',
  separator: 'separate items with a new line or `,`',
  typeRef: 'write a type such as `string`, `decimal(12, 2)`, `enum(a, b)`, `integer[]` or `string?`',
  typeArg: 'write a name, a number or a quoted string',
  modifier:
    'use a modifier: `primary`, `private`, `virtual(use ...)`, `column <name>`, `belongs_to <Model>` or `embeds one|many <Model>`',
  virtual: 'list the fields it uses: `virtual(use first_name, last_name)`',
  column: 'name the column: `column <name>` (quoted if it is a reserved word: `column "from"`)',
  belongsTo: 'name the model: `belongs_to <Model>`',
  embeds: 'write `embeds one <Model>` or `embeds many <Model>`',
  attributeRef: 'write `<attribute>` or `<attribute> as <column>`',
};

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
  const bag = new DiagnosticBag();
  const rule = error.context?.ruleStack?.at(-1) ?? 'file';
  const before = isReal(token) ? tokens[tokens.indexOf(token) - 1] : undefined;
  const startsItem = before !== undefined && [Newline, Comma, LCurly].includes(before.tokenType);
  const inBlock = rule === 'fieldBlock' || rule === 'attributeBlock';
  if (
    isReal(token) &&
    startsItem &&
    inBlock &&
    keywords.includes(token.tokenType) &&
    !declarationStarts.includes(token.tokenType)
  ) {
    // `from string` inside `{ }`: the keyword stands where a name should.
    const item = rule === 'fieldBlock' ? 'a field' : 'an attribute';
    const help =
      rule === 'fieldBlock'
        ? `name the field otherwise and keep its column: \`${token.image}_value string column "${token.image}"\``
        : 'a published attribute never has a reserved name: check the name the publisher gives it';
    bag.error('P001', span, `\`${token.image}\` is a reserved word: it cannot name ${item}`, help);
  } else bag.error('P001', span, error.message, syntaxHelp(error, token, previous));
  return bag.items[0] as NonNullable<(typeof bag.items)[0]>;
}

/** Every syntax error says what to write: the most precise fix that applies. */
function syntaxHelp(error: IRecognitionException, token: IToken | undefined, previous: IToken | undefined): string {
  const rule = error.context?.ruleStack?.at(-1) ?? 'file';
  const message = error.message;
  const word = isReal(token) ? token.image : '';
  if (isReal(token) && token.tokenType.name === 'Identifier') {
    const keyword = closest(word, reservedWords);
    if (keyword !== undefined && keyword !== word) return `did you mean \`${keyword}\`?`;
  }
  if (isReal(token) && reservedWords.includes(word) && message.includes('expected a name')) {
    return `\`${word}\` is a reserved word: choose another name (a field can keep its column with \`column "${word}"\`)`;
  }
  if (message.startsWith('expected `}` to close the block')) {
    return `add \`}\` after the last ${rule === 'attributeBlock' ? 'attribute' : 'field'} of the block`;
  }
  if (message.includes('a new line')) {
    return rule === 'attributeBlock'
      ? 'put each attribute on its own line, or separate attributes with commas'
      : 'put each field on its own line, or separate fields with commas';
  }
  if (rule === 'field' && isReal(previous))
    return `give \`${previous.image}\` a type: \`${previous.image} string\` (or another type)`;
  if (rule === 'typeRef' && message.startsWith('expected `)`')) {
    const argument = isReal(token) && ['Identifier', 'NumberLiteral', 'StringLiteral'].includes(token.tokenType.name);
    return argument ? 'separate the arguments with `,`: `decimal(12, 2)`' : 'close the arguments with `)`';
  }
  return ruleHelp[rule] ?? ruleHelp.file ?? '';
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
  const before = bag.items.length;
  for (const error of lexed.errors) {
    bag.push(
      lexerDiagnostic(
        text.slice(error.offset, error.offset + (error.length || 1)),
        spanAt(error.offset, error.length || 1),
      ),
    );
  }
  reportUnterminated(lexed.tokens, spanAt, bag);
  parser.input = withEnds(lexed.tokens);
  const cst = rule === 'field' ? parser.field() : parser.typeRef();
  for (const error of parser.errors) {
    const diagnostic = syntaxDiagnostic(error, spanAt, lexed.tokens);
    bag.push(inFragment(error, diagnostic, rule));
  }
  if (bag.items.length > before) return undefined;
  const builder = new AstBuilder(spanAt, bag);
  return rule === 'field' ? builder.fieldNode(cst) : builder.typeNode(cst);
}

/** A fragment is not a file: its text ends, and what follows a whole field or type is no declaration. */
function inFragment(error: IRecognitionException, diagnostic: Diagnostic, rule: 'field' | 'typeRef'): Diagnostic {
  if (error.name !== 'NotAllInputParsedException') {
    return { ...diagnostic, message: diagnostic.message.replace('the end of the file', 'the end of the text') };
  }
  const extra = `\`${error.token.image}\``;
  const guessed = diagnostic.suggestion !== ruleHelp.file;
  return rule === 'field'
    ? {
        ...diagnostic,
        message: `expected a modifier (\`primary\`, \`private\`, \`column\`, \`belongs_to\`, \`embeds\`) after the type, found ${extra}`,
        suggestion: guessed ? diagnostic.suggestion : (ruleHelp.modifier as string),
      }
    : {
        ...diagnostic,
        message: `expected the end of the type, found ${extra}`,
        suggestion:
          'a `type` holds only a type, such as `string?`; `primary`, `private` and `column` are keys of their own',
      };
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
      this.bag.error('P003', decl.span, `this ${decl.kind} is not inside an app`, 'put an `app <name>` line before it');
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
    const open = token.tokenType === UnterminatedString;
    const inner = quoted ? token.image.slice(1, -1) : open ? token.image.slice(1) : token.image;
    const text = quoted || open ? inner.replace(/\\(.)/g, '$1') : inner;
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
