/**
 * An app's migrations: the snapshot read from its folder and what the routes need give the
 * next migration (none when nothing changed), the new snapshot, and `migrations.ts`. The folder
 * and the clock are inputs, so that the emitter reads nothing and the same inputs give the
 * same files.
 */
import { migrationHeader } from '../../../../templates/header.js';
import type { App } from '../../ir/ir.js';
import { diff } from './diff.js';
import { emitMigrationsModule } from './module.js';
import { databaseNeeds } from './needs.js';
import { printMigration } from './print.js';
import {
  emptySnapshot,
  legacyBaseline,
  legacyMigration,
  parseSnapshot,
  printSnapshot,
  type Snapshot,
  snapshotFile,
} from './snapshot.js';

/** A file to write, relative to the output folder (the shape of `EmittedFile`). */
interface MigrationFile {
  readonly path: string;
  readonly content: string;
}

/** What an app's migrations folder holds. */
export interface MigrationFolder {
  /** The names of the files in it. */
  readonly files: readonly string[];
  /** The text of `snapshot.json`, when there is one. */
  readonly snapshot?: string;
  /** The text of `promiscuous.ts`, the single migration of earlier versions, when there is one. */
  readonly legacy?: string;
}

export interface MigrationInput {
  /** Now: a new migration is named after it (in UTC), or after the app's latest if that is later. */
  readonly now: Date;
  /** By app; an app without one has an empty folder. */
  readonly folders?: ReadonlyMap<string, MigrationFolder>;
}

/** A generated migration's name: 14 digits of UTC time, `_`, words of what it does. */
const generatedName = /^(\d{14})_[a-z0-9_]+\.ts$/;

export function emitMigrations(app: App, header: string, hash: string, input: MigrationInput): MigrationFile[] {
  const dir = `${app.name}/migrations`;
  const folder = input.folders?.get(app.name) ?? { files: [] };
  const existing = folder.files.filter((f) => generatedName.test(f) || f === legacyMigration).sort(compare);
  const { previous, adopting } = baseline(app.name, dir, folder, existing);
  const needs = databaseNeeds(app);
  const name = `${stamp(input.now, existing)}_`;
  const first = diff(previous, needs, `${name}.ts`, adopting);
  const files: MigrationFile[] = [];
  let snapshot: Snapshot = first.snapshot;
  let migrations = existing;
  if (first.changes.length > 0) {
    // Named after what it does, which only the changes tell: the same diff again under that name.
    const file = `${name}${slug(first.changes)}.ts`;
    const named = diff(previous, needs, file, adopting);
    snapshot = named.snapshot;
    migrations = [...existing, file].sort(compare);
    files.push({ path: `${dir}/${file}`, content: printMigration(migrationHeader(hash), app.name, named.changes) });
  }
  files.push({ path: `${dir}/${snapshotFile}`, content: printSnapshot(snapshot) });
  files.push({ path: `${app.name}/migrations.ts`, content: emitMigrationsModule(header, needs, snapshot, migrations) });
  return files;
}

function baseline(
  app: string,
  dir: string,
  folder: MigrationFolder,
  existing: readonly string[],
): { previous: Snapshot; adopting: boolean } {
  if (folder.snapshot !== undefined) {
    return { previous: parseSnapshot(folder.snapshot, `${dir}/${snapshotFile}`, app), adopting: false };
  }
  if (folder.legacy !== undefined) return { previous: legacyBaseline(folder.legacy, app), adopting: true };
  const generated = existing.filter((f) => f !== legacyMigration);
  if (generated.length > 0) {
    throw new Error(
      `${dir} holds migrations (${generated.join(', ')}) but no ${snapshotFile}: restore it from version control`,
    );
  }
  return { previous: emptySnapshot(app), adopting: false };
}

/** The time as 14 digits in UTC, after every generated migration of the app even within one second. */
function stamp(now: Date, existing: readonly string[]): string {
  const latest = existing
    .map((f) => generatedName.exec(f)?.[1])
    .filter((s) => s !== undefined)
    .sort(compare)
    .at(-1);
  const wanted = digits(now);
  if (latest === undefined || wanted > latest) return wanted;
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((at, i) => Number(latest.slice(at, at + (i === 0 ? 4 : 2))));
  return digits(new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, (s as number) + 1)));
}

function digits(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** A few words of what the migration does, for its file name. */
function slug(changes: ReturnType<typeof diff>['changes']): string {
  const words: string[] = [];
  for (const c of changes) {
    if (c.kind === 'outbox') words.push('outbox');
    else if (c.kind === 'versions') words.push('versions');
    else if (c.kind === 'refresh') words.push('refresh');
    else if (c.kind === 'sinks') words.push('sinks');
    else if (c.kind === 'version') words.push(`${c.table}_v`);
    else if (c.kind === 'derived') words.push(...c.columns.map((col) => `${c.table}_${col.name}`));
    else if (c.kind === 'create' || c.kind === 'adopt') words.push(c.table.name);
    else if (c.kind === 'columns') words.push(...c.columns.map((col) => `${c.table}_${col.name}`));
    else if (c.kind === 'nullable') words.push(`${c.table}_nullable`);
  }
  const all = (words.length > 0 ? words : ['kept'])
    .join('_')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_');
  if (all.length <= 48) return all;
  const cut = all.slice(0, 48);
  return cut.slice(0, cut.lastIndexOf('_') > 0 ? cut.lastIndexOf('_') : 48);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
