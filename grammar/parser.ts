import { CstParser, type IParserErrorMessageProvider, type TokenType } from 'chevrotain';
import type { RuleName } from './rule-names.js';
import * as T from './tokens.js';

/** The tokens that start a top-level item: finding one inside `{ }` means a `}` is missing. */
export const declarationStarts: readonly TokenType[] = [
  T.App,
  T.Include,
  T.Publish,
  T.Ephemeral,
  T.Embedded,
  T.Subscribe,
  T.Observe,
];
const aDeclaration = 'a declaration (`app`, `publish`, `ephemeral`, `embedded`, `subscribe`, `observe` or `include`)';

/** Error messages in the compiler's voice: what was expected, what was found. */
const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    const rule = ruleName as RuleName;
    const found = describe(actual.image, actual.tokenType);
    if (expected === T.RCurly && (rule === 'fieldBlock' || rule === 'attributeBlock')) {
      const item = rule === 'fieldBlock' ? 'field' : 'attribute';
      if (actual.tokenType.name === 'EOF' || declarationStarts.includes(actual.tokenType)) {
        return `expected \`}\` to close the block, found ${found}`;
      }
      return item === 'field'
        ? `expected a modifier, a new line, \`,\` or \`}\` after this field, found ${found}`
        : `expected \`as\`, a new line, \`,\` or \`}\` after this attribute, found ${found}`;
    }
    if (expected.name === 'EOF') return `expected ${aDeclaration}, found ${found}`;
    return `expected ${label(expected)}, found ${found}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `expected ${aDeclaration}, found ${describe(firstRedundant.image, firstRedundant.tokenType)}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, previous, ruleName }) {
    const first = actual[0];
    const found = first ? describe(first.image, first.tokenType) : 'the end of the file';
    if ((ruleName as RuleName) === 'field')
      return `expected a type, \`belongs_to\` or \`embeds\` after ${quoted(previous.image)}, found ${found}`;
    const options = new Set(expectedPathsPerAlt.flatMap((alt) => alt.map((path) => label(path[0] as TokenType))));
    return `expected ${[...options].join(' or ')}, found ${found}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual }) {
    const first = actual[0];
    const options = new Set(expectedIterationPaths.map((path) => label(path[0] as TokenType)));
    return `expected ${[...options].join(' or ')}, found ${first ? describe(first.image, first.tokenType) : 'the end of the file'}`;
  },
};

function label(token: TokenType | undefined): string {
  return token ? String(token.LABEL ?? token.name) : 'more input';
}

function describe(image: string, type: TokenType): string {
  if (type.name === 'EOF' || image === '') return 'the end of the file';
  if (type === T.Newline) return 'the end of the line';
  return quoted(image);
}

/** The longest token a message quotes whole: the source line under it shows the rest. */
const quotedLength = 40;

/** A token in backticks; a long one is cut, so that the message stays one readable line. */
export function quoted(image: string): string {
  return `\`${image.length > quotedLength ? `${image.slice(0, quotedLength)}…` : image}\``;
}

/**
 * The `.prom` grammar (documented in grammar/README.md). A CST parser with error recovery,
 * so that one mistake does not hide the others; the AST builder in src/compiler/parse turns
 * its CST into the shared AST.
 */
