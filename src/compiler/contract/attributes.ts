/**
 * The attributes of one type, released and now: removed, changed (each difference breaking or
 * not, see values.ts), added. The key is left to the type's own comparison.
 */
import { type Context, type Pair, subscribersOf } from './context.js';
import type { Note } from '../diagnostics/diagnostic.js';
import type { Span } from '../source/source-file.js';
import type { Use } from './findings.js';
import type { EndpointShape, ShapeAttribute, TypeShape } from './shape.js';
import type { Subscriber } from './subscribers.js';
import { type Difference, differences, show, type Typed } from './values.js';

export function compareAttributes(context: Context, pair: Pair, type: TypeShape, now: TypeShape): void {
  const { before, after, renames } = pair;
  const keys = [type.key?.name, now.key?.name];
  // An attribute that comes or goes with an ancestor the type gained or lost is that ancestor's,
  // unchanged: the ancestry's own finding reports it.
  const unchanged = (a: ShapeAttribute, to: EndpointShape, name: (n: string) => string) =>
    to.types
      .get(name(a.declaredIn))
      ?.attributes.some((b) => b.name === a.name && b.declaredIn === name(a.declaredIn)) ?? false;
  const renamed = (n: string) => renames.get(n) ?? n;
  const released = (n: string) => [...renames].find(([, to]) => to === n)?.[0] ?? n;
  for (const was of type.attributes) {
    if (keys.includes(was.name)) continue;
    const is = now.attributes.find((a) => a.name === was.name);
    if (is) changed(context, pair, type, now, was, is);
    // One that goes with its declaring type is reported with the type.
    else if (
      was.declaredIn === type.name ||
      (after.types.has(renamed(was.declaredIn)) && !unchanged(was, after, renamed))
    )
      removed(context, pair, type, now, was);
  }
  for (const is of now.attributes) {
    if (keys.includes(is.name) || type.attributes.some((a) => a.name === is.name)) continue;
    if (is.declaredIn !== now.name && unchanged(is, before, released)) continue;
    context.changes.add(`added|${is.declaredIn}|${is.name}`, {
      code: 'P613',
      class: 'safe',
      endpoint: after,
      subject: `${is.declaredIn}.${is.name}`,
      message: `\`${is.declaredIn}.${is.name}\` (\`${show(is)}\`) is a new attribute on \`${after.name}\``,
      span: after.at('$defs', is.declaredIn, 'properties', is.name),
    });
  }
}

function removed(context: Context, pair: Pair, type: TypeShape, now: TypeShape, was: ShapeAttribute): void {
  const { before, after, renames } = pair;
  const declaredIn = renames.get(was.declaredIn) ?? was.declaredIn;
  // An attribute that is new on the same type, with the same type, is most likely its new name.
  const renamed = now.attributes.find(
    (a) =>
      a.declaredIn === declaredIn &&
      !type.attributes.some((b) => b.name === a.name) &&
      a.name !== now.key?.name &&
      differences(typed(was, pair, 'before'), typed(a, pair, 'after')).length === 0,
  );
  const users = subscribersOf(context, after, [type.name, now.name], was.name);
  context.changes.add(
    `removed|${declaredIn}|${was.name}`,
    {
      code: 'P603',
      class: 'users',
      endpoint: after,
      subject: `${was.declaredIn}.${was.name}`,
      message:
        `\`${was.declaredIn}.${was.name}\` is no longer published on \`${after.name}\`` +
        (renamed ? ` (renamed \`${renamed.name}\`?)` : ''),
      span: after.types.has(declaredIn) ? after.at('$defs', declaredIn, 'properties') : after.at('$defs', now.name),
      notes: [{ message: 'released here', span: before.at('$defs', was.declaredIn, 'properties', was.name) }],
      fix: `keep publishing \`${was.name}\`${renamed ? ` beside \`${renamed.name}\`` : ''}`,
    },
    users.map((s) => ({ subscriber: s, broken: true, text: `uses \`${was.name}\`` })),
  );
}

/** An attribute published before and now, with what a finding about it needs. */
interface Changed {
  readonly context: Context;
  readonly pair: Pair;
  readonly was: ShapeAttribute;
  readonly is: ShapeAttribute;
  /** `Member.points`: where it is declared now. */
  readonly name: string;
  readonly span: Span;
  readonly notes: Note[];
  readonly users: readonly Subscriber[];
}

