import { topicMatches } from '../../common/topic.js';
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
  readonly attributes: readonly {
    readonly name: string;
    readonly type: FieldType;
    readonly nullable: boolean;
    /** The published type a `belongs_to` attribute holds the id of. */
    readonly relation?: string;
  }[];
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

/**
 * Every endpoint a subscription can be checked against, indexed so that a source names its
 * endpoints without scanning them all: a workspace of thousands of models stays linear.
 */
export class Catalog {
  private readonly byModel = new Map<string, CatalogEndpoint[]>();
  private readonly memo = new Map<string, CatalogEndpoint[]>();

  constructor(private readonly endpoints: ReadonlyMap<string, CatalogEndpoint>) {
    for (const endpoint of endpoints.values()) {
      const list = this.byModel.get(endpoint.model) ?? [];
      list.push(endpoint);
      this.byModel.set(endpoint.model, list);
    }
  }

  values(): IterableIterator<CatalogEndpoint> {
    return this.endpoints.values();
  }

  /** The endpoints whose routing keys the binding can match, for any operation. */
  matching(binding: string): CatalogEndpoint[] {
    const cached = this.memo.get(binding);
    if (cached) return cached;
    const [app, model, ...rest] = binding.split('.');
    const literal = (word: string | undefined): word is string => word !== undefined && word !== '*' && word !== '#';
    let candidates: Iterable<CatalogEndpoint> = this.endpoints.values();
    if (rest.length <= 1 && literal(model)) {
      const named = literal(app) ? this.endpoints.get(`${app}/${model}`) : undefined;
      candidates = literal(app) ? (named ? [named] : []) : (this.byModel.get(model) ?? []);
    }
    const found = endpointsMatching(binding, candidates);
    this.memo.set(binding, found);
    return found;
  }
}