export class RoutesParser extends CstParser {
  constructor() {
    super(T.allTokens as TokenType[], {
      recoveryEnabled: true,
      errorMessageProvider: messages,
      maxLookahead: 3,
      nodeLocationTracking: 'onlyOffset',
    });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.appHeader) },
        { ALT: () => this.SUBRULE(this.include) },
        { ALT: () => this.SUBRULE(this.publishDecl) },
        { ALT: () => this.SUBRULE(this.ephemeralDecl) },
        { ALT: () => this.SUBRULE(this.embeddedDecl) },
        { ALT: () => this.SUBRULE(this.subscribeDecl) },
        { ALT: () => this.SUBRULE(this.observeDecl) },
      ]);
    });
  });

  appHeader = this.RULE('appHeader', () => {
    this.CONSUME(T.App);
    this.CONSUME(T.Identifier);
  });

  include = this.RULE('include', () => {
    this.CONSUME(T.Include);
    this.CONSUME(T.StringLiteral);
  });

  publishDecl = this.RULE('publishDecl', () => {
    this.CONSUME(T.Publish);
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.asClause) },
        { ALT: () => this.SUBRULE(this.extendsClause) },
        { ALT: () => this.SUBRULE(this.whenClause) },
        { ALT: () => this.SUBRULE(this.toClause) },
        { ALT: () => this.SUBRULE(this.coalesceClause) },
      ]);
    });
    this.SUBRULE(this.fieldBlock);
  });

  ephemeralDecl = this.RULE('ephemeralDecl', () => {
    this.CONSUME(T.Ephemeral);
    this.CONSUME(T.Identifier);
    this.MANY(() => this.SUBRULE(this.toClause));
    this.SUBRULE(this.fieldBlock);
  });

  embeddedDecl = this.RULE('embeddedDecl', () => {
    this.CONSUME(T.Embedded);
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.fieldBlock);
  });

  subscribeDecl = this.RULE('subscribeDecl', () => {
    this.CONSUME(T.Subscribe);
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.asClause) },
        { ALT: () => this.SUBRULE(this.extendsClause) },
        { ALT: () => this.SUBRULE(this.whenClause) },
        { ALT: () => this.SUBRULE(this.fromClause) },
        { ALT: () => this.SUBRULE(this.intoClause) },
        { ALT: () => this.SUBRULE(this.foreignKeyClause) },
        { ALT: () => this.SUBRULE(this.unmanagedClause) },
      ]);
    });
    this.SUBRULE(this.attributeBlock);
  });

  observeDecl = this.RULE('observeDecl', () => {
    this.CONSUME(T.Observe);
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.asClause) }, { ALT: () => this.SUBRULE(this.fromClause) }]);
    });
    this.SUBRULE(this.attributeBlock);
  });

  asClause = this.RULE('asClause', () => {
    this.CONSUME(T.As);
    this.CONSUME(T.Identifier);
  });

  extendsClause = this.RULE('extendsClause', () => {
    this.CONSUME(T.Extends);
    this.CONSUME(T.Identifier);
  });

  whenClause = this.RULE('whenClause', () => {
    this.CONSUME(T.When);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.OR([{ ALT: () => this.CONSUME(T.StringLiteral) }, { ALT: () => this.CONSUME2(T.Identifier) }]);
  });

  toClause = this.RULE('toClause', () => {
    this.CONSUME(T.To);
    this.CONSUME(T.StringLiteral);
  });

  fromClause = this.RULE('fromClause', () => {
    this.CONSUME(T.From);
    this.CONSUME(T.StringLiteral);
  });

  intoClause = this.RULE('intoClause', () => {
    this.CONSUME(T.Into);
    this.CONSUME(T.Identifier);
  });

  foreignKeyClause = this.RULE('foreignKeyClause', () => {
    this.CONSUME(T.ForeignKey);
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.SUBRULE(this.typeRef));
  });

  /** `coalesce 200ms`: the window after which the model's derived attributes are refreshed. */
  coalesceClause = this.RULE('coalesceClause', () => {
    this.CONSUME(T.Coalesce);
    // A number without a unit is read too, so that the compiler can say which unit it lacks.
    this.OR([{ ALT: () => this.CONSUME(T.Duration) }, { ALT: () => this.CONSUME(T.NumberLiteral) }]);
  });

  /** The subscriber's own table: the generated migrations neither create nor alter it. */
  unmanagedClause = this.RULE('unmanagedClause', () => {
    this.CONSUME(T.Unmanaged);
  });

  /** `{ field \n field, field }`: fields are separated by new lines or commas. */
  fieldBlock = this.RULE('fieldBlock', () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.separator));
    this.OPTION(() => {
      this.SUBRULE(this.field);
      this.MANY2(() => {
        this.AT_LEAST_ONE(() => this.SUBRULE2(this.separator));
        this.OPTION2(() => this.SUBRULE2(this.field));
      });
    });
    this.CONSUME(T.RCurly);
  });

  attributeBlock = this.RULE('attributeBlock', () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.separator));
    this.OPTION(() => {
      this.SUBRULE(this.attributeRef);
      this.MANY2(() => {
        this.AT_LEAST_ONE(() => this.SUBRULE2(this.separator));
        this.OPTION2(() => this.SUBRULE2(this.attributeRef));
      });
    });
    this.CONSUME(T.RCurly);
  });

  separator = this.RULE('separator', () => {
    this.OR([{ ALT: () => this.CONSUME(T.Newline) }, { ALT: () => this.CONSUME(T.Comma) }]);
  });

  field = this.RULE('field', () => {
    this.CONSUME(T.Identifier);
    this.OR([
      { ALT: () => this.SUBRULE(this.typeRef) },
      { ALT: () => this.SUBRULE(this.belongsTo) },
      { ALT: () => this.SUBRULE(this.embeds) },
      { ALT: () => this.SUBRULE(this.copy) },
    ]);
    this.MANY(() => this.SUBRULE(this.modifier));
  });

  typeRef = this.RULE('typeRef', () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.typeArg) });
      this.CONSUME(T.RParen);
    });
    this.OPTION2(() => this.CONSUME(T.ArraySuffix));
    this.OPTION3(() => this.CONSUME(T.Question));
  });

  typeArg = this.RULE('typeArg', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.NumberLiteral) },
    ]);
  });

  modifier = this.RULE('modifier', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Primary) },
      { ALT: () => this.CONSUME(T.Private) },
      { ALT: () => this.SUBRULE(this.virtual) },
      { ALT: () => this.SUBRULE(this.column) },
      { ALT: () => this.SUBRULE(this.belongsTo) },
      { ALT: () => this.SUBRULE(this.embeds) },
      { ALT: () => this.SUBRULE(this.copy) },
      { ALT: () => this.SUBRULE(this.aggregate) },
    ]);
  });

  virtual = this.RULE('virtual', () => {
    this.CONSUME(T.Virtual);
    this.CONSUME(T.LParen);
    this.CONSUME(T.Use);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.path) });
    this.CONSUME(T.RParen);
  });

  /** `from customer.region.name`: a column of the row a path of `belongs_to` relations leads to. */
  copy = this.RULE('copy', () => {
    this.CONSUME(T.From);
    this.SUBRULE(this.path);
  });

  /** `count(OrderLine)`, `sum(OrderLine.amount via order_id)`: over the rows that belong to this one. */
  aggregate = this.RULE('aggregate', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Count) },
      { ALT: () => this.CONSUME(T.Sum) },
      { ALT: () => this.CONSUME(T.Min) },
      { ALT: () => this.CONSUME(T.Max) },
    ]);
    this.CONSUME(T.LParen);
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Dot);
      this.CONSUME2(T.Identifier);
    });
    this.OPTION2(() => {
      this.CONSUME(T.Via);
      this.CONSUME3(T.Identifier);
    });
    this.CONSUME(T.RParen);
  });

  /** `customer.first_name`: names joined by dots. */
  path = this.RULE('path', () => {
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.CONSUME2(T.Identifier);
    });
  });

  column = this.RULE('column', () => {
    this.CONSUME(T.Column);
    this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.StringLiteral) }]);
  });

  belongsTo = this.RULE('belongsTo', () => {
    this.CONSUME(T.BelongsTo);
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.CONSUME(T.Question));
  });

  embeds = this.RULE('embeds', () => {
    this.CONSUME(T.Embeds);
    this.OR([{ ALT: () => this.CONSUME(T.One) }, { ALT: () => this.CONSUME(T.Many) }]);
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.CONSUME(T.Question));
  });

  attributeRef = this.RULE('attributeRef', () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.As);
      this.CONSUME2(T.Identifier);
    });
  });
}

/** One parser for the process: Chevrotain parsers are reusable and costly to build. */
export const parser = new RoutesParser();
