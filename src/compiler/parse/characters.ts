/**
 * How a character that no token starts with is named in a diagnostic. Editors, word processors
 * and web pages slip characters into routes that look like nothing or like something else (a
 * no-break space, a zero-width space, a curly quote): those are named by code point and
 * Unicode name, since printing them shows nothing useful, and each gets the fix that applies.
 */

/** The Unicode names of the characters that most often arrive unseen or in disguise. */
const names: ReadonlyMap<number, string> = new Map([
  [0x0000, 'NULL'],
  [0x000b, 'LINE TABULATION'],
  [0x000c, 'FORM FEED'],
  [0x001b, 'ESCAPE'],
  [0x007f, 'DELETE'],
  [0x00a0, 'NO-BREAK SPACE'],
  [0x00ad, 'SOFT HYPHEN'],
  [0x034f, 'COMBINING GRAPHEME JOINER'],
  [0x061c, 'ARABIC LETTER MARK'],
  [0x1680, 'OGHAM SPACE MARK'],
  [0x180e, 'MONGOLIAN VOWEL SEPARATOR'],
  [0x2000, 'EN QUAD'],
  [0x2001, 'EM QUAD'],
  [0x2002, 'EN SPACE'],
  [0x2003, 'EM SPACE'],
  [0x2004, 'THREE-PER-EM SPACE'],
  [0x2005, 'FOUR-PER-EM SPACE'],
  [0x2006, 'SIX-PER-EM SPACE'],
  [0x2007, 'FIGURE SPACE'],
  [0x2008, 'PUNCTUATION SPACE'],
  [0x2009, 'THIN SPACE'],
  [0x200a, 'HAIR SPACE'],
  [0x200b, 'ZERO WIDTH SPACE'],
  [0x200c, 'ZERO WIDTH NON-JOINER'],
  [0x200d, 'ZERO WIDTH JOINER'],
  [0x200e, 'LEFT-TO-RIGHT MARK'],
  [0x200f, 'RIGHT-TO-LEFT MARK'],
  [0x2013, 'EN DASH'],
  [0x2014, 'EM DASH'],
  [0x2018, 'LEFT SINGLE QUOTATION MARK'],
  [0x2019, 'RIGHT SINGLE QUOTATION MARK'],
  [0x201c, 'LEFT DOUBLE QUOTATION MARK'],
  [0x201d, 'RIGHT DOUBLE QUOTATION MARK'],
  [0x2028, 'LINE SEPARATOR'],
  [0x2029, 'PARAGRAPH SEPARATOR'],
  [0x202a, 'LEFT-TO-RIGHT EMBEDDING'],
  [0x202b, 'RIGHT-TO-LEFT EMBEDDING'],
  [0x202c, 'POP DIRECTIONAL FORMATTING'],
  [0x202d, 'LEFT-TO-RIGHT OVERRIDE'],
  [0x202e, 'RIGHT-TO-LEFT OVERRIDE'],
  [0x202f, 'NARROW NO-BREAK SPACE'],
  [0x205f, 'MEDIUM MATHEMATICAL SPACE'],
  [0x2060, 'WORD JOINER'],
  [0x2066, 'LEFT-TO-RIGHT ISOLATE'],
  [0x2067, 'RIGHT-TO-LEFT ISOLATE'],
  [0x2068, 'FIRST STRONG ISOLATE'],
  [0x2069, 'POP DIRECTIONAL ISOLATE'],
  [0x2212, 'MINUS SIGN'],
  [0x3000, 'IDEOGRAPHIC SPACE'],
  [0xfeff, 'ZERO WIDTH NO-BREAK SPACE'],
  [0xfffd, 'REPLACEMENT CHARACTER'],
]);

/** Characters that stand for an ASCII one: curly quotes and dashes. */
const lookalikes: ReadonlyMap<number, string> = new Map([
  [0x2018, "'"],
  [0x2019, "'"],
  [0x201c, '"'],
  [0x201d, '"'],
  [0x2013, '-'],
  [0x2014, '-'],
  [0x2212, '-'],
]);

/** What a diagnostic says of an unexpected character, and how to fix it. */
export interface CharacterReport {
  readonly message: string;
  readonly suggestion: string;
}

/** `U+200B ZERO WIDTH SPACE`: the code point, and the Unicode name when it is known here. */
export function codePointName(codePoint: number): string {
  const hex = codePoint.toString(16).toUpperCase().padStart(4, '0');
  const name = names.get(codePoint);
  return name === undefined ? `U+${hex}` : `U+${hex} ${name}`;
}

/** A diagnostic's words for one character outside printable ASCII. */
export function describeCharacter(char: string): CharacterReport {
  const codePoint = char.codePointAt(0) ?? 0;
  const named = codePointName(codePoint);
  if (/[\p{Zs}\p{Zl}\p{Zp}\v\f]/u.test(char)) {
    return {
      message: `unexpected ${named}: it looks like a space but is not one`,
      suggestion: 'replace it with a plain space',
    };
  }
  if (/[\p{Cc}\p{Cf}]/u.test(char)) {
    return { message: `unexpected invisible character ${named}`, suggestion: 'delete it' };
  }
  if (codePoint === 0xfffd) {
    return {
      message: `unexpected ${named}: the file held bytes that are not UTF-8`,
      suggestion: 'save the file as UTF-8 and retype what stood here',
    };
  }
  const straight = lookalikes.get(codePoint);
  if (straight !== undefined) {
    return { message: `unexpected character "${char}" (${named})`, suggestion: `replace it with \`${straight}\`` };
  }
  return {
    message: `unexpected character "${char}" (${named})`,
    suggestion: 'names are ASCII letters, digits and `_`: remove it, or quote it inside a string',
  };
}

/** Whether a character is one of printable ASCII, which the message may show as it is. */
export function isPrintableAscii(char: string): boolean {
  return /^[\x20-\x7e]$/.test(char);
}
