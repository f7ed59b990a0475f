import type { FieldType } from '../ir/ir.js';
import type { JsonSchema } from './json-schema.js';
import { fieldType } from './read-schema.js';

/** An attribute as a schema file gives it. An untyped one (`{}`) reads as `json`: it accepts any value. */
export interface SchemaAttribute {
  readonly name: string;
  readonly type: FieldType;
  readonly nullable: boolean;
}

/**
 * What one subscription or observer requires, read back from the file `generate` writes for it
 * (`<app>/schemas/requires/<name>.schema.json`): the inverse of `requirementSchema`.
 */
export interface RequirementFile {
  readonly path: string;
  readonly kind: 'subscription' | 'observer';
  readonly app: string;
  /** The local name. */
  readonly name: string;
  /** The published type it receives. */
  readonly type: string;
  /** Its source, as the routes say it: an endpoint or a routing-key pattern. */
  readonly from: string;
  readonly attributes: readonly SchemaAttribute[];
  /** The embedded documents its attributes hold, by model, as its `$defs` give them. */
  readonly documents: ReadonlyMap<string, readonly SchemaAttribute[]>;
}

const requirementId = /^urn:promiscuous:(subscription|observer):([a-z0-9_]+)\/([A-Za-z0-9_]+)$/;
/** `requirementSchema`'s title: `<name> (<type> from <source>)`. */
const requirementTitle = /^([A-Za-z0-9_]+) \(([A-Za-z0-9_]+) from (\S+)\)$/;

/**
 * The requirement a parsed schema file holds; `undefined` when it is no requirement (an
 * endpoint schema, the envelope), and an error when it is one that cannot be read.
 */
export function readRequirement(path: string, schema: JsonSchema): RequirementFile | { error: string } | undefined {
  const id = typeof schema.$id === 'string' ? requirementId.exec(schema.$id) : null;
  if (!id) return undefined;
  const [, kind, app, name] = id as unknown as [string, 'subscription' | 'observer', string, string];
  const title = typeof schema.title === 'string' ? requirementTitle.exec(schema.title) : null;
  if (!title || title[1] !== name) {
    return { error: `\`${schema.$id}\` has no title \`${name} (<type> from <source>)\`` };
  }
  const attributes = schemaAttributes(schema);
  if (!attributes) return { error: `\`${schema.$id}\` has an attribute whose type cannot be read` };
  const documents = new Map<string, readonly SchemaAttribute[]>();
  for (const [model, def] of Object.entries((schema.$defs ?? {}) as Record<string, JsonSchema>)) {
    const fields = schemaAttributes(def);
    if (!fields) return { error: `\`${schema.$id}\`: the document \`${model}\` cannot be read` };
    documents.set(model, fields);
  }
  return { path, kind, app, name, type: title[2] as string, from: title[3] as string, attributes, documents };
}

/**
 * The attributes of an object schema's `properties`, each typed as `typeSchema` wrote it; an
 * object schema without `properties` (a document whose model was unknown) has none.
 */
export function schemaAttributes(schema: JsonSchema): SchemaAttribute[] | undefined {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  if (typeof properties !== 'object' || properties === null) return undefined;
  const out: SchemaAttribute[] = [];
  for (const [name, property] of Object.entries(properties)) {
    const read = fieldType(property);
    if (!read) return undefined;
    out.push({ name, ...read });
  }
  return out;
}
