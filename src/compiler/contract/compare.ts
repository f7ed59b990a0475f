/**
 * Compares the endpoints of the routes with their released schemas, endpoint by endpoint and
 * type by type; attributes are compared in attributes.ts. Types are visited roots first, so that
 * a change to an inherited attribute is found at the type that declares it first, and gains
 * the subscribers of its subtypes after.
 */
import { compare } from '../diagnostics/diagnostic.js';
import { compareAttributes } from './attributes.js';
import { type Context, type Pair, subscribersOf } from './context.js';
import { Changes, type Finding } from './findings.js';
import type { EndpointShape, TypeShape } from './shape.js';
import type { Subscriber } from './subscribers.js';
import { differences, show } from './values.js';

/** Every change between the released endpoints and the current ones, sorted by file and position. */
export function compareEndpoints(
  released: readonly EndpointShape[],
  current: readonly EndpointShape[],
  subscribers: readonly Subscriber[],
): Finding[] {
  const context: Context = { changes: new Changes(), subscribers };
  const before = new Map(released.map((e) => [e.name, e]));
  const after = new Map(current.map((e) => [e.name, e]));
  for (const name of [...new Set([...before.keys(), ...after.keys()])].sort(compare)) {
    compareEndpoint(context, before.get(name), after.get(name));
  }
  return context.changes
    .findings()
    .sort(
      (a, b) =>
        compare(a.span.file, b.span.file) ||
        a.span.offset - b.span.offset ||
        compare(a.code, b.code) ||
        compare(a.message, b.message),
    );
}

function compareEndpoint(context: Context, before?: EndpointShape, after?: EndpointShape): void {
  if (!after && before) {
    const users = subscribersOf(context, before, [...before.types.keys()]);
    context.changes.add(
      'endpoint',
      {
        code: 'P601',
        class: 'users',
        endpoint: before,
        subject: before.name,
        message: `\`${before.name}\` is no longer published`,
        span: before.at('$id'),
        fix: `keep publishing \`${before.name}\` until none of its subscribers uses it`,
      },
      users.map((s) => ({ subscriber: s, broken: true, text: `receives \`${s.type}\` from it` })),
    );
    return;
  }
  if (!before && after) {
    context.changes.add('endpoint', {
      code: 'P611',
      class: 'safe',
      endpoint: after,
      subject: after.name,
      message: `\`${after.name}\` is a new endpoint`,
      span: after.at('$id'),
    });
    return;
  }
  if (!before || !after) return;
  const pair: Pair = { before, after, renames: rootRenames(before, after) };
  for (const [from, to] of pair.renames) {
    context.changes.add(
      'renamed',
      {
        code: 'P608',
        class: 'everyone',
        endpoint: after,
        subject: to,
        message: `the type of \`${after.name}\` is renamed: \`${from}\` becomes \`${to}\``,
        span: after.at('$defs', to),
      },
      subscribersOf(context, after, [from, to]).map((s) => ({
        subscriber: s,
        broken: true,
        text: `subscribes to \`${s.type}\`, the name that every message's \`types\` carried`,
      })),
    );
  }
  compareTypes(context, pair);
}

function compareTypes(context: Context, pair: Pair): void {
  const { before, after, renames } = pair;
  const rootsFirst = (types: Iterable<TypeShape>) =>
    [...types].sort((a, b) => a.ancestors.length - b.ancestors.length || compare(a.name, b.name));
  const matched = new Set<string>();
  for (const type of rootsFirst(before.types.values())) {
    const now = after.types.get(renames.get(type.name) ?? type.name);
    if (!now) {
      context.changes.add(
        `type|${type.name}`,
        {
          code: 'P602',
          class: 'users',
          endpoint: after,
          subject: type.name,
          message: `\`${type.name}\` is no longer published on \`${after.name}\``,
          span: after.at('$defs'),
          notes: [{ message: 'released here', span: before.at('$defs', type.name) }],
          fix: `keep publishing \`${type.name}\` until none of its subscribers uses it`,
        },
        subscribersOf(context, after, [type.name]).map((s) => ({
          subscriber: s,
          broken: true,
          text: 'subscribes to it',
        })),
      );
      continue;
    }
    matched.add(now.name);
    compareKey(context, pair, type, now);
    compareAncestors(context, pair, type, now);
    compareAttributes(context, pair, type, now);
  }
  for (const type of rootsFirst(after.types.values())) {
    if (matched.has(type.name)) continue;
    const parent = type.ancestors[1];
    context.changes.add(`type|${type.name}`, {
      code: 'P612',
      class: 'safe',
      endpoint: after,
      subject: type.name,
      message:
        `\`${type.name}\` is a new type on \`${after.name}\`` +
        (parent ? `: subscribers of \`${parent}\` receive it as their nearest subscribed ancestor` : ''),
      span: after.at('$defs', type.name),
    });
  }
}

