import type { App } from '../ir/ir.js';
import { endpointSchemaId, type JsonSchema } from '../schemas/json-schema.js';
import { quote } from './literal.js';

export interface AppSchemas {
  readonly envelope: JsonSchema;
  /** By endpoint name: what the app publishes. */
  readonly endpoints: ReadonlyMap<string, JsonSchema>;
  /** By local name: what each subscription or observer requires. */
  readonly requirements: ReadonlyMap<string, JsonSchema>;
}

/**
 * `validators.js`: the app's endpoint and requirement schemas as data, and one validator per
 * published type and per subscription or observer, which the runtime's `lazyValidators`
 * compiles with Ajv on its first call. Generating Ajv's standalone code here instead cost
 * two thirds of `generate`, for validators that most processes never call. The schemas are
 * inlined rather than imported from the `.schema.json` files: import attributes do not parse
 * before Node 20.10 (`engines` allows 20.0), and JSON modules warned as experimental in several
 * later 20.x releases.
 * The envelope's validator is the runtime's own, the same for every app.
 */
export function emitValidators(app: App, schemas: AppSchemas, header: string): { js: string; dts: string } {
  const validators: [name: string, ref: string][] = [];
  for (const endpoint of schemas.endpoints.keys()) {
    for (const t of [...app.publications, ...app.ephemerals].filter((t) => t.endpoint.name === endpoint)) {
      validators.push([`validatePublished${t.name}`, `${endpointSchemaId(endpoint)}#/$defs/${t.name}`]);
    }
  }
  for (const [name, schema] of schemas.requirements) validators.push([`validateSubscribed${name}`, String(schema.$id)]);

  // Without `$comment`: the module's header already says where the schemas come from.
  const data = [...schemas.endpoints.values(), ...schemas.requirements.values()].map(
    ({ $comment: _comment, ...schema }) => schema,
  );
  const js = [
    header,
    "import { lazyValidators } from 'promiscuous/runtime';",
    '',
    "export { validateEnvelope } from 'promiscuous/runtime';",
    '',
    "// The app's JSON Schemas (draft 2020-12); the runtime's Ajv compiles each validator on its first call.",
    `const validator = lazyValidators(${JSON.stringify(data, null, 2)});`,
    '',
    ...validators.map(([name, ref]) => `export const ${name} = validator(${quote(ref)});`),
    '',
  ].join('\n');
  const dts = [
    header,
    "import type { CompiledValidator } from 'promiscuous/runtime';",
    '',
    ...['validateEnvelope', ...validators.map(([name]) => name)].map(
      (name) => `export declare const ${name}: CompiledValidator;`,
    ),
    '',
  ].join('\n');
  return { js, dts };
}
