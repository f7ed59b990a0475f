/**
 * Where each object member of a JSON text is, by JSON pointer (`/$defs/User/properties/name`),
 * so that a finding about a schema can point at the line that declares what changed. The text
 * has been parsed with `JSON.parse` first: this scanner only walks valid JSON.
 */
export interface Located {
  /** The offset of the member's key, its opening quote included. */
  readonly offset: number;
  /** The length of the key, quotes included. */
  readonly length: number;
}

export function memberOffsets(text: string): Map<string, Located> {
  const found = new Map<string, Located>();
  let i = 0;
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text.charAt(i) !== '"') i += text.charAt(i) === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (pointer: string): void => {
    space();
    const c = text.charAt(i);
    if (c === '{' || c === '[') {
      i++;
      space();
      const close = c === '{' ? '}' : ']';
      for (let index = 0; i < text.length && text.charAt(i) !== close; index++) {
        if (c === '{') {
          const start = i;
          const key = string();
          found.set(`${pointer}/${escape(key)}`, { offset: start, length: i - start });
          space();
          i++; // the colon
          value(`${pointer}/${escape(key)}`);
        } else {
          value(`${pointer}/${index}`);
        }
        space();
        if (text.charAt(i) === ',') i++;
        space();
      }
      i++;
    } else if (c === '"') {
      string();
    } else {
      while (i < text.length && !',]} \t\n\r'.includes(text.charAt(i))) i++;
    }
  };
  value('');
  return found;
}

/** A JSON pointer of keys: `~` and `/` escaped as RFC 6901 says. */
export function pointer(...keys: readonly string[]): string {
  return keys.map((key) => `/${escape(key)}`).join('');
}

function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
