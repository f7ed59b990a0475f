/**
 * The contract check: the endpoints the routes publish now, against their released schemas,
 * with every known subscriber. It reads no files: the command lends it the released and
 * exported schema files (see cli/contract.ts).
 */
import { regenerateCommand, jsonHeader } from '../../../templates/header.js';
import { type Diagnostic, DiagnosticBag } from '../diagnostics/diagnostic.js';
import { workspaceHash } from '../emit/emit.js';
import type { Workspace } from '../ir/ir.js';
import { endpointSchema, type JsonSchema } from '../schemas/json-schema.js';
import { readRequirement, type RequirementFile } from '../schemas/read-requirement.js';
import { LineIndex, type SourceFile } from '../source/source-file.js';
import { compareEndpoints } from './compare.js';
import type { Finding } from './findings.js';
import { type EndpointShape, readEndpoint } from './shape.js';
import { knownSubscribers } from './subscribers.js';

export interface ContractInput {
  readonly workspace: Workspace;
  /** The folder `generate` writes to: the current schemas are named as if written there. */
  readonly generated: string;
  /** Every schema file of the release: endpoint schemas, and requirement files if it has them. */
  readonly released: readonly SourceFile[];
  /** Schema files other apps exported (`--schemas`): their requirement files are subscribers. */
  readonly exported?: readonly SourceFile[];
}

export interface ContractResult {
  /** Sorted by file and position. */
  readonly findings: readonly Finding[];
  /** Schema files that cannot be read (P501): the check was not made. */
  readonly diagnostics: readonly Diagnostic[];
  /** Every schema's text by path, for rendering. */
  readonly sources: ReadonlyMap<string, string>;
  /** The endpoints compared, released or current. */
  readonly compared: readonly string[];
  /** The released endpoints of the routes' apps. */
  readonly released: readonly string[];
  /** Released endpoints of apps these routes do not declare: not compared. */
  readonly skipped: readonly string[];
}

export function checkContract(input: ContractInput): ContractResult {
  const bag = new DiagnosticBag();
  const sources = new Map<string, string>();
  const current = currentSchemas(input.workspace, input.generated);
  const read = (files: readonly SourceFile[], endpoints = true) => readSchemaFiles(files, bag, sources, endpoints);
  const now = read(current);
  const released = read(input.released);
  // Of the exported schemas, only requirement files matter here: the endpoint schemas were
  // read when the routes were compiled against them.
  const exported = read(input.exported ?? [], false);
  if (bag.items.length > 0) {
    return { findings: [], diagnostics: bag.items, sources, compared: [], released: [], skipped: [] };
  }
  const apps = new Set(input.workspace.apps.map((a) => a.name));
  const compared = released.endpoints.filter((e) => apps.has(e.app));
  const skipped = released.endpoints.filter((e) => !apps.has(e.app)).map((e) => e.name);
  const subscribers = knownSubscribers(input.workspace, released.requirements, exported.requirements);
  return {
    findings: compareEndpoints(compared, now.endpoints, subscribers),
    diagnostics: [],
    sources,
    compared: [...new Set([...compared, ...now.endpoints].map((e) => e.name))].sort(),
    released: compared.map((e) => e.name).sort(),
    skipped: skipped.sort(),
  };
}

/** Each endpoint schema of the routes, with the path and the text `generate` gives it. */
export function currentSchemas(workspace: Workspace, generated: string): SourceFile[] {
  const comment = jsonHeader(workspaceHash(workspace), regenerateCommand);
  return workspace.apps.flatMap((app) => {
    const names = [...new Set([...app.publications, ...app.ephemerals].map((t) => t.endpoint.name))].sort();
    return names.map((endpoint) => ({
      path: `${generated}/${app.name}/schemas/${endpoint.replace('/', '.')}.schema.json`,
      text: `${JSON.stringify(endpointSchema(app, endpoint, comment), null, 2)}\n`,
    }));
  });
}

function readSchemaFiles(
  files: readonly SourceFile[],
  bag: DiagnosticBag,
  sources: Map<string, string>,
  withEndpoints: boolean,
): { endpoints: EndpointShape[]; requirements: RequirementFile[] } {
  const endpoints = new Map<string, EndpointShape>();
  const requirements: RequirementFile[] = [];
  const fail = (file: SourceFile, message: string) =>
    bag.error(
      'P501',
      new LineIndex(file.path, file.text).span(0, 1),
      message,
      'regenerate it with `promiscuous generate`',
    );
  for (const file of files) {
    sources.set(file.path, file.text);
    let schema: JsonSchema;
    try {
      schema = JSON.parse(file.text) as JsonSchema;
    } catch (error) {
      fail(file, `not JSON: ${(error as Error).message}`);
      continue;
    }
    if (typeof schema !== 'object' || schema === null) continue;
    const found = (withEndpoints ? readEndpoint(file, schema) : undefined) ?? readRequirement(file.path, schema);
    if (!found) continue;
    if ('error' in found) {
      fail(file, found.error);
    } else if ('types' in found) {
      const twice = endpoints.get(found.name);
      if (twice) fail(file, `\`${found.name}\` is given twice, here and in ${twice.file.path}: give one`);
      else endpoints.set(found.name, found);
    } else {
      requirements.push(found);
    }
  }
  return { endpoints: [...endpoints.values()], requirements };
}
