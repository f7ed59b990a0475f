/** Shrinking: the smallest input that still shows a failure of the same signature. */
import { get, isContainer, remove, set, slots } from './config-mutations.js';
import type { Json } from './seeds.js';
import { tokenize } from './text-mutations.js';

export function shrinkText(text: string, fails: (t: string) => boolean, budget: number): string {
  let best = text;
  let tries = 0;
  const attempt = (candidate: string): boolean => {
    if (tries >= budget || candidate === best) return false;
    tries += 1;
    if (!fails(candidate)) return false;
    best = candidate;
    return true;
  };
  // Lines, then tokens, then characters: remove chunks, halving their size.
  for (const unit of ['line', 'token', 'char'] as const) {
    const split = (t: string): string[] =>
      unit === 'line' ? t.split(/(?<=\n)/) : unit === 'token' ? tokenize(t) : [...t];
    let chunk = Math.max(1, Math.floor(split(best).length / 2));
    while (chunk >= 1 && tries < budget) {
      let removed = false;
      for (let i = 0; i < split(best).length && tries < budget;) {
        const parts = split(best);
        if (attempt([...parts.slice(0, i), ...parts.slice(i + chunk)].join(''))) removed = true;
        else i += chunk;
      }
      if (!removed) chunk = Math.floor(chunk / 2);
    }
  }
  return best;
}

export function shrinkConfig(value: Json, fails: (v: Json) => boolean, budget: number): Json {
  let best = structuredClone(value);
  let tries = 0;
  // Remove a node, or empty a container, while the failure remains; restart after each success.
  for (let i = 0; i < slots(best).length && tries < budget;) {
    let shrunk = false;
    for (const edit of ['remove', 'empty'] as const) {
      const candidate = structuredClone(best);
      const slot = slots(candidate)[i];
      if (!slot) break;
      const before = get(slot);
      if (edit === 'remove') remove(slot);
      else if (Array.isArray(before) && before.length > 0) set(slot, []);
      else if (isContainer(before) && !Array.isArray(before) && Object.keys(before).length > 0) set(slot, {});
      else continue;
      tries += 1;
      if (fails(candidate)) {
        best = candidate;
        shrunk = true;
        break;
      }
    }
    if (!shrunk) i += 1;
  }
  return best;
}
