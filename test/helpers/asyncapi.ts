import { type AsyncAPIDocumentInterface, Parser } from '@asyncapi/parser';
import { Ajv, type ValidateFunction } from 'ajv';

const parser = new Parser();

/** What the AsyncAPI project's parser makes of a document: the document, and its problems worse than a hint. */
export interface Parsed {
  readonly document: AsyncAPIDocumentInterface | undefined;
  /** Errors and warnings, one line each: `error <code> at <path>: <message>`. */
  readonly problems: string[];
}

const severities = ['error', 'warning', 'information', 'hint'];

/**
 * Parses a document with `@asyncapi/parser`: the specification's JSON Schema, its Spectral
 * rules, and `$ref` resolution. Errors and warnings are problems; the parser's information
 * (a newer AsyncAPI version exists) and hints are not.
 */
export function parseAsyncApi(text: string): Promise<Parsed> {
  // Parsing takes the better part of a second: each text once per process.
  let parsed = cache.get(text);
  if (!parsed) cache.set(text, (parsed = parse(text)));
  return parsed;
}

const cache = new Map<string, Promise<Parsed>>();

async function parse(text: string): Promise<Parsed> {
  const { document, diagnostics } = await parser.parse(text);
  const problems = diagnostics
    .filter((d) => d.severity <= 1)
    .map((d) => `${severities[d.severity]} ${d.code} at ${d.path.join('/')}: ${d.message}`);
  return { document, problems };
}

/** A document the parser accepted, or a failure that prints every problem it found. */
export async function parseValid(text: string, name: string): Promise<AsyncAPIDocumentInterface> {
  const { document, problems } = await parseAsyncApi(text);
  if (!document || problems.length > 0) {
    throw new Error(`${name} is not a valid AsyncAPI document:\n  ${problems.join('\n  ')}`);
  }
  return document;
}

// The parser adds `x-parser-*` keywords to the schemas it resolved: not strict, so that Ajv ignores them.
const ajv = new Ajv({ strict: false, allErrors: true });

/** A validator of a message's payload (or headers), compiled from the schema the parser resolved. */
export function messageValidator(
  document: AsyncAPIDocumentInterface,
  message: string,
  part: 'payload' | 'headers' = 'payload',
): ValidateFunction {
  const found = document.components().messages().get(message);
  const schema = part === 'payload' ? found?.payload() : found?.headers();
  if (!schema) throw new Error(`the document has no ${part} for message ${message}`);
  return ajv.compile(schema.json() as object);
}

/** A validator of a component schema, as the parser resolved it. */
export function schemaValidator(document: AsyncAPIDocumentInterface, id: string): ValidateFunction {
  const schema = document.components().schemas().get(id);
  if (!schema) throw new Error(`the document has no schema ${id}`);
  return ajv.compile(schema.json() as object);
}
