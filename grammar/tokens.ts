import { createToken, type IToken, Lexer, type TokenType } from 'chevrotain';

/**
 * Tokens of the `.prom` language. Newlines separate fields inside `{ }` and are skipped
 * elsewhere, so the lexer keeps a mode stack: `top` outside blocks, `block` inside `{ }`,
 * `paren` inside `( )` (where newlines are skipped again, for long enum lists).
 */

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: 'a name' });

function keyword(name: string, word: string): TokenType {
  return createToken({ name, pattern: new RegExp(`${word}\\b`), longer_alt: Identifier, label: `\`${word}\`` });
}

export const App = keyword('App', 'app');
export const Include = keyword('Include', 'include');
export const Publish = keyword('Publish', 'publish');
export const Ephemeral = keyword('Ephemeral', 'ephemeral');
export const Embedded = keyword('Embedded', 'embedded');
export const Subscribe = keyword('Subscribe', 'subscribe');
export const Observe = keyword('Observe', 'observe');
export const As = keyword('As', 'as');
export const To = keyword('To', 'to');
export const From = keyword('From', 'from');
export const Into = keyword('Into', 'into');
export const Extends = keyword('Extends', 'extends');
export const When = keyword('When', 'when');
export const ForeignKey = keyword('ForeignKey', 'foreign_key');
export const Unmanaged = keyword('Unmanaged', 'unmanaged');
export const Primary = keyword('Primary', 'primary');
export const Private = keyword('Private', 'private');
export const Virtual = keyword('Virtual', 'virtual');
export const Use = keyword('Use', 'use');
export const Column = keyword('Column', 'column');
export const BelongsTo = keyword('BelongsTo', 'belongs_to');
export const Embeds = keyword('Embeds', 'embeds');
export const One = keyword('One', 'one');
export const Many = keyword('Many', 'many');

/**
 * Words that are keywords only where the grammar reads them (`count(...)` after a type, `via`
 * inside it, `coalesce` on a `publish` line) and names everywhere else: a column named `count`
 * stays a column. Each is also an `Identifier`, through Chevrotain's token categories.
 */
function softKeyword(name: string, word: string): TokenType {
  return createToken({
    name,
    pattern: new RegExp(`${word}\\b`),
    longer_alt: Identifier,
    categories: [Identifier],
    label: `\`${word}\``,
  });
}

export const Count = softKeyword('Count', 'count');
export const Sum = softKeyword('Sum', 'sum');
export const Min = softKeyword('Min', 'min');
export const Max = softKeyword('Max', 'max');
export const Via = softKeyword('Via', 'via');
export const Coalesce = softKeyword('Coalesce', 'coalesce');

export const softKeywords: readonly TokenType[] = [Count, Sum, Min, Max, Via, Coalesce];

export const keywords: readonly TokenType[] = [
  App,
  Include,
  Publish,
  Ephemeral,
  Embedded,
  Subscribe,
  Observe,
  As,
  To,
  From,
  Into,
  Extends,
  When,
  ForeignKey,
  Unmanaged,
  Primary,
  Private,
  Virtual,
  Use,
  Column,
  BelongsTo,
  Embeds,
  One,
  Many,
];

/** The words that cannot name a table, field or model. */
export const reservedWords: readonly string[] = keywords.map((k) => String(k.LABEL).slice(1, -1));

export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/,
  label: 'a quoted string',
});
/**
 * A string that the line (or a `{`) ends before its closing quote. It is lexed as a string, so
 * that parsing goes on, and reported once; stopping at `{` keeps `to "shop/product {` from
 * swallowing the block that follows.
 */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\\r\n{]|\\.)*|'(?:[^'\\\r\n{]|\\.)*/,
  label: 'a quoted string',
  categories: [StringLiteral],
});
/** A number with a unit, `200ms`, `2s`: read before numbers, so that `200ms` is one token. */
export const Duration = createToken({ name: 'Duration', pattern: /\d+(?:\.\d+)?[A-Za-z]+/, label: 'a duration' });
export const NumberLiteral = createToken({ name: 'NumberLiteral', pattern: /-?\d+(?:\.\d+)?/, label: 'a number' });

export const LCurly = createToken({ name: 'LCurly', pattern: /{/, label: '`{`', push_mode: 'block' });
export const RCurly = createToken({ name: 'RCurly', pattern: /}/, label: '`}`', pop_mode: true });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: '`(`', push_mode: 'paren' });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: '`)`', pop_mode: true });
export const ArraySuffix = createToken({ name: 'ArraySuffix', pattern: /\[\s*\]/, label: '`[]`' });
export const Question = createToken({ name: 'Question', pattern: /\?/, label: '`?`' });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: '`,`' });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: '`=`' });
export const Dot = createToken({ name: 'Dot', pattern: /\./, label: '`.`' });
export const Newline = createToken({ name: 'Newline', pattern: /\r?\n/, label: 'a new line' });

export const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: Lexer.SKIPPED });
export const Blank = createToken({ name: 'Blank', pattern: /[ \t]+/, group: Lexer.SKIPPED });
export const SkippedNewline = createToken({ name: 'SkippedNewline', pattern: /\r?\n/, group: Lexer.SKIPPED });

const common = [
  Blank,
  Comment,
  StringLiteral,
  UnterminatedString,
  Duration,
  NumberLiteral,
  ...keywords,
  ...softKeywords,
  Identifier,
  LCurly,
  LParen,
  ArraySuffix,
  Question,
  Comma,
  Equals,
  Dot,
];

export const allTokens: readonly TokenType[] = [...common, RCurly, RParen, Newline, SkippedNewline];

export const lexer = new Lexer(
  {
    modes: {
      top: [SkippedNewline, ...common],
      block: [Newline, ...common, RCurly],
      paren: [SkippedNewline, ...common, RParen],
    },
    defaultMode: 'top',
  },
  { positionTracking: 'onlyOffset', ensureOptimizations: false },
);

/**
 * Whether a token is in the text: one that error recovery invented has no position, and the
 * end of input is no token of the text. Messages and spans are anchored on real tokens only.
 */
export function isReal(token: IToken | undefined): token is IToken {
  return token !== undefined && !Number.isNaN(token.startOffset) && token.tokenType.name !== 'EOF';
}
