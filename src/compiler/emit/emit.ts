import { createHash } from 'node:crypto';
import { codeHeader, jsonHeader, regenerateCommand, regenerateMocksCommand } from '../../../templates/header.js';
import type { App, Workspace } from '../ir/ir.js';
import { endpointSchema, envelopeSchema, type JsonSchema, requirementSchema } from '../schemas/json-schema.js';
import { emitAsyncApi } from './asyncapi.js';
import { emitFactories } from './factories.js';
import { emitHooks } from './hooks.js';
import { emitMigrations, type MigrationInput } from './migrations/emit-migrations.js';
import { emitPublisher } from './publisher.js';
import { emitSubscriber } from './subscriber.js';
import { emitValidators } from './validators.js';

export interface EmittedFile {
  /** Relative to the output folder, with `/` separators. */
  readonly path: string;
  readonly content: string;
}

/** The hash of the normalised routes: the IR, which both front ends produce identically. */
export function workspaceHash(workspace: Workspace): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(workspace)).digest('hex').slice(0, 16)}`;
}

/**
 * Every file `promiscuous generate` writes, sorted by path. `migrations` says what each app's
 * migrations folder holds and what time it is, for the next migration's name; without it,
 * every folder is empty and the clock stands at the epoch.
 */
export function emitWorkspace(workspace: Workspace, migrations: MigrationInput = { now: new Date(0) }): EmittedFile[] {
  const hash = workspaceHash(workspace);
  const header = codeHeader(hash, regenerateCommand);
  const comment = jsonHeader(hash, regenerateCommand);
  const files: EmittedFile[] = [];
  for (const app of workspace.apps) {
    const dir = `${app.name}/`;
    const publishes = app.publications.length + app.ephemerals.length > 0;
    const subscribes = app.subscriptions.length + app.observers.length > 0;
    const schemas = appSchemas(app, comment);
    for (const [endpoint, schema] of schemas.endpoints) {
      files.push({ path: `${dir}schemas/${endpoint.replace('/', '.')}.schema.json`, content: json(schema) });
    }
    files.push({ path: `${dir}schemas/envelope.schema.json`, content: json(schemas.envelope) });
    for (const [name, schema] of schemas.requirements)
      files.push({ path: `${dir}schemas/requires/${name}.schema.json`, content: json(schema) });
    const validators = emitValidators(app, schemas, header);
    files.push({ path: `${dir}validators.js`, content: validators.js });
    files.push({ path: `${dir}validators.d.ts`, content: validators.dts });
    if (publishes) files.push({ path: `${dir}publisher.ts`, content: emitPublisher(app, header) });
    if (subscribes) files.push({ path: `${dir}subscriber.ts`, content: emitSubscriber(app, header) });
    files.push(...emitMigrations(app, header, hash, migrations));
    files.push({ path: `${dir}index.ts`, content: indexModule(header, publishes, subscribes) });
    files.push({ path: `${dir}asyncapi.json`, content: emitAsyncApi(app, schemas, hash, comment) });
  }
  // Beside the apps' folders: it gathers every app's hook types, for the config.
  if (workspace.apps.length > 0) files.push({ path: 'hooks.ts', content: emitHooks(workspace, header) });
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The files `promiscuous generate mocks` writes: one factories module per publishing app. */
export function emitMocks(workspace: Workspace): EmittedFile[] {
  const header = codeHeader(workspaceHash(workspace), regenerateMocksCommand);
  return workspace.apps
    .filter((app) => app.publications.length + app.ephemerals.length > 0)
    .map((app) => ({ path: `${app.name}/factories.ts`, content: emitFactories(app, header) }));
}

function appSchemas(app: App, comment: string) {
  const endpoints = new Map<string, JsonSchema>();
  const names = [...new Set([...app.publications, ...app.ephemerals].map((t) => t.endpoint.name))].sort();
  for (const endpoint of names) endpoints.set(endpoint, endpointSchema(app, endpoint, comment));
  const requirements = new Map<string, JsonSchema>();
  for (const s of app.subscriptions) {
    const id = `urn:promiscuous:subscription:${app.name}/${s.name}`;
    requirements.set(
      s.name,
      requirementSchema(id, comment, `${s.name} (${s.type} from ${s.source.from})`, s.attributes, app.embedded),
    );
  }
  for (const o of app.observers) {
    const id = `urn:promiscuous:observer:${app.name}/${o.name}`;
    requirements.set(
      o.name,
      requirementSchema(id, comment, `${o.name} (${o.type} from ${o.source.from})`, o.attributes, app.embedded),
    );
  }
  return { envelope: envelopeSchema(comment), endpoints, requirements };
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function indexModule(header: string, publishes: boolean, subscribes: boolean): string {
  const lines = [header];
  if (publishes) lines.push("export * as publisher from './publisher.js';");
  if (subscribes) lines.push("export * as subscriber from './subscriber.js';");
  lines.push("export * as migrations from './migrations.js';", "export * as validators from './validators.js';", '');
  return lines.join('\n');
}
