/** A routes source held in memory: the compiler never reads files itself. */
export interface SourceFile {
  /** Path as the user should see it in messages (relative to the working directory). */
  readonly path: string;
  readonly text: string;
}

/**
 * A file's text as the compiler reads it: without the byte order mark (U+FEFF) that some
 * editors write first, which is no character of the routes and must not shift columns.
 */
export function withoutByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A place in a source file. Lines and columns are 1-based; `path` is set for config-object nodes. */
export interface Span {
  readonly file: string;
  readonly offset: number;
  readonly length: number;
  readonly line: number;
  readonly column: number;
  /** Where the node sits inside `defineConfig({...})`, e.g. `apps.crowdtap.publish[2].fields.email`. */
  readonly path?: string;
}

/**
 * Maps offsets to lines and columns with one sorted array of line starts, so that every span in
 * a file, whichever front end made it, is computed the same way.
 */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(
    readonly file: string,
    private readonly text: string,
  ) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  span(offset: number, length = 0, path?: string): Span {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= clamped) lo = mid;
      else hi = mid - 1;
    }
    const line = lo + 1;
    const column = clamped - (this.starts[lo] ?? 0) + 1;
    return path === undefined
      ? { file: this.file, offset: clamped, length, line, column }
      : { file: this.file, offset: clamped, length, line, column, path };
  }

  /** The text of a 1-based line, without its line break. */
  lineText(line: number): string {
    const start = this.starts[line - 1];
    if (start === undefined) return '';
    const next = this.starts[line];
    const end = next === undefined ? this.text.length : next - 1;
    return this.text.slice(start, end).replace(/\r$/, '');
  }
}
