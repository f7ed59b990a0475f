import { register } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A module that could not be loaded for want of a TypeScript loader; says how to get one. */
export class NoTypeScriptLoader extends Error {
  constructor(file: string) {
    super(
      `${file} is TypeScript, and nothing here can load it: install tsx (\`npm install tsx\`), run Node 22.18 or later, or compile it and run the .js file`,
    );
    this.name = 'NoTypeScriptLoader';
  }
}

type TsImport = (specifier: string, parent: string) => Promise<unknown>;
let tsx: Promise<TsImport | undefined> | undefined;

/** tsx's `tsImport`, if tsx is installed: an optional peer, needed only to load `.ts` files on Node 20. */
function tsxImport(): Promise<TsImport | undefined> {
  tsx ??= import('tsx/esm/api').then(
    (api) => api.tsImport as TsImport,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ERR_MODULE_NOT_FOUND') return undefined;
      throw error;
    },
  );
  return tsx;
}

/**
 * Imports a module by its path: JavaScript natively; TypeScript through tsx when it is
 * installed, or else through Node's own type stripping where Node has it.
 */
export async function importFile(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(resolve(file)).href;
  if (!/\.[cm]?ts$/.test(file)) return import(url);
  const tsImport = await tsxImport();
  if (tsImport) return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  if ((process.features as { typescript?: unknown }).typescript) return import(url);
  throw new NoTypeScriptLoader(file);
}

const esmFolders = new Set<string>();

/**
 * Loads every `.js` and `.ts` module under `folder` as an ES module, whatever the nearest
 * package.json says. The generated code is written as ES modules; in a CommonJS package Node
 * (and tsx) would load it as CommonJS, and with it a second copy of the runtime.
 */
export function loadAsEsm(folder: string): void {
  const url = pathToFileURL(`${resolve(folder)}/`).href;
  if (esmFolders.has(url)) return;
  esmFolders.add(url);
  register(new URL('./esm-folder-hooks.js', import.meta.url), { data: { folder: url } });
}
