import type { App, Workspace } from '../ir/ir.js';
import { pascalCase } from '../ir/names.js';
import { propertyKey } from './literal.js';
import { printModule, type Statement } from './module.js';
import { isComputed } from './publisher.js';

/**
 * `hooks.ts`, beside the apps' folders: the types of the functions each app supplies at run
 * time (its virtual attributes' functions, its callbacks), under names of their own
 * (`CrowdtapVirtuals`, `SniperCallbacks`), and `RuntimeHooks`, which gathers them by app for
 * `defineConfig<RuntimeHooks>()`: the config then accepts exactly the names the routes declare.
 */
export function emitHooks(workspace: Workspace, header: string): string {
  const names = new TypeNames();
  const virtuals = workspace.apps.filter(hasVirtuals).map((app) => ({
    app: app.name,
    type: names.take(app.name, 'Virtuals'),
    from: `./${app.name}/publisher.js`,
    original: 'Virtuals',
  }));
  const callbacks = workspace.apps.filter(subscribes).map((app) => ({
    app: app.name,
    type: names.take(app.name, 'Callbacks'),
    from: `./${app.name}/subscriber.js`,
    original: 'Callbacks',
  }));
  const all = [...virtuals, ...callbacks].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  const byApp = (list: typeof all) =>
    list.length === 0
      ? 'Record<string, never>'
      : `{\n${list.map((h) => `    ${propertyKey(h.app)}?: ${h.type};`).join('\n')}\n  }`;
  const statements: Statement[] = [
    ...all.map((h) => `import type { ${h.original} as ${h.type} } from '${h.from}';`),
    ...(all.length > 0 ? [`export type { ${all.map((h) => h.type).join(', ')} };`] : []),
    [
      '/**',
      ' * The functions each app supplies at run time, by app. `defineConfig<RuntimeHooks>()({ ... })`',
      ' * checks the config against them; the app passes the same objects to `new Publisher({ virtuals })`',
      ' * and `new Subscriber({ callbacks })`.',
      ' */',
      'export interface RuntimeHooks {',
      `  virtuals: ${byApp(virtuals)};`,
      `  callbacks: ${byApp(callbacks)};`,
      '}',
    ].join('\n'),
  ];
  return printModule(header, statements);
}

function hasVirtuals(app: App): boolean {
  return app.publications.some((p) => p.fields.some((f) => f.own && isComputed(f)));
}

function subscribes(app: App): boolean {
  return app.subscriptions.length + app.observers.length > 0;
}

/**
 * Type names from app names. `a_1` and `a1` would both be `A1`: the second keeps its
 * underscores (`A_1`), which no other app name gives.
 */
class TypeNames {
  private readonly taken = new Set<string>();

  take(app: string, suffix: string): string {
    let name = `${pascalCase(app)}${suffix}`;
    if (this.taken.has(name)) name = `${app.charAt(0).toUpperCase()}${app.slice(1)}${suffix}`;
    this.taken.add(name);
    return name;
  }
}
