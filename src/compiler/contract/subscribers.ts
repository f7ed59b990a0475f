/**
 * The subscribers a contract check knows, and what each requires: those of the routes, and
 * those whose requirement files were released (`--against`) or exported (`--schemas`).
 */
import type { Workspace } from '../ir/ir.js';
import type { RequirementFile, SchemaAttribute } from '../schemas/read-requirement.js';
import { endpointsMatching, parseSource } from '../validate/catalog.js';
import type { Typed } from './values.js';

export interface Subscriber {
  readonly app: string;
  readonly kind: 'subscription' | 'observer';
  /** The local name. */
  readonly name: string;
  /** The published type it receives. */
  readonly type: string;
  /** Its AMQP binding (`crowdtap.user.*`): the endpoints it receives from. */
  readonly binding: string;
  /** What it requires of each attribute it uses, by attribute name. */
  readonly attributes: ReadonlyMap<string, Requirement>;
  /**
   * Where it is known from: the routes (required as the endpoint was released, since that is
   * what its running validator was generated from), or a requirement file.
   */
  readonly origin: { readonly kind: 'routes' } | { readonly kind: 'released' | 'exported'; readonly file: string };
  /** Whether the routes still declare it. */
  readonly current: boolean;
}

export interface Requirement {
  /** The column a subscription stores it in, when the routes say. */
  readonly column?: string;
  /** What its validator accepts; absent when that is the released endpoint's own type. */
  readonly accepts?: Typed;
}

/**
 * A subscriber of the routes is taken as it runs from the release: its requirement files when
 * its app released some, and otherwise (a release generated before requirement files were
 * written, or a folder of endpoint schemas only) the routes' subscriber as the released
 * endpoint would have generated it. One its app's release does not have is new: it will be
 * generated from the new schemas, so nothing it requires can break.
 */
export function knownSubscribers(
  workspace: Workspace,
  released: readonly RequirementFile[],
  exported: readonly RequirementFile[],
): Subscriber[] {
  const releasedApps = new Set(released.map((r) => r.app));
  // The columns of the routes' subscriptions, which requirement files do not carry.
  const declared = new Map<string, ReadonlyMap<string, string>>();
  const out: Subscriber[] = [];
  for (const app of workspace.apps) {
    for (const s of [...app.subscriptions, ...app.observers]) {
      const columns = new Map(s.kind === 'subscription' ? s.attributes.map((a) => [a.name, a.column]) : []);
      declared.set(identity({ app: app.name, kind: s.kind, name: s.name }), columns);
      if (releasedApps.has(app.name)) continue;
      const attributes = new Map<string, Requirement>(
        s.attributes.map((a) => [a.name, columns.has(a.name) ? { column: columns.get(a.name) as string } : {}]),
      );
      out.push({
        app: app.name,
        kind: s.kind,
        name: s.name,
        type: s.type,
        binding: s.source.binding,
        attributes,
        origin: { kind: 'routes' },
        current: true,
      });
    }
  }
  const fromFile = (file: RequirementFile, kind: 'released' | 'exported'): Subscriber | undefined => {
    const parsed = parseSource(file.from);
    if ('error' in parsed) return undefined;
    const accepts = (a: SchemaAttribute): Typed => ({ type: a.type, nullable: a.nullable, documents: file.documents });
    const columns = kind === 'released' ? declared.get(identity(file)) : undefined;
    const requirement = (a: SchemaAttribute): Requirement => {
      const column = columns?.get(a.name);
      return column === undefined ? { accepts: accepts(a) } : { column, accepts: accepts(a) };
    };
    return {
      app: file.app,
      kind: file.kind,
      name: file.name,
      type: file.type,
      binding: parsed.binding,
      attributes: new Map(file.attributes.map((a) => [a.name, requirement(a)])),
      origin: { kind, file: file.path },
      current: declared.has(identity(file)),
    };
  };
  for (const file of released) out.push(...optional(fromFile(file, 'released')));
  for (const file of exported) out.push(...optional(fromFile(file, 'exported')));
  return out;
}

/** Whether the subscriber receives the endpoint's messages. */
export function receives(subscriber: Subscriber, endpoint: { app: string; model: string }): boolean {
  const candidate = { name: `${endpoint.app}/${endpoint.model}`, ...endpoint, types: [] };
  return endpointsMatching(subscriber.binding, [candidate]).length > 0;
}

/** `sniper/subscription/Member`: one subscriber, however many places it is known from. */
export function identity(s: Pick<Subscriber, 'app' | 'kind' | 'name'>): string {
  return `${s.app}/${s.kind}/${s.name}`;
}

/** `sniper's subscription Member`, and where it is known from when not from the routes. */
export function describe(s: Subscriber): string {
  const who = `${s.app}'s ${s.kind} ${s.name}`;
  if (s.origin.kind === 'routes') return who;
  if (s.origin.kind === 'exported') return `${who} (its exported requirements: ${s.origin.file})`;
  return s.current
    ? `${who} (as released: ${s.origin.file})`
    : `${who} (released, no longer in these routes: ${s.origin.file})`;
}

function optional<T>(value: T | undefined): T[] {
  return value === undefined ? [] : [value];
}
