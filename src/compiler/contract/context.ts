/** What the comparison of endpoints and of attributes share. */
import type { Changes } from './findings.js';
import type { EndpointShape } from './shape.js';
import { receives, type Subscriber } from './subscribers.js';

export interface Pair {
  readonly before: EndpointShape;
  readonly after: EndpointShape;
  /** A root type renamed: its released name -> its name now. */
  readonly renames: ReadonlyMap<string, string>;
}

export interface Context {
  readonly changes: Changes;
  readonly subscribers: readonly Subscriber[];
}

/** The subscribers of these types (by any of their names) on the endpoint, using the attribute when one is named. */
export function subscribersOf(
  context: Context,
  endpoint: EndpointShape,
  types: readonly string[],
  attribute?: string,
): Subscriber[] {
  return context.subscribers.filter(
    (s) => types.includes(s.type) && receives(s, endpoint) && (attribute === undefined || s.attributes.has(attribute)),
  );
}
