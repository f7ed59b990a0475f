/** How figures are printed. */
export const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
export const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
export const thousands = (n: number): string => Math.round(n).toLocaleString('en-US');
export const isoNow = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}
