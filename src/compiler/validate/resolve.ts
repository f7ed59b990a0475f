/**
 * Checks a workspace and lowers it to the IR. Every problem becomes a diagnostic; a node with
 * an error is left out of the IR, and the CLI writes nothing when any error was found.
 *
 * The passes, in order, each needing what the one before resolved:
 * 1. per app, the publishers: embedded models, publications, ephemerals;
 * 2. across apps, the endpoints: one model tree per endpoint, then the catalog of what is published;
 * 3. per app, the subscribers: observers and subscriptions against that catalog, then their
 *    tables and where each published type lands.
 * An `AppContext` carries each app's state from pass to pass.
 */
import type { AppAst, WorkspaceAst } from '../ast/ast.js';
import { compare, DiagnosticBag, type Result } from '../diagnostics/diagnostic.js';
import type { App, Workspace } from '../ir/ir.js';
import { type CatalogEndpoint, Catalog } from './catalog.js';
import { type AppContext, appContext, type Located } from './context.js';
import { brokenTypes, checkEndpoints } from './endpoints.js';
import { checkAppName } from './naming.js';
import { resolvePublishers } from './publications.js';
import { resolveSubscribers } from './subscriptions.js';

export function resolve(ast: WorkspaceAst, external: readonly CatalogEndpoint[] = []): Result<Workspace> {
  const bag = new DiagnosticBag();
  const apps: AppContext[] = [];
  for (const [name, sections] of mergeApps(ast.apps)) {
    checkAppName(name, sections, bag);
    apps.push(appContext(name, sections, bag));
  }
  for (const app of apps) resolvePublishers(app);

  const catalog = new Map<string, CatalogEndpoint>();
  for (const endpoint of external) catalog.set(endpoint.name, endpoint);
  checkEndpoints(apps, catalog);

  const published = {
    catalog: new Catalog(catalog),
    knownApps: new Set([...apps.map((app) => app.name), ...external.map((e) => e.app)]),
    broken: apps.flatMap((app) => brokenTypes(app)),
  };
  for (const app of apps) resolveSubscribers(app, published);
  return { value: { apps: apps.map(appResult).sort((a, b) => compare(a.name, b.name)) }, diagnostics: bag.items };
}

/** An app may be split across sections and files: its sections are read as one. */
function mergeApps(sections: readonly AppAst[]): Map<string, AppAst[]> {
  const apps = new Map<string, AppAst[]>();
  for (const section of sections) {
    const list = apps.get(section.name.text) ?? [];
    list.push(section);
    apps.set(section.name.text, list);
  }
  return apps;
}

function appResult(app: AppContext): App {
  const sorted = <T extends { name: string }>(m: Map<string, Located<T>>): T[] =>
    [...m.values()].map((l) => l.value).sort((a, b) => compare(a.name, b.name));
  return {
    name: app.name,
    publications: sorted(app.publications),
    ephemerals: sorted(app.ephemerals),
    embedded: sorted(app.embedded),
    subscriptions: sorted(app.subscriptions),
    observers: sorted(app.observers),
    resolutions: app.resolutions,
  };
}
