import { envelopeSchema as sharedEnvelopeSchema } from '../../common/envelope-schema.js';
import type { App, EmbeddedModel, Field, FieldType, ScalarName, SubscribedAttribute } from '../ir/ir.js';

/**
 * JSON Schemas (draft 2020-12) of the wire format. They compile under `new Ajv2020({ strict:
 * true })`: no unknown keywords, no formats (patterns instead), a `type` beside every keyword
 * that needs one. Endpoint schemas are what a publisher exports for its subscribers; the
 * `--schemas` reader turns them back into a catalog (see read-schema.ts).
 */

export type JsonSchema = { readonly [key: string]: unknown };

export const schemaDialect = 'https://json-schema.org/draft/2020-12/schema';

export const patterns = {
  uuid: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
  bigint: '^-?[0-9]+$',
  decimal: '^-?[0-9]+(\\.[0-9]+)?$',
  date: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
  timestamp: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$',
} as const;

/** Each scalar's wire form. `text` is a `string`; big and exact numbers travel as strings. */
const scalarSchemas: Record<ScalarName, JsonSchema> = {
  string: { type: 'string' },
  text: { type: 'string' },
  integer: { type: 'integer' },
  bigint: { type: 'string', pattern: patterns.bigint },
  decimal: { type: 'string', pattern: patterns.decimal },
  float: { type: 'number' },
  boolean: { type: 'boolean' },
  date: { type: 'string', pattern: patterns.date },
  timestamp: { type: 'string', pattern: patterns.timestamp },
  uuid: { type: 'string', pattern: patterns.uuid },
  json: {},
};

export function endpointSchemaId(endpoint: string): string {
  return `urn:promiscuous:endpoint:${endpoint}`;
}

export function typeSchema(type: FieldType, nullable: boolean, refPrefix = '#/$defs/'): JsonSchema {
  const schema = baseSchema(type, refPrefix);
  if (!nullable) return schema;
  if (type.kind === 'scalar' && type.name === 'json') return schema;
  return { anyOf: [schema, { type: 'null' }] };
}

function baseSchema(type: FieldType, refPrefix: string): JsonSchema {
  switch (type.kind) {
    case 'scalar':
      return scalarSchemas[type.name];
    case 'enum':
      return { type: 'string', enum: type.values };
    case 'array':
      return { type: 'array', items: baseSchema(type.of, refPrefix) };
    case 'embedded':
      return type.many
        ? { type: 'array', items: { $ref: `${refPrefix}${type.model}` } }
        : { $ref: `${refPrefix}${type.model}` };
  }
}

/** The attributes object of a published type: every published field, all required. */
function attributesSchema(
  title: string,
  fields: readonly Field[],
  primaryKey: string | undefined,
  parent?: string,
): JsonSchema {
  const published = fields.filter((f) => !f.private && (parent === undefined || f.own));
  const properties: Record<string, JsonSchema> = {};
  for (const field of published) {
    const schema = typeSchema(field.type, field.nullable);
    // `readOnly` marks the primary key: it is owned by the publisher, and the reader finds it by it.
    properties[field.name] = field.name === primaryKey ? { ...schema, readOnly: true } : schema;
  }
  return {
    title,
    ...(parent === undefined ? {} : { allOf: [{ $ref: `#/$defs/${parent}` }] }),
    type: 'object',
    properties,
    required: published.map((f) => f.name),
  };
}

/** The schema of the attributes published on one endpoint: one `$defs` entry per type. */
export function endpointSchema(app: App, endpoint: string, comment: string): JsonSchema {
  const defs: Record<string, JsonSchema> = {};
  const embedded = new Set<string>();
  const publications = app.publications.filter((p) => p.endpoint.name === endpoint);
  const ephemerals = app.ephemerals.filter((e) => e.endpoint.name === endpoint);
  for (const p of publications) {
    defs[p.name] = attributesSchema(p.name, p.fields, p.primaryKey, p.parent);
    collectEmbedded(p.fields, embedded);
  }
  for (const e of ephemerals) defs[e.name] = attributesSchema(e.name, e.fields, undefined);
  for (const name of [...embedded].sort()) {
    const model = app.embedded.find((m) => m.name === name) as EmbeddedModel;
    defs[name] = { ...attributesSchema(name, model.fields, model.primaryKey), description: 'embedded document' };
  }
  const types = [...publications.map((p) => p.name), ...ephemerals.map((e) => e.name)];
  return {
    $schema: schemaDialect,
    $id: endpointSchemaId(endpoint),
    $comment: comment,
    title: endpoint,
    description: `Attributes of the operations that app \`${app.name}\` publishes on \`${endpoint}\`, by type.`,
    anyOf: types.map((t) => ({ $ref: `#/$defs/${t}` })),
    $defs: defs,
  };
}

function collectEmbedded(fields: readonly Field[], into: Set<string>): void {
  for (const f of fields) if (f.type.kind === 'embedded') into.add(f.type.model);
}

/**
 * What a subscriber requires of an operation's attributes: the attributes it subscribes to,
 * typed when the publisher is known. Extra attributes are allowed, so that publishers can add
 * attributes before subscribers use them. An attribute its publisher declares nullable may be
 * absent, so that a subscriber generated after the publisher added it still applies the
 * messages of the publisher's older version; one the publisher declares non-null, or whose
 * publisher is unknown, is required.
 */
export function requirementSchema(
  id: string,
  comment: string,
  title: string,
  attributes: readonly SubscribedAttribute[],
  embedded: readonly EmbeddedModel[],
): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const refs = new Set<string>();
  for (const a of attributes) {
    properties[a.name] = a.type ? typeSchema(a.type, a.nullable ?? false) : {};
    if (a.type?.kind === 'embedded') refs.add(a.type.model);
  }
  const defs: Record<string, JsonSchema> = {};
  for (const name of [...refs].sort()) {
    const model = embedded.find((m) => m.name === name);
    defs[name] = model ? attributesSchema(name, model.fields, model.primaryKey) : { type: 'object' };
  }
  return {
    $schema: schemaDialect,
    $id: id,
    $comment: comment,
    title,
    type: 'object',
    properties,
    required: attributes.filter((a) => a.nullable !== true).map((a) => a.name),
    ...(refs.size > 0 ? { $defs: defs } : {}),
  };
}

/** The message envelope: one per publisher transaction, the same for every app. */
export function envelopeSchema(comment: string): JsonSchema {
  const { $schema, $id, ...rest } = sharedEnvelopeSchema;
  return { $schema, $id, $comment: comment, ...rest };
}
