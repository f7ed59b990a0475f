import { topicMatches } from '../../shared/topic.js';
import type { FieldType } from '../ir/ir.js';

/**
 * What a subscriber can know about a publisher's endpoint: from a publishing app in the same
 * workspace, or from the JSON Schemas that app exported (`--schemas <dir>`).
 */
export interface CatalogEndpoint {
  /** `crowdtap/user` */
  readonly name: string;
  readonly app: string;
  readonly model: string;
  readonly types: readonly CatalogType[];
}

export interface CatalogType {
  readonly name: string;
  /** This type first, then its ancestors. */
  readonly ancestors: readonly string[];
  readonly ephemeral: boolean;
  readonly idType?: FieldType;
  readonly attributes: readonly { readonly name: string; readonly type: FieldType; readonly nullable: boolean }[];
  /** Fields the publisher reads but does not publish, when it is in the workspace (for messages). */
  readonly privateFields?: readonly string[];
}

const segment = /^[A-Za-z0-9_]+$/;

/** Parses `from`: an endpoint (`crowdtap/user`, `*\/user`) or a routing-key pattern (`crowdtap.user.*`). */
export function parseSource(from: string): { binding: string } | { error: string } {
  if (from.includes('/')) {
    const parts = from.split('/');
    const [app, model] = parts;
    if (parts.length !== 2 || app === undefined || model === undefined) {
      return { error: 'an endpoint has two parts, `<app>/<model>`' };
    }
    if (!(app === '*' || segment.test(app)) || !segment.test(model)) {
      return { error: 'an endpoint is `<app>/<model>` (letters, digits, `_`; the app may be `*`)' };
    }
    return { binding: `${app}.${model}.*` };
  }
  const words = from.split('.');
  if (words.length < 1 || words.length > 3 || words.some((w) => !(w === '*' || w === '#' || segment.test(w)))) {
    return { error: 'a routing-key pattern is `<app>.<model>.<operation>`, each part a name, `*` or `#`' };
  }
  return { binding: from };
}

export const operations = ['create', 'update', 'destroy'] as const;

/** The catalog endpoints whose routing keys the binding can match, for any operation. */
export function endpointsMatching(binding: string, endpoints: Iterable<CatalogEndpoint>): CatalogEndpoint[] {
  const found: CatalogEndpoint[] = [];
  for (const endpoint of endpoints) {
    const base = `${endpoint.app}.${endpoint.model}`;
    if (operations.some((op) => topicMatches(binding, `${base}.${op}`))) found.push(endpoint);
  }
  return found;
}
