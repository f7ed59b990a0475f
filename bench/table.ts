/**
 * A table, aligned for the terminal or in Markdown. A module of its own, which loads nothing,
 * so that bench/compile/ can use it without the weight of bench/lib/ in the processes
 * whose memory it measures.
 */
export function table(rows: readonly (readonly string[])[], markdown: boolean): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  if (markdown) {
    const line = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
    return [line(rows[0] ?? []), line(widths.map(() => '---')), ...rows.slice(1).map(line)].join('\n');
  }
  return rows
    .map((r, i) => {
      const line = r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join('  ');
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}
