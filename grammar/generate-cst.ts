/**
 * Generates cst.ts, the types of the parser's CST nodes, from the grammar itself, so that the
 * AST builder's visitor names every rule and child through a checked type. A unit test fails
 * when the committed file is stale. Regenerate it with `npm run generate:cst`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateCstDts } from 'chevrotain';
import { format, resolveConfig } from 'prettier';
import { parser } from './parser.js';

export const cstTypesPath = fileURLToPath(new URL('./cst.ts', import.meta.url));

const header = `// Generated from grammar/parser.ts by grammar/generate-cst.ts: do not edit.\n\n`;

/** What cst.ts must hold for the grammar as it is now, formatted as the repository formats code. */
export async function cstTypes(): Promise<string> {
  const text = header + everyChildOptional(generateCstDts(parser.getGAstProductions()));
  const options = await resolveConfig(cstTypesPath);
  return format(text, { ...options, filepath: cstTypesPath });
}

/**
 * Chevrotain types a child the grammar always consumes as present, but error recovery can
 * leave any child out; a visitor typed by the generated children must therefore check each one.
 */
function everyChildOptional(dts: string): string {
  return dts.replace(/^( +\w+): (.+\[\];)$/gm, '$1?: $2');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = await cstTypes();
  const stale = !existsSync(cstTypesPath) || readFileSync(cstTypesPath, 'utf8') !== text;
  if (stale) writeFileSync(cstTypesPath, text);
  console.log(stale ? `wrote ${cstTypesPath}` : `${cstTypesPath} is up to date`);
}
