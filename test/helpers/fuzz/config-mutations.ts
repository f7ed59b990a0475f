/** Mutations of `defineConfig` objects. */
import { oddNames } from './pools.js';
import { int, pick, type Rng } from './random.js';
import type { Json } from './seeds.js';
import { mutateText } from './text-mutations.js';

type Container = Json[] | { [key: string]: Json };
interface Slot {
  readonly parent: Container;
  readonly key: string | number;
}

export function isContainer(value: Json): value is Container {
  return typeof value === 'object' && value !== null;
}

export function slots(value: Json): Slot[] {
  const out: Slot[] = [];
  const walk = (node: Json): void => {
    if (!isContainer(node)) return;
    for (const key of Array.isArray(node) ? node.keys() : Object.keys(node)) {
      out.push({ parent: node, key });
      walk((node as Record<string | number, Json>)[key]);
    }
  };
  walk(value);
  return out;
}

export function get(slot: Slot): Json {
  return (slot.parent as Record<string | number, Json>)[slot.key];
}

export function set(slot: Slot, value: Json): void {
  (slot.parent as Record<string | number, Json>)[slot.key] = value;
}

export function remove(slot: Slot): void {
  if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
  else delete slot.parent[slot.key as string];
}

const knownKeys = [
  'apps',
  'publish',
  'ephemerals',
  'embedded',
  'subscribe',
  'observe',
  'table',
  'as',
  'extends',
  'when',
  'to',
  'fields',
  'type',
  'from',
  'into',
  'foreignKey',
  'attributes',
  'column',
  'value',
  'primary',
  'private',
  'virtual',
  'use',
  'belongsTo',
  'embedsOne',
  'embedsMany',
];
const configStrings = [
  '',
  ' ',
  'string',
  'strng',
  'integer primary',
  'uuid primary',
  'string?',
  'string[]?',
  'string?[]',
  'enum(a, b)',
  'enum()',
  'enum(a, a)',
  'decimal(12, 2)',
  'decimal',
  'decimal(1)',
  'string primary private',
  'string column "x"',
  'string virtual(use name)',
  'belongs_to User',
  'belongs_to Nope?',
  'embeds many Address',
  'embeds one Address?',
  'integer belongs_to Organization',
  'string primary primary',
  '???',
  '{',
  'string #',
  'User',
  'Member',
  'Address',
  'Organization?',
  'users',
  'crowdtap/user',
  'crowdtap/nope',
  'sniper/user',
  '*/user',
  '*/*',
  'crowdtap.user.*',
  '*.user.#',
  'a/b/c',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'from',
  'app',
  '日本',
  '😀',
  'x\ny',
  "it's",
  'a"b',
  '\\',
  '\u2028',
  '\ud800',
];

function randomValue(r: Rng, depth = 0): Json {
  switch (int(r, depth > 1 ? 7 : 10)) {
    case 0:
    case 1:
    case 2:
      return pick(r, configStrings);
    case 3:
      return pick(r, [0, 1, -1, 2.5, 1e21, Number.NaN, Number.POSITIVE_INFINITY]);
    case 4:
      return r() < 0.5;
    case 5:
      return null;
    case 6:
      return undefined;
    case 7:
      return Array.from({ length: int(r, 3) }, () => randomValue(r, depth + 1));
    default: {
      const out: { [key: string]: Json } = {};
      for (let k = int(r, 3); k > 0; k--) out[randomKey(r)] = randomValue(r, depth + 1);
      return out;
    }
  }
}

function randomKey(r: Rng): string {
  const roll = r();
  if (roll < 0.5) return pick(r, knownKeys);
  if (roll < 0.8)
    return pick(
      r,
      oddNames.filter((n) => n !== '__proto__'),
    );
  return pick(r, ['1', '0', 'a b', 'with-dash', '$x', 'é', '😀', '', 'fields ', 'Fields', 'colum', 'belongs_to']);
}

export function mutateConfig(r: Rng, root: { value: Json }): void {
  const all = slots(root.value);
  const containers = [root.value, ...all.map(get)].filter(isContainer);
  const slot = all.length > 0 ? pick(r, all) : undefined;
  switch (int(r, 11)) {
    case 0: // missing key or element
      if (slot) remove(slot);
      return;
    case 1:
    case 2: {
      // wrong type
      if (slot) set(slot, randomValue(r));
      else root.value = randomValue(r);
      return;
    }
    case 3: {
      // unknown (or misplaced) key
      const target = pick(r, containers);
      if (target && !Array.isArray(target)) target[randomKey(r)] = randomValue(r);
      else if (target) target.push(randomValue(r));
      return;
    }
    case 4: {
      // rename a key: a typo, or another known key
      if (!slot || Array.isArray(slot.parent)) return;
      const old = slot.key as string;
      const renamed = r() < 0.5 && old.length > 1 ? old.slice(0, -1) : randomKey(r);
      const value = get(slot);
      delete slot.parent[old];
      slot.parent[renamed] = value;
      return;
    }
    case 5:
    case 6: {
      // edit a string in place, with the text mutations
      const strs = all.filter((s) => typeof get(s) === 'string');
      if (strs.length === 0) return;
      const s = pick(r, strs);
      set(s, mutateText(r, get(s) as string, pick(r, configStrings)));
      return;
    }
    case 7: {
      // duplicate an array element
      const arrays = containers.filter(Array.isArray);
      const a = arrays.length > 0 ? pick(r, arrays) : undefined;
      if (a && a.length > 0) a.push(structuredClone(pick(r, a)));
      return;
    }
    case 8: {
      // swap two values
      const other = all.length > 0 ? pick(r, all) : undefined;
      if (!slot || !other) return;
      const a = get(slot);
      const b = get(other);
      if (isContainer(a) && slots(a).some((s) => get(s) === b)) return; // would make a cycle
      if (isContainer(b) && slots(b).some((s) => get(s) === a)) return;
      if (a === b) return;
      set(slot, structuredClone(b));
      set(other, structuredClone(a));
      return;
    }
    case 9: {
      // copy a subtree somewhere else (an app's publish into another app, a field into a subscription, ...)
      const target = pick(r, containers);
      if (!slot || !target) return;
      const value = structuredClone(get(slot));
      if (Array.isArray(target)) target.push(value);
      else target[String(slot.key)] = value;
      return;
    }
    default: {
      // a string becomes the typed-object form, or the other way round
      const strs = all.filter((s) => typeof get(s) === 'string');
      if (strs.length === 0) return;
      const s = pick(r, strs);
      set(s, r() < 0.5 ? { type: get(s) } : [get(s)]);
    }
  }
}
