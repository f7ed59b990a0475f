/** Levenshtein distance with two rows; names are short, so this is cheap. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest candidate, if it is close enough to be what the user meant. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance || (distance === bestDistance && best !== undefined && candidate < best)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** "did you mean `x`?" when a close candidate exists, otherwise the list of what is allowed. */
export function didYouMean(name: string, candidates: readonly string[], what = 'one of'): string | undefined {
  const match = closest(name, candidates);
  if (match !== undefined) return `did you mean \`${match}\`?`;
  if (candidates.length === 0) return undefined;
  const sorted = [...candidates].sort();
  const shown = sorted.slice(0, 8).map((c) => `\`${c}\``);
  return `use ${what} ${shown.join(', ')}${sorted.length > 8 ? ', ...' : ''}`;
}
