/**
 * What a contract check reports: each change with its class, the subscribers it breaks, and the
 * way out. A change is gathered as a {@link Change} while the schemas are compared (one change
 * inherited by several types is one change, used through each), then finished as a finding.
 */
import type { Code } from '../diagnostics/codes.js';
import { compare, type Note } from '../diagnostics/diagnostic.js';
import type { Span } from '../source/source-file.js';
import type { EndpointShape } from './shape.js';
import { describe, identity, type Subscriber } from './subscribers.js';

/**
 * - `safe`: no subscriber's validator can reject what is published now.
 * - `users`: breaks the subscribers that use what changed: an error when one is known, a
 *   warning otherwise (one outside these routes may use it).
 * - `everyone`: breaks every subscriber of the endpoint, known or not: always an error.
 */
export type ChangeClass = 'safe' | 'users' | 'everyone';

export interface Finding {
  readonly code: Code;
  readonly class: ChangeClass;
  readonly severity: 'error' | 'warning' | 'note';
  /** The endpoint it is about: `crowdtap/user`. */
  readonly endpoint: string;
  /** What changed in it: the endpoint's name, a type (`Member`) or an attribute (`Member.points`). */
  readonly subject: string;
  readonly message: string;
  /** In the endpoint's schema file as `generate` writes it now, or as released when it is gone. */
  readonly span: Span;
  readonly notes: readonly Note[];
  /** The fix, and the way out that always exists: a second endpoint. */
  readonly suggestion?: string;
  /** The known subscribers it breaks, described (`sniper's subscription Member`). */
  readonly breaks: readonly string[];
}

/** A known subscriber's use of what changed, and whether the change breaks it. */
export interface Use {
  readonly subscriber: Subscriber;
  readonly broken: boolean;
  /** `uses \`points\``: what follows the subscriber's description. */
  readonly text: string;
}

export interface Change {
  readonly code: Code;
  readonly class: ChangeClass;
  readonly endpoint: EndpointShape;
  readonly subject: string;
  readonly message: string;
  readonly span: Span;
  readonly notes: Note[];
  /** The fix particular to this change, before the second endpoint. */
  readonly fix?: string;
  readonly uses: Map<string, Use>;
}

/** The changes found so far, one per key: a change met again through a subtype gains its uses. */
export class Changes {
  private readonly byKey = new Map<string, Change>();

  add(key: string, change: Omit<Change, 'uses' | 'notes'> & { notes?: Note[] }, uses: readonly Use[] = []): void {
    const full = `${change.endpoint.name}|${key}`;
    let found = this.byKey.get(full);
    if (!found) {
      found = { ...change, notes: change.notes ?? [], uses: new Map() };
      this.byKey.set(full, found);
    }
    for (const use of uses) {
      const id = `${identity(use.subscriber)}|${use.subscriber.origin.kind}`;
      const known = found.uses.get(id);
      if (!known || (use.broken && !known.broken)) found.uses.set(id, use);
    }
  }

  findings(): Finding[] {
    return [...this.byKey.values()].map(finish);
  }
}

function finish(change: Change): Finding {
  const uses = [...change.uses.values()].sort((a, b) => compare(describe(a.subscriber), describe(b.subscriber)));
  const broken = uses.filter((u) => u.broken);
  const severity =
    change.class === 'safe' ? 'note' : change.class === 'everyone' || broken.length > 0 ? 'error' : 'warning';
  const notes: Note[] = uses.map((u) => ({ message: `${describe(u.subscriber)} ${u.text}` }));
  if (change.class === 'users' && uses.length === 0) {
    notes.push({
      message:
        'no known subscriber uses it; one outside these routes may: give its exported requirements with `--schemas` to check it',
    });
  }
  if (change.class === 'everyone') {
    notes.push({ message: `every subscriber of \`${change.endpoint.name}\` breaks, known or not` });
  }
  notes.push(...change.notes);
  const suggestion =
    change.class === 'safe' ? undefined : [change.fix, secondEndpoint(change.endpoint)].filter(Boolean).join('; or ');
  return {
    code: change.code,
    class: change.class,
    severity,
    endpoint: change.endpoint.name,
    subject: change.subject,
    message: change.message,
    span: change.span,
    notes,
    ...(suggestion ? { suggestion } : {}),
    breaks: broken.map((u) => describe(u.subscriber)),
  };
}

/**
 * The way out of any breaking change (the guide's "Several endpoints for one table"): the new
 * shape on an endpoint of its own beside the released one, which stays until its last
 * subscriber moved.
 */
export function secondEndpoint(endpoint: EndpointShape): string {
  const root = [...endpoint.types.values()].find((t) => t.ancestors.length === 1)?.name ?? 'Model';
  const model = /^(.*)_v(\d+)$/.exec(endpoint.model);
  const version = model ? Number(model[2]) + 1 : 2;
  const type = `${/^(.*?)V\d+$/.exec(root)?.[1] ?? root}V${version}`;
  const next = `${endpoint.app}/${model?.[1] ?? endpoint.model}_v${version}`;
  return (
    `publish the new shape on a second endpoint (\`publish <table> as ${type} to "${next}" { ... }\`), ` +
    `keep \`${endpoint.name}\` as released until none of its subscribers uses it, then retire it ` +
    '(docs/guide.md, "Several endpoints for one table")'
  );
}
