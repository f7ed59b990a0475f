/**
 * Why an operation's attributes do not fit what a subscription or observer requires, in an
 * operator's words: which attribute, what the subscriber expects and what arrived, and what to
 * do about it. Ajv's own words (`must have required property 'name'`) say neither what was
 * expected nor that the usual cause is a publisher and a subscriber generated from different
 * routes. What arrived is named by its kind (a string, null), never by its value, which stays
 * in the parked message's body; only an enum value that reads as one is quoted.
 */
import type { AttributeKind, CompiledValidator } from '../contract.js';
import type { OperationMessage } from '../envelope.js';

/** What a parked reason names besides the operation. */
export interface MismatchContext {
  /** The subscribing app. */
  readonly app: string;
  /** The app that sent the operation. */
  readonly publisher: string;
  /** The subscription or observer the operation does not fit. */
  readonly target: string;
  readonly observer: boolean;
  /** The subscribed attributes' kinds, when the publisher was known at generate time. */
  readonly kinds: ReadonlyMap<string, AttributeKind>;
}

/** An Ajv error: `keyword` and `params` are there when the validator is the runtime's own. */
export interface ValidationError {
  readonly instancePath: string;
  readonly message?: string;
  readonly keyword?: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** Differences named in a reason; the rest are counted. */
const shown = 3;

/** An enum value is quoted only when it reads as one: a short word, not free text. */
const enumWord = /^[\w.-]{1,40}$/;

const kindWords: Record<AttributeKind, string> = {
  string: 'a string',
  text: 'a string',
  integer: 'an integer',
  bigint: 'a bigint (a string of digits)',
  decimal: 'a decimal (a string of digits)',
  float: 'a number',
  boolean: 'a boolean',
  date: 'a date (a YYYY-MM-DD string)',
  timestamp: 'a timestamp (an ISO 8601 string)',
  uuid: 'a uuid',
  json: 'any JSON value',
  enum: 'one of its enum values',
  array: 'an array',
  embedded: 'an embedded document',
};

const typeWords: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  array: 'an array',
  object: 'an object',
  null: 'null',
};

/**
 * The reason an operation is parked when its attributes fail the target's validator: each
 * difference, then the fix.
 *
 * @example
 * // Account 7c9e… on shop/account does not fit mirror's subscription Account: `score` arrived
 * // as a string where mirror expects an integer. shop and mirror disagree on ...
 */
export function mismatchReason(context: MismatchContext, op: OperationMessage, validate: CompiledValidator): string {
  const differences = describeDifferences(context, op.attributes, (validate.errors ?? []) as ValidationError[]);
  const more = differences.length > shown ? `; and ${differences.length - shown} more` : '';
  const listed = differences.slice(0, shown).join('; ') + more;
  const { app, publisher, target, observer } = context;
  return (
    `${op.types[0] ?? '?'} ${op.id} on ${op.endpoint} does not fit ${app}'s ${observer ? 'observer' : 'subscription'} ` +
    `${target}: ${listed || 'its attributes fail the schema'}. ${publisher} and ${app} disagree on the shape of ` +
    `${op.endpoint}: generate ${app} from the routes ${publisher} now publishes and deploy it (or deploy ${publisher}'s ` +
    `new version first), then \`promiscuous parked retry\`; a change old subscribers cannot apply belongs on a second ` +
    `endpoint (guide: "Several endpoints for one table")`
  );
}

/** One phrase per attribute that does not fit: those missing first, then the others in the order of their errors. */
export function describeDifferences(
  context: Pick<MismatchContext, 'app' | 'kinds'>,
  data: unknown,
  errors: readonly ValidationError[],
): string[] {
  const byPath = new Map<string, ValidationError[]>();
  const out: string[] = [];
  for (const error of errors) {
    if (error.keyword === 'required' && typeof error.params?.missingProperty === 'string') {
      const path = `${error.instancePath}/${escape(error.params.missingProperty)}`;
      const kind = error.instancePath === '' ? context.kinds.get(error.params.missingProperty) : undefined;
      out.push(
        `${attributeName(path)} is missing, which ${context.app} requires${kind ? ` (${kindWords[kind]})` : ''}`,
      );
      continue;
    }
    const group = byPath.get(error.instancePath) ?? [];
    group.push(error);
    byPath.set(error.instancePath, group);
  }
  for (const [path, group] of byPath) out.push(describePath(context, path, valueAt(data, path), group));
  return out;
}

/** What is wrong with the value at one path: an unknown enum value, a format, or a type. */
function describePath(
  context: Pick<MismatchContext, 'app' | 'kinds'>,
  path: string,
  value: unknown,
  errors: readonly ValidationError[],
): string {
  const name = attributeName(path);
  const kind = attributeOf(path) === undefined ? undefined : context.kinds.get(attributeOf(path) as string);
  const enumError = errors.find((e) => e.keyword === 'enum');
  if (enumError && typeof value === 'string') {
    const known = enumError.params?.allowedValues;
    const quoted = enumWord.test(value) ? `"${value}", ` : '';
    const list = Array.isArray(known) ? ` (it knows ${known.join(', ')})` : '';
    return `${name} holds ${quoted}a value ${context.app} does not know${list}`;
  }
  if (errors.some((e) => e.keyword === 'pattern') && typeof value === 'string') {
    return `${name} arrived as a string not in the form ${context.app} expects${kind ? `: ${kindWords[kind]}` : ''}`;
  }
  const types = errors.flatMap((e) => (e.keyword === 'type' ? [e.params?.type].flat() : []));
  if (types.length > 0) {
    const nullable = types.includes('null');
    const base = kind ? kindWords[kind] : words(types.filter((t) => t !== 'null'));
    const expected = nullable ? (base ? `${base} or null` : 'null') : base;
    return `${name} arrived as ${arrived(value)} where ${context.app} expects ${expected}`;
  }
  const raw = errors
    .filter((e) => e.keyword !== 'anyOf')
    .map((e) => e.message ?? 'is invalid')
    .join(', ');
  return `${name} ${raw || 'does not fit its schema'}`;
}

function words(types: readonly unknown[]): string {
  return [...new Set(types.map((t) => typeWords[String(t)] ?? String(t)))].join(' or ');
}

/** The kind of a value as it arrived, without the value. */
function arrived(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number with a fraction';
  return typeWords[typeof value] ?? typeof value;
}

/** `score`, `addresses[0].zipcode`: a JSON pointer into the attributes, as an operator reads it. */
function attributeName(path: string): string {
  if (path === '') return 'the attributes';
  const parts = path.slice(1).split('/').map(unescape);
  const name = parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  return `\`${name}\``;
}

/** The attribute a path names, when it names one rather than something inside one. */
function attributeOf(path: string): string | undefined {
  const parts = path.slice(1).split('/');
  return path === '' || parts.length > 1 ? undefined : unescape(parts[0] as string);
}

function valueAt(data: unknown, path: string): unknown {
  if (path === '') return data;
  let value = data;
  for (const part of path.slice(1).split('/').map(unescape)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function escape(part: string): string {
  return part.replaceAll('~', '~0').replaceAll('/', '~1');
}

function unescape(part: string): string {
  return part.replaceAll('~1', '/').replaceAll('~0', '~');
}
