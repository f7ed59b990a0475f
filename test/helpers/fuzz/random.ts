/** The PRNG: mulberry32, one stream per mutant so that any mutant can be replayed alone. */
import { replay } from './settings.js';

export type Rng = () => number;

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function mutantSeed(master: number, kind: number, i: number): number {
  // Hash each input in turn (murmur3's finaliser), so that no two (master, kind, i) collide simply.
  const mix = (h: number): number => {
    let x = h >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    return (x ^ (x >>> 16)) >>> 0;
  };
  return mix(mix(mix(master) + kind * 0x9e3779b1) + i);
}

export const int = (r: Rng, n: number): number => Math.floor(r() * n);
export function pick<T>(r: Rng, items: readonly T[]): T {
  return items[int(r, items.length)] as T;
}

export function range(n: number): number[] {
  return replay !== undefined ? [replay] : Array.from({ length: n }, (_, i) => i);
}
