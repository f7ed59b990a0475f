/**
 * Resolves declarations that may `extends` one another parents first, so that a subtype sees
 * its parent resolved, and reports each `extends` cycle once, where it closes.
 */
import type { Name } from '../ast/ast.js';

interface Extending {
  readonly extends?: Name;
}

/**
 * Calls `add` for each declaration after its parent. A declaration whose parent is still being
 * visited closes a cycle: `onCycle` gets it, its `extends` and the chain, and it is not added.
 */
export function parentsFirst<D extends Extending>(
  byName: ReadonlyMap<string, D>,
  onCycle: (name: string, parent: Name, chain: string) => void,
  add: (name: string, decl: D) => void,
): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, decl: D): void => {
    if (state.has(name)) return;
    state.set(name, 'visiting');
    const parent = decl.extends;
    const parentDecl = parent === undefined ? undefined : byName.get(parent.text);
    if (parent !== undefined && parentDecl) {
      if (state.get(parent.text) === 'visiting') {
        onCycle(name, parent, cycle(name, byName));
        state.set(name, 'done');
        return;
      }
      visit(parent.text, parentDecl);
    }
    add(name, decl);
    state.set(name, 'done');
  };
  for (const [name, decl] of byName) visit(name, decl);
}

/** `\`A\` -> \`B\` -> \`A\``: the `extends` chain from `start` back to where it loops. */
function cycle(start: string, byName: ReadonlyMap<string, Extending>): string {
  const seen = [start];
  let current = byName.get(start)?.extends?.text;
  while (current !== undefined && !seen.includes(current)) {
    seen.push(current);
    current = byName.get(current)?.extends?.text;
  }
  return [...seen, current ?? start].map((n) => `\`${n}\``).join(' -> ');
}
