import type { App, Workspace } from '../ir/ir.js';
import { pascalCase } from '../ir/names.js';
import { propertyKey } from './literal.js';
import { printModule, type Statement } from './module.js';
import { isComputed } from './publisher.js';

/**
 * `hooks.ts`, beside the apps' folders: the types of the functions each app supplies at run
 * time (its virtual attributes' functions, its callbacks and sinks), under names of their own
 * (`CrowdtapVirtuals`, `SniperCallbacks`, `SniperSinks`), and `RuntimeHooks`, which gathers
 * them by app for `defineConfig<RuntimeHooks>()`: the config then accepts exactly the names
 * the routes declare.
 */
export function emitHooks(workspace: Workspace, header: string): string {
  const names = new TypeNames();
  const virtuals = workspace.apps.filter(hasVirtuals).map((app) => ({
    app: app.name,
    type: names.take(app.name, 'Virtuals'),
    from: `./${app.name}/publisher.js`,
    original: 'Virtuals',
  }));
  const subscribers = workspace.apps.filter(subscribes);
  const callbacks = subscribers.map((app) => ({
    app: app.name,
    type: names.take(app.name, 'Callbacks'),
    from: `./${app.name}/subscriber.js`,
    original: 'Callbacks',
  }));
  const sinks = subscribers.map((app) => ({
    app: app.name,
    type: names.take(app.name, 'Sinks'),
    from: `./${app.name}/subscriber.js`,
    original: 'Sinks',
  }));
  const all = [...virtuals, ...callbacks, ...sinks].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  const byApp = (list: typeof all) =>
    list.length === 0
      ? 'Record<string, never>'
      : `{\n${list.map((h) => `    ${propertyKey(h.app)}?: ${h.type};`).join('\n')}\n  }`;
  const modules = [...new Set(all.map((h) => h.from))];
  const statements: Statement[] = [
    ...modules.map((from) => {
      const imported = all.filter((h) => h.from === from).map((h) => `${h.original} as ${h.type}`);
      return `import type { ${imported.join(', ')} } from '${from}';`;
    }),
    ...(all.length > 0 ? [`export type { ${all.map((h) => h.type).join(', ')} };`] : []),
    [
      '/**',
      ' * The functions each app supplies at run time, by app. `defineConfig<RuntimeHooks>()({ ... })`',
      ' * checks the config against them; the app passes the same objects to `new Publisher({ virtuals })`',
      ' * and `new Subscriber({ callbacks, sinks })`.',
      ' */',
      'export interface RuntimeHooks {',
      `  virtuals: ${byApp(virtuals)};`,
      `  callbacks: ${byApp(callbacks)};`,
      `  sinks: ${byApp(sinks)};`,
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
