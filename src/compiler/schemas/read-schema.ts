import { DiagnosticBag, type Result } from '../diagnostics/diagnostic.js';
import type { FieldType } from '../ir/ir.js';
import { scalarNames } from '../ir/ir.js';
import { LineIndex, type SourceFile } from '../source/source-file.js';
import type { CatalogEndpoint, CatalogType } from '../validate/catalog.js';
import { type JsonSchema, typeSchema } from './json-schema.js';

const endpointPrefix = 'urn:promiscuous:endpoint:';

/**
 * Reads endpoint schemas that another app exported (`promiscuous generate --schemas <dir>`)
 * back into catalog entries, so that a subscriber is checked against a publisher that is not
 * in its workspace. Files that are not endpoint schemas (the envelope) are skipped.
 */
export function readEndpointSchemas(files: readonly SourceFile[]): Result<CatalogEndpoint[]> {
  const bag = new DiagnosticBag();
  const endpoints: CatalogEndpoint[] = [];
  for (const file of files) {
    const at = new LineIndex(file.path, file.text).span(0, 1);
    let json: unknown;
    try {
      json = JSON.parse(file.text);
    } catch (error) {
      bag.error(
        'P501',
        at,
        `not JSON: ${(error as Error).message}`,
        'regenerate the schemas with `promiscuous generate`',
      );
      continue;
    }
    const schema = json as JsonSchema;
    const id = schema.$id;
    if (typeof id !== 'string' || !id.startsWith(endpointPrefix)) continue;
    const endpoint = id.slice(endpointPrefix.length);
    const [app, model] = endpoint.split('/');
    const defs = schema.$defs;
    if (!app || !model || typeof defs !== 'object' || defs === null) {
      bag.error('P501', at, `\`${id}\` has no \`$defs\``, 'regenerate the schemas with `promiscuous generate`');
      continue;
    }
    const types: CatalogType[] = [];
    for (const [name, def] of Object.entries(defs as Record<string, JsonSchema>)) {
      if (def.description === 'embedded document') continue;
      const type = readType(name, defs as Record<string, JsonSchema>);
      if (type) types.push(type);
      else
        bag.error(
          'P501',
          at,
          `type \`${name}\` of \`${endpoint}\` cannot be read`,
          'regenerate the schemas with `promiscuous generate`',
        );
    }
    endpoints.push({ name: endpoint, app, model, types });
  }
  return { value: endpoints, diagnostics: bag.items };
}

function readType(name: string, defs: Record<string, JsonSchema>): CatalogType | undefined {
  const ancestors: string[] = [];
  const attributes: { name: string; type: FieldType; nullable: boolean }[] = [];
  let idType: FieldType | undefined;
  let current: string | undefined = name;
  while (current !== undefined) {
    if (ancestors.includes(current)) return undefined;
    const def: JsonSchema | undefined = defs[current];
    if (!def || typeof def.properties !== 'object' || def.properties === null) return undefined;
    ancestors.push(current);
    const own: typeof attributes = [];
    for (const [attribute, schema] of Object.entries(def.properties as Record<string, JsonSchema>)) {
      const read = fieldType(schema);
      if (!read) return undefined;
      own.push({ name: attribute, ...read });
      if (schema.readOnly === true) idType = read.type;
    }
    attributes.unshift(...own);
    const parentRef: unknown = (def.allOf as JsonSchema[] | undefined)?.[0]?.$ref;
    current = typeof parentRef === 'string' ? parentRef.replace('#/$defs/', '') : undefined;
  }
  return { name, ancestors, ephemeral: idType === undefined, ...(idType ? { idType } : {}), attributes };
}

/** The inverse of `typeSchema`: `text` reads back as `string`, the one loss that does not matter. */
export function fieldType(schema: JsonSchema): { type: FieldType; nullable: boolean } | undefined {
  const { readOnly: _readOnly, ...rest } = schema;
  const anyOf = rest.anyOf as JsonSchema[] | undefined;
  if (anyOf?.length === 2 && JSON.stringify(anyOf[1]) === '{"type":"null"}' && anyOf[0]) {
    const inner = baseType(anyOf[0]);
    return inner ? { type: inner, nullable: true } : undefined;
  }
  const type = baseType(rest);
  return type ? { type, nullable: false } : undefined;
}

function baseType(schema: JsonSchema): FieldType | undefined {
  const text = JSON.stringify(schema);
  for (const name of scalarNames) {
    if (name !== 'text' && JSON.stringify(typeSchema({ kind: 'scalar', name }, false)) === text) {
      return { kind: 'scalar', name };
    }
  }
  if (Array.isArray(schema.enum)) return { kind: 'enum', values: schema.enum.map(String) };
  if (typeof schema.$ref === 'string')
    return { kind: 'embedded', model: schema.$ref.replace('#/$defs/', ''), many: false };
  if (schema.type === 'array' && typeof schema.items === 'object' && schema.items !== null) {
    const items = schema.items as JsonSchema;
    if (typeof items.$ref === 'string')
      return { kind: 'embedded', model: items.$ref.replace('#/$defs/', ''), many: true };
    const of = baseType(items);
    return of ? { kind: 'array', of } : undefined;
  }
  return undefined;
}
