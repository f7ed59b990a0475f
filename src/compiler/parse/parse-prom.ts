/**
 * The `.prom` front end: lexes and parses a file (or a fragment of a config string) with the
 * grammar in grammar/, reports syntax errors (syntax-errors.ts), and builds AST nodes from the
 * CST (ast-visitor.ts).
 */
import type { ILexingResult, IToken } from 'chevrotain';
import type { FieldCstNode, FileCstNode, TypeRefCstNode } from '../../../grammar/cst.js';
import { declarationStarts, parser } from '../../../grammar/parser.js';
import { LCurly, lexer, Newline, RCurly } from '../../../grammar/tokens.js';
import type { FieldAst, TypeAst } from '../ast/ast.js';
import { DiagnosticBag, type Result } from '../diagnostics/diagnostic.js';
import { LineIndex, type SourceFile, type Span } from '../source/source-file.js';
import { AstVisitor, type PromFile } from './ast-visitor.js';
import { type FragmentRule, inFragment, reportLexing, syntaxDiagnostic } from './syntax-errors.js';

/** Parses one `.prom` file into AST nodes. Syntax errors become P001 diagnostics. */
export function parseProm(source: SourceFile): Result<PromFile> {
  const lines = new LineIndex(source.path, source.text);
  const spanAt = (offset: number, length: number): Span => lines.span(offset, length);
  const bag = new DiagnosticBag();
  const lexed = lexer.tokenize(source.text);
  reportLexing(source.text, lexed, spanAt, bag);
  const tokens = dropStrayNewlines(withEnds(lexed.tokens));
  parser.input = tokens;
  // The parser's rules return plain CST nodes; each is the node of the rule it is named after.
  const cst = parser.file() as FileCstNode | undefined;
  for (const error of parser.errors) bag.push(syntaxDiagnostic(error, spanAt, tokens));
  const value = cst ? new AstVisitor(spanAt, bag).file(cst.children) : { apps: [], includes: [] };
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

/**
 * Parses one field (`email string? primary`) written inside a config string, with the `.prom`
 * grammar, so that both front ends read it the same way. `spanAt` maps offsets in `text` back
 * to the config file.
 */
export function parseField(
  text: string,
  spanAt: (offset: number, length: number) => Span,
  bag: DiagnosticBag,
): FieldAst | undefined {
  const cst = parseFragment(text, 'field', () => parser.field() as FieldCstNode, spanAt, bag);
  return cst && new AstVisitor(spanAt, bag).field(cst.children, cst.location);
}

/** Parses one type (`enum(a, b)[]`) written inside a config string, as {@link parseField} a field. */
export function parseType(
  text: string,
  spanAt: (offset: number, length: number) => Span,
  bag: DiagnosticBag,
): TypeAst | undefined {
  const cst = parseFragment(text, 'typeRef', () => parser.typeRef() as TypeRefCstNode, spanAt, bag);
  return cst && new AstVisitor(spanAt, bag).typeRef(cst.children, cst.location);
}

/** The CST of a fragment read by `rule`, or nothing when it has a syntax error (reported). */
function parseFragment<N>(
  text: string,
  rule: FragmentRule,
  parse: () => N,
  spanAt: (offset: number, length: number) => Span,
  bag: DiagnosticBag,
): N | undefined {
  const before = bag.items.length;
  const lexed: ILexingResult = lexer.tokenize(text);
  reportLexing(text, lexed, spanAt, bag);
  parser.input = withEnds(lexed.tokens);
  const cst = parse();
  for (const error of parser.errors) {
    const diagnostic = syntaxDiagnostic(error, spanAt, lexed.tokens);
    bag.push(inFragment(error, diagnostic, rule));
  }
  return bag.items.length > before ? undefined : cst;
}