function changed(
  context: Context,
  pair: Pair,
  type: TypeShape,
  now: TypeShape,
  was: ShapeAttribute,
  is: ShapeAttribute,
): void {
  const { before, after } = pair;
  const found = differences(typed(was, pair, 'before'), typed(is, pair, 'after'));
  if (found.length === 0) return;
  const at: Changed = {
    context,
    pair,
    was,
    is,
    name: `${is.declaredIn}.${is.name}`,
    span: after.at('$defs', is.declaredIn, 'properties', is.name),
    notes: [
      { message: `released as \`${show(was)}\``, span: before.at('$defs', was.declaredIn, 'properties', was.name) },
    ],
    users: subscribersOf(context, after, [type.name, now.name], is.name),
  };
  if (found.some((d) => d.nullable)) becameNullable(at);
  const breaking = found.filter((d) => d.breaking && !d.nullable);
  if (breaking.length > 0) typeChanged(at, texts(breaking));
  const safe = found.filter((d) => !d.breaking);
  if (safe.length > 0) {
    at.context.changes.add(`narrowed|${at.name}|${texts(safe)}`, {
      code: 'P614',
      class: 'safe',
      endpoint: after,
      subject: at.name,
      message: `\`${at.name}\` changes on \`${after.name}\` in a way its subscribers accept: ${texts(safe)}`,
      span: at.span,
    });
  }
}

function becameNullable(at: Changed): void {
  const { after } = at.pair;
  at.context.changes.add(
    `nullable|${at.name}`,
    {
      code: 'P605',
      class: 'users',
      endpoint: after,
      subject: at.name,
      message: `\`${at.name}\` may now be null on \`${after.name}\``,
      span: at.span,
      notes: at.notes,
      fix: `keep \`${at.is.name}\` non-null, or have its subscribers accept null first (a nullable column, regenerated from the new schema and deployed before this change)`,
    },
    usesOf(
      at,
      (d) => d.nullable,
      (s) => [rejectsNull(s, at.is.name), `uses \`${at.is.name}\` and accepts null`],
    ),
  );
}

function typeChanged(at: Changed, text: string): void {
  const { after } = at.pair;
  at.context.changes.add(
    `changed|${at.name}|${text}`,
    {
      code: 'P604',
      class: 'users',
      endpoint: after,
      subject: at.name,
      message: `\`${at.name}\` changes on \`${after.name}\`: ${text}`,
      span: at.span,
      notes: at.notes,
      fix: `keep \`${at.is.name}\` as \`${show(at.was)}\` and publish the new type under another attribute name`,
    },
    usesOf(
      at,
      (d) => d.breaking && !d.nullable,
      (_s, accepts) => [
        `uses \`${at.is.name}\` and accepts only \`${show(accepts, false)}\``,
        `uses \`${at.is.name}\` and accepts the new values`,
      ],
    ),
  );
}

/** Each user, broken when a difference `breaks` says it is breaking remains against what it accepts. */
function usesOf(
  at: Changed,
  breaks: (d: Difference) => boolean,
  text: (s: Subscriber, accepts: Typed) => [broken: string, fine: string],
): Use[] {
  return at.users.map((s) => {
    const accepts = required(s.attributes.get(at.is.name)?.accepts, typed(at.was, at.pair, 'before'));
    const broken = differences(accepts, typed(at.is, at.pair, 'after')).some(breaks);
    const [yes, no] = text(s, accepts);
    return { subscriber: s, broken, text: broken ? yes : no };
  });
}

function texts(list: readonly Difference[]): string {
  return list.map((d) => d.text).join('; ');
}

/** Why a subscriber breaks on null: its validator, and for a subscription the column it stores it in. */
function rejectsNull(s: Subscriber, attribute: string): string {
  const column = s.attributes.get(attribute)?.column;
  return column === undefined
    ? `requires \`${attribute}\`: its validator rejects null`
    : `stores \`${attribute}\` in the column \`${column}\` and requires a value: its validator rejects null, and the column is most likely NOT NULL`;
}

/**
 * What a subscriber's validator accepts, or the released type when it is the routes' own. A
 * requirement file holds a document as any object (the subscriber's schema does not carry its
 * publisher's model); the subscriber's generated types and callbacks hold it to the released
 * document, so the check does too.
 */
function required(accepts: Typed | undefined, released: Typed): Typed {
  if (!accepts) return released;
  const known = [...accepts.documents].filter(([, fields]) => fields.length > 0);
  return { ...accepts, documents: new Map([...released.documents, ...known]) };
}

function typed(attribute: ShapeAttribute, pair: Pair, side: 'before' | 'after'): Typed {
  return { type: attribute.type, nullable: attribute.nullable, documents: pair[side].documents };
}
