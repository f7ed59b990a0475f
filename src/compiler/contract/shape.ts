import type { JsonSchema } from '../schemas/json-schema.js';
import { type SchemaAttribute, schemaAttributes } from '../schemas/read-requirement.js';
import { LineIndex, type SourceFile, type Span } from '../source/source-file.js';
import { type Located, memberOffsets, pointer } from './locate.js';

/** An attribute of a published type, its own or inherited. */
export interface ShapeAttribute extends SchemaAttribute {
  /** The type that declares it: this one or an ancestor. */
  readonly declaredIn: string;
}

export interface TypeShape {
  readonly name: string;
  /** This type first, then each ancestor up to the root. */
  readonly ancestors: readonly string[];
  /** Every attribute a message of this type carries, its ancestors' first; the key included. */
  readonly attributes: readonly ShapeAttribute[];
  /** The primary key (`readOnly` in the schema); none for an ephemeral. */
  readonly key?: ShapeAttribute;
}

/**
 * An endpoint schema as the contract check compares it: each type with all its attributes,
 * and where each part of it is written in its file.
 */
export interface EndpointShape {
  /** `crowdtap/user` */
  readonly name: string;
  readonly app: string;
  readonly model: string;
  readonly file: SourceFile;
  readonly types: ReadonlyMap<string, TypeShape>;
  /** The embedded documents of its types, by model. */
  readonly documents: ReadonlyMap<string, readonly SchemaAttribute[]>;
  /** The span of the member at these keys, or of the nearest enclosing one that exists. */
  at(...keys: readonly string[]): Span;
}

const endpointId = /^urn:promiscuous:endpoint:([a-z0-9_]+)\/([A-Za-z0-9_]+)$/;

/**
 * The endpoint a parsed schema file describes; `undefined` when it describes none (the envelope,
 * a requirement), and an error when it is an endpoint schema that cannot be read.
 */
export function readEndpoint(file: SourceFile, schema: JsonSchema): EndpointShape | { error: string } | undefined {
  const id = typeof schema.$id === 'string' ? endpointId.exec(schema.$id) : null;
  if (!id) return undefined;
  const [, app, model] = id as unknown as [string, string, string];
  const defs = schema.$defs;
  if (typeof defs !== 'object' || defs === null) return { error: `\`${schema.$id}\` has no \`$defs\`` };
  const documents = new Map<string, readonly SchemaAttribute[]>();
  const own = new Map<string, { parent?: string; attributes: SchemaAttribute[]; key?: string }>();
  for (const [name, def] of Object.entries(defs as Record<string, JsonSchema>)) {
    const attributes = schemaAttributes(def);
    if (!attributes) return { error: `type \`${name}\` of \`${app}/${model}\` cannot be read` };
    if (def.description === 'embedded document') {
      documents.set(name, attributes);
      continue;
    }
    const properties = (def.properties ?? {}) as Record<string, JsonSchema>;
    const key = Object.keys(properties).find((p) => properties[p]?.readOnly === true);
    const parentRef: unknown = (def.allOf as JsonSchema[] | undefined)?.[0]?.$ref;
    const parent = typeof parentRef === 'string' ? parentRef.replace('#/$defs/', '') : undefined;
    own.set(name, { ...(parent ? { parent } : {}), attributes, ...(key ? { key } : {}) });
  }
  const types = new Map<string, TypeShape>();
  for (const name of own.keys()) {
    const type = flatten(name, own);
    if (!type) return { error: `type \`${name}\` of \`${app}/${model}\` has a parent that cannot be read` };
    types.set(name, type);
  }
  return { name: `${app}/${model}`, app, model, file, types, documents, at: locator(file) };
}

/** A type with its ancestors' attributes; `undefined` when its chain is broken or loops. */
function flatten(
  name: string,
  own: ReadonlyMap<string, { parent?: string; attributes: SchemaAttribute[]; key?: string }>,
): TypeShape | undefined {
  const ancestors: string[] = [];
  const attributes: ShapeAttribute[] = [];
  let key: ShapeAttribute | undefined;
  for (let current: string | undefined = name; current !== undefined;) {
    const def = own.get(current);
    if (!def || ancestors.includes(current)) return undefined;
    ancestors.push(current);
    const declaredIn = current;
    const declared = def.attributes.map((a) => ({ ...a, declaredIn }));
    attributes.unshift(...declared);
    key ??= declared.find((a) => a.name === def.key);
    current = def.parent;
  }
  return { name, ancestors, attributes, ...(key ? { key } : {}) };
}

function locator(file: SourceFile): EndpointShape['at'] {
  let members: Map<string, Located> | undefined;
  let lines: LineIndex | undefined;
  return (...keys) => {
    members ??= memberOffsets(file.text);
    lines ??= new LineIndex(file.path, file.text);
    for (let n = keys.length; n > 0; n--) {
      const found = members.get(pointer(...keys.slice(0, n)));
      if (found) return lines.span(found.offset, found.length);
    }
    return lines.span(0, 1);
  };
}
