/** Mutations of `.prom` text. */
import { reservedWords } from '../../../grammar/tokens.js';
import { numbers, oddNames, punctuation, scalarTypes, snippets, strings, unicode, whitespace } from './pools.js';
import { int, pick, type Rng } from './random.js';

const tokenPattern =
  /[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|-?\d+(?:\.\d+)?|\[\s*\]|#[^\n]*|\s+|[\s\S]/gu;

export function tokenize(text: string): string[] {
  return text.match(tokenPattern) ?? [];
}

function randomInsert(r: Rng, names: readonly string[]): string {
  switch (int(r, 9)) {
    case 0:
      return pick(r, reservedWords);
    case 1:
      return pick(r, punctuation);
    case 2:
      return names.length > 0 && r() < 0.7 ? pick(r, names) : pick(r, oddNames);
    case 3:
      return pick(r, unicode);
    case 4:
      return pick(r, strings);
    case 5:
      return pick(r, numbers);
    case 6:
      return pick(r, scalarTypes);
    case 7:
      return pick(r, snippets);
    default:
      return pick(r, whitespace);
  }
}

function pad(r: Rng, text: string): string {
  const space = (): string => (r() < 0.6 ? ' ' : r() < 0.5 ? '' : '\n');
  return `${space()}${text}${space()}`;
}

/** One random edit of `text`; `other` is another seed, for splices. */
export function mutateText(r: Rng, text: string, other: string): string {
  const tokens = tokenize(text);
  const solid = tokens.map((t, i) => (/^\s+$/.test(t) ? -1 : i)).filter((i) => i >= 0);
  const names = [...new Set(tokens.filter((t) => /^[A-Za-z_]\w*$/.test(t)))];
  const lines = text.split('\n');
  const at = (): number => (solid.length > 0 ? (pick(r, solid) as number) : 0);
  const join = (ts: string[]): string => ts.join('');
  switch (int(r, 17)) {
    case 0: {
      // delete a token
      const i = at();
      return join(tokens.filter((_, j) => j !== i));
    }
    case 1: {
      // duplicate a token
      const i = at();
      const sep = pick(r, [' ', '', ', ', '\n']);
      return join(tokens.flatMap((t, j) => (j === i ? [t, sep, t] : [t])));
    }
    case 2: {
      // swap two tokens
      const i = at();
      const j = at();
      const out = [...tokens];
      [out[i], out[j]] = [tokens[j] ?? '', tokens[i] ?? ''];
      return join(out);
    }
    case 3: {
      // replace a token
      const i = at();
      const out = [...tokens];
      out[i] = randomInsert(r, names);
      return join(out);
    }
    case 4:
    case 5:
    case 6: {
      // insert something between tokens
      const i = int(r, tokens.length + 1);
      const out = [...tokens];
      out.splice(i, 0, pad(r, randomInsert(r, names)));
      return join(out);
    }
    case 7: {
      // delete a line
      const i = int(r, lines.length);
      return lines.filter((_, j) => j !== i).join('\n');
    }
    case 8: {
      // duplicate a line
      const i = int(r, lines.length);
      return lines.flatMap((l, j) => (j === i ? [l, l] : [l])).join('\n');
    }
    case 9: {
      // swap two lines
      const i = int(r, lines.length);
      const j = int(r, lines.length);
      const out = [...lines];
      [out[i], out[j]] = [lines[j] ?? '', lines[i] ?? ''];
      return out.join('\n');
    }
    case 10: {
      // move a line somewhere else
      const out = [...lines];
      const [line] = out.splice(int(r, out.length), 1);
      out.splice(int(r, out.length + 1), 0, line ?? '');
      return out.join('\n');
    }
    case 11:
      // truncate
      return text.slice(0, int(r, text.length + 1));
    case 12: {
      // splice two sources, at line boundaries or anywhere
      if (r() < 0.5) {
        const otherLines = other.split('\n');
        return [...lines.slice(0, int(r, lines.length + 1)), ...otherLines.slice(int(r, otherLines.length + 1))].join(
          '\n',
        );
      }
      return text.slice(0, int(r, text.length + 1)) + other.slice(int(r, other.length + 1));
    }
    case 13: {
      // insert anywhere, even inside a token or a string
      const i = int(r, text.length + 1);
      return text.slice(0, i) + randomInsert(r, names) + text.slice(i);
    }
    case 14: {
      // delete a short range of characters
      const i = int(r, text.length + 1);
      return text.slice(0, i) + text.slice(i + 1 + int(r, 12));
    }
    case 15: {
      // change the case of a name, or misspell it
      const i = at();
      const out = [...tokens];
      const t = out[i] ?? '';
      if (!/^[A-Za-z_]\w*$/.test(t)) return join(out);
      const k = int(r, t.length);
      out[i] =
        r() < 0.5
          ? t.slice(0, k) +
            (t[k] === t[k]?.toUpperCase() ? (t[k] ?? '').toLowerCase() : (t[k] ?? '').toUpperCase()) +
            t.slice(k + 1)
          : t.slice(0, k) + t.slice(k + 1);
      return join(out);
    }
    default: {
      // wrap a range of tokens in braces or parentheses, or drop a closing one
      const i = at();
      const j = Math.min(tokens.length, i + 1 + int(r, 6));
      const [open, close] = pick(r, [
        ['{', '}'],
        ['(', ')'],
        ['{', ''],
        ['', '}'],
        ['"', '"'],
      ] as const);
      return join([...tokens.slice(0, i), open, ...tokens.slice(i, j), close, ...tokens.slice(j)]);
    }
  }
}

export function mutateTimes(r: Rng, text: string, other: string): string {
  // Mostly one to three edits, sometimes a storm of them.
  const n = r() < 0.85 ? 1 + int(r, 3) : 4 + int(r, 20);
  let out = text;
  for (let k = 0; k < n; k++) out = mutateText(r, out, other);
  return out;
}
