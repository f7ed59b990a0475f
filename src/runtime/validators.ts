/**
 * Validators compiled by Ajv when first called. `promiscuous generate` writes each app's JSON
 * Schemas into its `validators.js` as plain data, and this module turns them into functions at
 * run time: generating Ajv's standalone code for every schema of every app was most of the
 * cost of `generate`, and a process only ever calls the validators of the messages it sees.
 */
import { Ajv2020, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { envelopeSchema, envelopeSchemaId } from '../common/envelope-schema.js';
import type { CompiledValidator } from './contract.js';

/**
 * Validators over a set of JSON Schemas (draft 2020-12) that refer to each other only by
 * `$id`. Nothing is compiled until a validator is called: the first call of any creates one
 * strict Ajv instance holding the schemas, and the first call of each validator compiles it
 * and keeps it. A schema that Ajv rejects throws on that first call.
 *
 * @param schemas every schema a reference may need, each with an `$id`
 * @returns a function from a reference (an `$id`, optionally with a fragment such as
 *   `#/$defs/User`) to its validator
 * @example
 * const validator = lazyValidators([{ $id: 'urn:example:user', type: 'object', required: ['name'] }]);
 * export const validateUser = validator('urn:example:user');
 */
export function lazyValidators(schemas: readonly SchemaObject[]): (ref: string) => CompiledValidator {
  let ajv: Ajv2020 | undefined;
  const instance = (): Ajv2020 => {
    // The tests compile every generated schema in strict mode, with its meta-schema checked;
    // checking it again in every process would only cost time. Every error is collected, so
    // that a parked message names each attribute that does not fit, not only the first.
    ajv ??= new Ajv2020({ strict: true, validateSchema: false, allErrors: true, schemas: [...schemas] });
    return ajv;
  };
  return (ref) => {
    let compiled: ValidateFunction | undefined;
    const validate: { (data: unknown): boolean; errors: readonly ErrorObject[] | null } = Object.assign(
      (data: unknown): boolean => {
        if (compiled === undefined) {
          compiled = instance().getSchema(ref);
          if (compiled === undefined) throw new Error(`no JSON Schema has the reference ${ref}`);
        }
        const valid = compiled(data) as boolean;
        validate.errors = compiled.errors ?? null;
        return valid;
      },
      { errors: null },
    );
    return validate;
  };
}

/** The message envelope's validator, shared by every app. */
export const validateEnvelope: CompiledValidator = lazyValidators([envelopeSchema as SchemaObject])(envelopeSchemaId);
