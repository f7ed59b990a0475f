/**
 * Declarations that may `extends` one another: resolved parents first, so that a subtype sees
 * its parent resolved, with each `extends` cycle reported once, where it closes; and followed
 * up to their root by the passes that read declarations not resolved yet.
 */
import type { Name } from '../ast/ast.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';

interface Extending {
  readonly extends?: Name;
}

/**
 * Calls `add` for each declaration after its parent. A declaration whose parent is still being
 * visited closes a cycle (P202) and is not added; `root` names what the chain should end at.
 */
export function parentsFirst<D extends Extending>(
  bag: DiagnosticBag,
  byName: ReadonlyMap<string, D>,
  root: 'model' | 'subscription',
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
        bag.error(
          'P202',
          parent.span,
          `\`${name}\` extends itself through ${cycle(name, byName)}`,
          `remove one \`extends\` so that the chain ends at a root ${root}`,
        );
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

/**
 * Where `start`'s `extends` chain ends: its root, or, when a parent is not in `byName` or the
 * chain loops, the last declaration reached (`complete: false`).
 */
export function chainRoot<D extends Extending>(
  byName: ReadonlyMap<string, D>,
  start: D,
): { root: D; complete: boolean } {
  let root = start;
  const chain = new Set([start]);
  while (root.extends) {
    const parent = byName.get(root.extends.text);
    if (!parent || chain.has(parent)) return { root, complete: false };
    chain.add(parent);
    root = parent;
  }
  return { root, complete: true };
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
