/**
 * Syntax errors in the compiler's voice (P001): characters no token starts with, strings left
 * open, and the parser's errors, each anchored on a real token and given the most precise fix.
 */
import type { ILexingResult, IRecognitionException, IToken } from 'chevrotain';
import { declarationStarts, quoted } from '../../../grammar/parser.js';
import type { RuleName } from '../../../grammar/rule-names.js';
import {
  Comma,
  isReal,
  keywords,
  LCurly,
  Newline,
  reservedWords,
  UnterminatedString,
} from '../../../grammar/tokens.js';
import { type Diagnostic, DiagnosticBag } from '../diagnostics/diagnostic.js';
import { closest } from '../diagnostics/suggest.js';
import { describeCharacter, isPrintableAscii } from './characters.js';
import type { Span } from '../source/source-file.js';

/** Reports what the lexer could not read: stray characters and strings left open. */
export function reportLexing(
  text: string,
  lexed: ILexingResult,
  spanAt: (offset: number, length: number) => Span,
  bag: DiagnosticBag,
): void {
  for (const error of lexed.errors) {
    for (const run of strayRuns(text.slice(error.offset, error.offset + (error.length || 1)))) {
      bag.push(lexerDiagnostic(run.text, spanAt(error.offset + run.offset, run.text.length)));
    }
  }
  reportUnterminated(lexed.tokens, spanAt, bag);
}

/**
 * The characters of one lexer error, as diagnostics report them: printable ASCII in runs
 * (`@@`), and each other character on its own, so that each is named.
 */
function strayRuns(text: string): { text: string; offset: number }[] {
  const runs: { text: string; offset: number }[] = [];
  let offset = 0;
  for (const char of text) {
    const last = runs.at(-1);
    if (last && isPrintableAscii(char) && isPrintableAscii(last.text.charAt(0))) last.text += char;
    else runs.push({ text: char, offset });
    offset += char.length;
  }
  return runs;
}

/** A character no token starts with. A closing bracket there has lost its opening one. */
function lexerDiagnostic(char: string, span: Span) {
  const bag = new DiagnosticBag();
  if (!isPrintableAscii(char.charAt(0))) {
    const { message, suggestion } = describeCharacter(char);
    bag.error('P001', span, message, suggestion);
  } else if (char === '}' || char === ')') {
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

/** What a stray item at the top level needs. */
const outsideBlocks = 'move it inside a `{ }` block, or remove it';

/** What to write instead, by the rule the parser was in, when nothing more precise applies. */
const ruleHelp: Record<RuleName, string> = {
  file: outsideBlocks,
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
  unmanagedClause: 'write `unmanaged` alone: the table is then your own',
  coalesceClause: 'give a window: `coalesce 200ms` or `coalesce 2s`',
  // A field with no real token before the error has nothing to name in a more precise help.
  field: outsideBlocks,
  fieldBlock: 'open the fields with `{`: `{ id integer primary }`',
  attributeBlock: 'open the attributes with `{`: `{ name, email }`',
  separator: 'separate items with a new line or `,`',
  typeRef: 'write a type such as `string`, `decimal(12, 2)`, `enum(a, b)`, `integer[]` or `string?`',
  typeArg: 'write a name, a number or a quoted string',
  modifier:
    'use a modifier: `primary`, `private`, `virtual(use ...)`, `column <name>`, `belongs_to <Model>`, `embeds one|many <Model>`, `from <path>` or an aggregate (`count(<Model>)`)',
  virtual: 'list the fields it uses: `virtual(use first_name, last_name)` or `virtual(use customer.name)`',
  copy: 'name the relations and the field: `from customer.name`',
  aggregate:
    'write `count(OrderLine)`, or `sum(OrderLine.amount)`, `min(...)`, `max(...)`, each with `via <field>` if needed',
  path: 'join names with dots: `customer.region.name`',
  column: 'name the column: `column <name>` (quoted if it is a reserved word: `column "from"`)',
  belongsTo: 'name the model: `belongs_to <Model>`',
  embeds: 'write `embeds one <Model>` or `embeds many <Model>`',
  attributeRef: 'write `<attribute>` or `<attribute> as <column>`',
};

export function syntaxDiagnostic(
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
  const rule = ruleOf(error);
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
  const rule = ruleOf(error);
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
  if (rule === 'field' && isReal(previous)) {
    const name = quoted(previous.image).slice(1, -1);
    return `give \`${name}\` a type: \`${name} string\` (or another type)`;
  }
  if (rule === 'typeRef' && message.startsWith('expected `)`')) {
    const argument = isReal(token) && ['Identifier', 'NumberLiteral', 'StringLiteral'].includes(token.tokenType.name);
    return argument ? 'separate the arguments with `,`: `decimal(12, 2)`' : 'close the arguments with `)`';
  }
  return ruleHelp[rule];
}

/** A fragment is not a file: its text ends, and what follows a whole field or type is no declaration. */
export function inFragment(error: IRecognitionException, diagnostic: Diagnostic, rule: FragmentRule): Diagnostic {
  if (error.name !== 'NotAllInputParsedException') {
    return { ...diagnostic, message: diagnostic.message.replace('the end of the file', 'the end of the text') };
  }
  const extra = quoted(error.token.image);
  const guessed = diagnostic.suggestion !== outsideBlocks;
  return rule === 'field'
    ? {
        ...diagnostic,
        message: `expected a modifier (\`primary\`, \`private\`, \`column\`, \`belongs_to\`, \`embeds\`) after the type, found ${extra}`,
        suggestion: guessed ? diagnostic.suggestion : ruleHelp.modifier,
      }
    : {
        ...diagnostic,
        message: `expected the end of the type, found ${extra}`,
        suggestion:
          'a `type` holds only a type, such as `string?`; `primary`, `private` and `column` are keys of their own',
      };
}

/** The rule the parser was in. Its stack holds the grammar's rule names, typed as strings. */
function ruleOf(error: IRecognitionException): RuleName {
  return (error.context?.ruleStack?.at(-1) ?? 'file') as RuleName;
}

/** A fragment is read by one rule of the grammar. */
export type FragmentRule = Extract<RuleName, 'field' | 'typeRef'>;
