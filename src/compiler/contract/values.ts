/**
 * Whether a subscriber still accepts what is published once a type changed. A subscriber's
 * validator was generated from the schema as it was released, and it rejects what that schema
 * did not allow (parked, with the reason). So a change is safe exactly when every value the new
 * schema allows, the released one allowed too: narrowing is safe and widening is not, the
 * opposite of a request that a server receives.
 */
import type { FieldType, ScalarName } from '../ir/ir.js';
import type { SchemaAttribute } from '../schemas/read-requirement.js';
import { formatType } from '../validate/types.js';

/** An attribute's type, with the embedded documents its schema defines. */
export interface Typed {
  readonly type: FieldType;
  readonly nullable: boolean;
  readonly documents: ReadonlyMap<string, readonly SchemaAttribute[]>;
}

export interface Difference {
  /** Whether a value the new type allows may fail a validator made from the old one. */
  readonly breaking: boolean;
  /** The difference is that null is now allowed. */
  readonly nullable: boolean;
  readonly text: string;
}

/** Scalars whose values all fit another's schema: a `bigint` string is a `decimal` string too. */
const within: Partial<Record<ScalarName, readonly ScalarName[]>> = {
  string: ['text', 'uuid', 'bigint', 'decimal', 'date', 'timestamp'],
  text: ['string', 'uuid', 'bigint', 'decimal', 'date', 'timestamp'],
  decimal: ['bigint'],
  float: ['integer'],
};

/** How `after` differs from `before`, each difference breaking or not. */
export function differences(before: Typed, after: Typed, depth = 0): Difference[] {
  if (anything(before.type)) {
    return anything(after.type) ? [] : [accepted(`any JSON value becomes \`${show(after)}\``)];
  }
  if (anything(after.type)) return [breaking(`\`${show(before)}\` becomes any JSON value`)];
  const out: Difference[] = [];
  if (!before.nullable && after.nullable) out.push({ breaking: true, nullable: true, text: 'it may now be null' });
  if (before.nullable && !after.nullable) out.push(accepted('it is no longer null'));
  out.push(...valueDifferences(before, after, depth));
  return out;
}

function valueDifferences(before: Typed, after: Typed, depth: number): Difference[] {
  const [b, a] = [before.type, after.type];
  if (b.kind === 'scalar' && a.kind === 'scalar') {
    if (sameScalar(b.name, a.name)) return [];
    const text = `\`${show(before, false)}\` becomes \`${show(after, false)}\``;
    return [within[b.name]?.includes(a.name) ? accepted(text) : breaking(text)];
  }
  if (b.kind === 'enum' && a.kind === 'enum') {
    const gained = a.values.filter((v) => !b.values.includes(v));
    const lost = b.values.filter((v) => !a.values.includes(v));
    return [
      ...(gained.length > 0 ? [breaking(`it gains ${values(gained)}`)] : []),
      ...(lost.length > 0 ? [accepted(`it loses ${values(lost)}`)] : []),
    ];
  }
  if (b.kind === 'array' && a.kind === 'array') {
    const items = (type: FieldType, of: Typed): Typed => ({ type, nullable: false, documents: of.documents });
    return valueDifferences(items(b.of, before), items(a.of, after), depth).map((d) => ({
      ...d,
      text: `its items: ${d.text}`,
    }));
  }
  if (b.kind === 'embedded' && a.kind === 'embedded' && b.many === a.many) {
    return documentDifferences(before.documents.get(b.model), after.documents.get(a.model), before, after, depth);
  }
  const text = `\`${show(before, false)}\` becomes \`${show(after, false)}\``;
  const narrowed = a.kind === 'enum' && b.kind === 'scalar' && (b.name === 'string' || b.name === 'text');
  return [narrowed ? accepted(text) : breaking(text)];
}

/** An embedded document's fields, compared as attributes: one lost breaks, one gained does not. */
function documentDifferences(
  before: readonly SchemaAttribute[] | undefined,
  after: readonly SchemaAttribute[] | undefined,
  b: Typed,
  a: Typed,
  depth: number,
): Difference[] {
  // A document whose model the subscriber did not know was required as any object; embedded
  // documents embed no further ones, so the depth only guards against a hand-edited file.
  if (!before || !after || depth > 4) return [];
  const out: Difference[] = [];
  for (const field of before) {
    const now = after.find((f) => f.name === field.name);
    if (!now) {
      out.push(breaking(`its documents lose \`${field.name}\``));
      continue;
    }
    const inner = differences({ ...field, documents: b.documents }, { ...now, documents: a.documents }, depth + 1);
    out.push(...inner.map((d) => ({ ...d, text: `its documents' \`${field.name}\`: ${d.text}` })));
  }
  for (const field of after) {
    if (!before.some((f) => f.name === field.name)) out.push(accepted(`its documents gain \`${field.name}\``));
  }
  return out;
}

/** `json`, or an attribute whose subscriber did not know its type: any value, null included. */
function anything(type: FieldType): boolean {
  return type.kind === 'scalar' && type.name === 'json';
}

/** `string` and `text` have one schema: the schemas cannot tell them apart, nor need to. */
function sameScalar(a: ScalarName, b: ScalarName): boolean {
  const family = (name: ScalarName) => (name === 'text' ? 'string' : name);
  return family(a) === family(b);
}

/** A type as the routes write it (`string?`, `enum(a, b)`), with or without its nullability. */
export function show(typed: Pick<Typed, 'type' | 'nullable'>, nullable = true): string {
  return formatType(typed.type, nullable && typed.nullable);
}

function values(list: readonly string[]): string {
  return `${list.length === 1 ? 'the value' : 'the values'} ${list.map((v) => `\`${v}\``).join(', ')}`;
}

function breaking(text: string): Difference {
  return { breaking: true, nullable: false, text };
}

function accepted(text: string): Difference {
  return { breaking: false, nullable: false, text };
}