/**
 * The released root renamed: one root gone and one new, on an endpoint that carries one model.
 * Subscribers name the type they receive, and every message's `types` names it.
 */
function rootRenames(before: EndpointShape, after: EndpointShape): Map<string, string> {
  const roots = (e: EndpointShape) => [...e.types.values()].filter((t) => t.ancestors.length === 1).map((t) => t.name);
  const gone = roots(before).filter((r) => !after.types.has(r));
  const added = roots(after).filter((r) => !before.types.has(r));
  return gone.length === 1 && added.length === 1 ? new Map([[gone[0] as string, added[0] as string]]) : new Map();
}

/** The key is every subscriber's identity of a row: any change to it, or a key added or removed, breaks them all. */
function compareKey(context: Context, pair: Pair, type: TypeShape, now: TypeShape): void {
  const [was, is] = [type.key, now.key];
  const shown = (key: TypeShape['key']) => (key ? `\`${key.name} ${show(key)}\`` : 'no key');
  if (
    was &&
    is &&
    was.name === is.name &&
    differences({ ...was, documents: new Map() }, { ...is, documents: new Map() }).length === 0
  )
    return;
  if (!was && !is) return;
  const { after } = pair;
  context.changes.add(
    'key',
    {
      code: 'P607',
      class: 'everyone',
      endpoint: after,
      subject: `${now.name}.${is?.name ?? was?.name}`,
      message: `the key of \`${now.name}\` on \`${after.name}\` changes: ${shown(was)} becomes ${shown(is)}`,
      span: is ? after.at('$defs', is.declaredIn, 'properties', is.name) : after.at('$defs', now.name),
    },
    subscribersOf(context, after, [type.name, now.name]).map((s) => ({
      subscriber: s,
      broken: true,
      text: `keys its rows by it`,
    })),
  );
}

/**
 * A type that no longer extends an ancestor stops arriving, as that ancestor, at the apps that
 * subscribe to the ancestor and not to the type itself. One that gains an ancestor starts
 * arriving at its subscribers, with every attribute they require.
 */
function compareAncestors(context: Context, pair: Pair, type: TypeShape, now: TypeShape): void {
  const { after, renames } = pair;
  const was = type.ancestors.slice(1).map((a) => renames.get(a) ?? a);
  const lost = was.filter((a) => !now.ancestors.includes(a));
  const gained = now.ancestors.slice(1).filter((a) => !was.includes(a));
  const span = after.at('$defs', now.name, 'allOf');
  if (lost.length > 0) {
    const ownApps = new Set(subscribersOf(context, after, [type.name, now.name]).map((s) => s.app));
    const users = subscribersOf(context, after, lost).filter((s) => !ownApps.has(s.app));
    context.changes.add(
      `ancestors|${type.name}`,
      {
        code: 'P606',
        class: 'users',
        endpoint: after,
        subject: now.name,
        message: `\`${now.name}\` no longer extends ${lost.map((a) => `\`${a}\``).join(', ')} on \`${after.name}\``,
        span,
        fix: `keep \`${now.name}\` a subtype of ${lost.map((a) => `\`${a}\``).join(', ')}`,
      },
      users.map((s) => ({
        subscriber: s,
        broken: true,
        text: `subscribes to \`${s.type}\`, as which \`${now.name}\` arrived`,
      })),
    );
  }
  if (gained.length > 0) {
    context.changes.add(`gained|${type.name}`, {
      code: 'P614',
      class: 'safe',
      endpoint: after,
      subject: now.name,
      message: `\`${now.name}\` now also extends ${gained.map((a) => `\`${a}\``).join(', ')} on \`${after.name}\`: their subscribers receive it too`,
      span,
    });
  }
}
