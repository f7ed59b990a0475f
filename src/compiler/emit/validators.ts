import { Ajv2020 } from 'ajv/dist/2020.js';
import standalone from 'ajv/dist/standalone/index.js';
import type { App } from '../ir/ir.js';
import { endpointSchemaId, type JsonSchema } from '../schemas/json-schema.js';

export interface AppSchemas {
  readonly envelope: JsonSchema;
  /** By endpoint name: what the app publishes. */
  readonly endpoints: ReadonlyMap<string, JsonSchema>;
  /** By local name: what each subscription or observer requires. */
  readonly requirements: ReadonlyMap<string, JsonSchema>;
}

/**
 * Compiles an app's schemas into one standalone ES module of plain functions, so that the
 * runtime validates without Ajv compiling anything. The code must stand alone: `unicode:
 * false` keeps Ajv from importing its string-length helper, and any import left is a bug.
 */
export function emitValidators(app: App, schemas: AppSchemas, header: string): { js: string; dts: string } {
  const ajv = new Ajv2020({ strict: true, code: { source: true, esm: true, lines: true } });
  ajv.addSchema(schemas.envelope as object);
  for (const schema of schemas.endpoints.values()) ajv.addSchema(schema as object);
  for (const schema of schemas.requirements.values()) ajv.addSchema(schema as object);

  const exports: Record<string, string> = { validateEnvelope: String(schemas.envelope.$id) };
  for (const t of [...app.publications, ...app.ephemerals]) {
    exports[`validatePublished${t.name}`] = `${endpointSchemaId(t.endpoint.name)}#/$defs/${t.name}`;
  }
  for (const [name, schema] of schemas.requirements) exports[`validateSubscribed${name}`] = String(schema.$id);

  const code = standalone.default(ajv, exports);
  if (/\brequire\(|^import /m.test(code)) {
    throw new Error('internal error: Ajv standalone code imports a helper; the validators would not stand alone');
  }
  const dts = [
    header,
    "import type { CompiledValidator } from 'promiscuous/runtime';",
    '',
    ...Object.keys(exports).map((name) => `export declare const ${name}: CompiledValidator;`),
    '',
  ].join('\n');
  return { js: `${header}${code.replace(/^"use strict";/, '')}\n`, dts };
}
