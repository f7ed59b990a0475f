/**
 * Endpoints on the publishing side: the one a declaration names (P301, P302), one model tree per
 * endpoint (P303), and what each app adds to the catalog that subscribers are checked against,
 * including the types it meant to publish but could not.
 */
import type { Name } from '../ast/ast.js';
import type { Endpoint, Field } from '../ir/ir.js';
import { snakeCase } from '../ir/names.js';
import type { Span } from '../source/source-file.js';
import type { CatalogEndpoint, CatalogType } from './catalog.js';
import { type AppContext, type BrokenType, written } from './context.js';
import { publicationName, rootName } from './naming.js';
import { chainRoot } from './order.js';

/** The endpoint a model is published to: `to`, or else `<app>/<model>`. */
export function resolveEndpoint(app: AppContext, to: Name | undefined, model: string): Endpoint | undefined {
  if (!to) return defaultEndpoint(app, model);
  const [owner, modelPart, ...rest] = to.text.split('/');
  if (owner === undefined || modelPart === undefined || rest.length > 0 || !/^[a-z0-9_]+$/.test(modelPart)) {
    const suggested = defaultEndpoint(app, model).name;
    app.bag.error(
      'P301',
      to.span,
      `\`${to.text}\` is not an endpoint`,
      `write ${written(to.span, `\`to "${suggested}"\``, `\`to: '${suggested}'\``)}: the app, a slash, then lowercase letters, digits and \`_\``,
    );
    return undefined;
  }
  if (owner !== app.name) {
    app.bag.error(
      'P302',
      to.span,
      `app \`${app.name}\` cannot publish to \`${to.text}\`: endpoints under \`${owner}/\` belong to app \`${owner}\``,
      `publish to \`${app.name}/${modelPart}\`, or move this declaration into app \`${owner}\``,
    );
    return undefined;
  }
  return { name: to.text, app: owner, model: modelPart };
}

/** Where a model is published when it names no endpoint: `<app>/<model>`. */
function defaultEndpoint(app: AppContext, model: string): Endpoint {
  return { name: `${app.name}/${snakeCase(model)}`, app: app.name, model: snakeCase(model) };
}

/** Checks that each endpoint carries one model tree, then adds the workspace's endpoints to the catalog. */
export function checkEndpoints(apps: readonly AppContext[], catalog: Map<string, CatalogEndpoint>): void {
  for (const app of apps) {
    checkOwners(app);
    // A publisher in the workspace is newer than any schemas exported from it: it wins.
    for (const endpoint of catalogEndpoints(app)) catalog.set(endpoint.name, endpoint);
  }
}

/** One endpoint carries one model and its subtypes: the first root published there owns it. */
function checkOwners(app: AppContext): void {
  const owners = new Map<string, { span: Span; root: string }>();
  for (const { value, span } of [...app.publications.values(), ...app.ephemerals.values()]) {
    const root = value.kind === 'publication' ? rootName(value) : value.name;
    const previous = owners.get(value.endpoint.name);
    if (!previous) owners.set(value.endpoint.name, { span, root });
    else if (previous.root !== root) {
      const suggested = defaultEndpoint(app, value.name).name;
      app.bag.error(
        'P303',
        span,
        `\`${value.endpoint.name}\` is already published by \`${previous.root}\``,
        `publish \`${value.name}\` to its own endpoint with ${written(span, `\`to "${suggested}"\``, `\`to: '${suggested}'\``)} (one endpoint carries one model and its subtypes)`,
        [{ message: 'first published here', span: previous.span }],
      );
    }
  }
}

function catalogEndpoints(app: AppContext): CatalogEndpoint[] {
  const endpoints = new Map<string, CatalogType[]>();
  const add = (endpoint: Endpoint, type: CatalogType): void => {
    const list = endpoints.get(endpoint.name) ?? [];
    list.push(type);
    endpoints.set(endpoint.name, list);
  };
  for (const { value: p } of app.publications.values()) {
    const id = p.fields.find((f) => f.name === p.primaryKey);
    add(p.endpoint, {
      name: p.name,
      ancestors: p.ancestors,
      ephemeral: false,
      ...(id ? { idType: id.type } : {}),
      attributes: publishedFields(p.fields),
      privateFields: p.fields.filter((f) => f.private).map((f) => f.name),
    });
  }
  for (const { value: e } of app.ephemerals.values()) {
    add(e.endpoint, { name: e.name, ancestors: [e.name], ephemeral: true, attributes: publishedFields(e.fields) });
  }
  return [...endpoints].map(([name, types]) => catalogEndpoint(name, types));
}

function publishedFields(fields: readonly Field[]): CatalogType['attributes'] {
  return fields
    .filter((f) => !f.private)
    .map((f) => ({
      name: f.name,
      type: f.type,
      nullable: f.nullable,
      ...(f.relation ? { relation: f.relation.model } : {}),
    }));
}

/** The types this app declares but could not publish, and where they would have been published. */
export function brokenTypes(app: AppContext): BrokenType[] {
  const out: BrokenType[] = [];
  for (const [name, decl] of app.publishDecls) {
    if (app.publications.has(name)) continue;
    // A broken chain still names the furthest declaration reached: its endpoint is the best guess.
    const { root } = chainRoot(app.publishDecls, decl);
    const to = root.to?.text ?? defaultEndpoint(app, publicationName(root).text).name;
    out.push({ type: name, endpoint: catalogEndpoint(to) });
  }
  for (const decl of app.decls) {
    if (decl.kind !== 'ephemeral' || app.ephemerals.has(decl.name.text)) continue;
    out.push({
      type: decl.name.text,
      endpoint: catalogEndpoint(decl.to?.text ?? defaultEndpoint(app, decl.name.text).name),
    });
  }
  return out;
}

/** A catalog endpoint by its name, `<app>/<model>`. */
function catalogEndpoint(name: string, types: readonly CatalogType[] = []): CatalogEndpoint {
  const [app = '', model = ''] = name.split('/');
  return { name, app, model, types };
}
