/**
 * Where each published type lands in a subscribing app: in the subscription of its nearest
 * ancestor that reaches its endpoint (an `Admin` arrives as a `User` when only `User` is
 * subscribed), in a stable order.
 */
import { compare } from '../diagnostics/diagnostic.js';
import type { Subscription } from '../ir/ir.js';
import type { Catalog, CatalogEndpoint } from './catalog.js';
import type { AppContext } from './context.js';

export function addResolutions(app: AppContext, catalog: Catalog): void {
  const subscriptions = [...app.subscriptions.values()].map((s) => s.value).sort((a, b) => compare(a.name, b.name));
  const byType = new Map<string, Subscription[]>();
  const endpoints = new Map<string, CatalogEndpoint>();
  const reaches = new Map<string, Set<string>>();
  for (const s of subscriptions) {
    byType.set(s.type, [...(byType.get(s.type) ?? []), s]);
    const matched = catalog.matching(s.source.binding);
    reaches.set(s.name, new Set(matched.map((e) => e.name)));
    for (const e of matched) endpoints.set(e.name, e);
  }
  for (const endpoint of [...endpoints.values()].sort((a, b) => compare(a.name, b.name))) {
    for (const type of [...endpoint.types].sort((a, b) => compare(a.name, b.name))) {
      for (const ancestor of type.ancestors) {
        const found = byType.get(ancestor)?.find((s) => reaches.get(s.name)?.has(endpoint.name));
        if (found) {
          app.resolutions.push({ endpoint: endpoint.name, type: type.name, subscription: found.name });
          break;
        }
      }
    }
  }
}
