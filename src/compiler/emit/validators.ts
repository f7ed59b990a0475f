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
 * runtime validates without Ajv compiling anything. Ajv's code generation slows down with the
 * number of validators in one instance, so they are compiled in small groups, each with only
 * the schemas it needs, and each group's code is wrapped in a function of its own. The code
 * must stand alone: any `require` or `import` left in it is a bug.
 */
export function emitValidators(app: App, schemas: AppSchemas, header: string): { js: string; dts: string } {
  const groups: { schemas: JsonSchema[]; exports: Record<string, string> }[] = [
    { schemas: [schemas.envelope], exports: { validateEnvelope: String(schemas.envelope.$id) } },
  ];
  for (const [endpoint, schema] of schemas.endpoints) {
    const exports: Record<string, string> = {};
    for (const t of [...app.publications, ...app.ephemerals].filter((t) => t.endpoint.name === endpoint)) {
      exports[`validatePublished${t.name}`] = `${endpointSchemaId(endpoint)}#/$defs/${t.name}`;
    }
    groups.push({ schemas: [schema], exports });
  }
  const requirements = [...schemas.requirements];
  for (let i = 0; i < requirements.length; i += groupSize) {
    const slice = requirements.slice(i, i + groupSize);
    groups.push({
      schemas: slice.map(([, schema]) => schema),
      exports: Object.fromEntries(slice.map(([name, schema]) => [`validateSubscribed${name}`, String(schema.$id)])),
    });
  }

  const chunks: string[] = [];
  const lines: string[] = [];
  for (const [index, group] of groups.entries()) {
    // The schemas are ours and checked by the tests: skip Ajv's meta-schema validation.
    const ajv = new Ajv2020({ strict: true, validateSchema: false, code: { source: true, lines: true } });
    for (const schema of group.schemas) ajv.addSchema(schema as object);
    const code = standalone.default(ajv, group.exports);
    if (/\brequire\(|^import /m.test(code)) {
      throw new Error('internal error: Ajv standalone code imports a helper; the validators would not stand alone');
    }
    const body = code.replace(/^"use strict";\n?/, '');
    chunks.push(`const group${index} = (function () {\nconst exports = {};\n${body}\nreturn exports;\n})();`);
    for (const name of Object.keys(group.exports)) lines.push(`export const ${name} = group${index}.${name};`);
  }
  const names = groups.flatMap((g) => Object.keys(g.exports));
  const dts = [
    header,
    "import type { CompiledValidator } from 'promiscuous/runtime';",
    '',
    ...names.map((name) => `export declare const ${name}: CompiledValidator;`),
    '',
  ].join('\n');
  return { js: `${header}${chunks.join('\n')}\n\n${lines.join('\n')}\n`, dts };
}

const groupSize = 16;
