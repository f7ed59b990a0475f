import { printStructure, type StatementStructures, StructureKind } from 'ts-morph';

/**
 * Prints generated TypeScript from ts-morph structures, with one pinned format (two-space
 * indentation, single quotes, LF), so that output is byte-identical from run to run. The
 * structures are printed straight to text: a ts-morph source file would also parse that text
 * into a syntax tree that nothing reads, which took most of the printing time.
 */
const format = { indentNumberOfSpaces: 2, useSingleQuote: true, newLine: '\n' } as const;

export type Statement = StatementStructures | string;

export function printModule(header: string, statements: Statement[]): string {
  const text = printStructure({ kind: StructureKind.SourceFile, statements }, format);
  return `${header}\n${separate(text.trim())}\n`;
}

/** One blank line before each top-level declaration (and its doc comment), none elsewhere. */
function separate(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const previous = out.at(-1);
    if (line === '' && (previous === '' || previous === undefined)) continue;
    const starts = line.startsWith('/**') || line.startsWith('export ');
    const afterDoc = previous !== undefined && (previous.startsWith(' */') || previous.startsWith('/**'));
    if (starts && previous !== undefined && previous !== '' && !afterDoc && !previous.startsWith('import '))
      out.push('');
    if (line !== '' && !line.startsWith('import ') && previous?.startsWith('import ')) out.push('');
    out.push(line);
  }
  return out.join('\n');
}

export function importTypes(names: readonly string[], from: string): StatementStructures {
  return {
    kind: StructureKind.ImportDeclaration,
    isTypeOnly: true,
    namedImports: [...new Set(names)].sort(),
    moduleSpecifier: from,
  };
}

export function importValues(names: readonly string[], from: string): StatementStructures {
  return { kind: StructureKind.ImportDeclaration, namedImports: [...new Set(names)].sort(), moduleSpecifier: from };
}

export function importNamespace(name: string, from: string): StatementStructures {
  return { kind: StructureKind.ImportDeclaration, namespaceImport: name, moduleSpecifier: from };
}

/**
 * An exported constant, as text: ts-morph re-indents multi-line initializers given as
 * structures, and these initializers are already printed with their own indentation.
 */
export function constant(name: string, initializer: string, docs?: string, type?: string): string {
  const doc = docs ? `/** ${safeDoc(docs)} */\n` : '';
  return `${doc}export const ${name}${type ? `: ${type}` : ''} = ${initializer};`;
}

export function iface(
  name: string,
  properties: readonly string[],
  docs?: string,
  extendsTypes: readonly string[] = [],
): StatementStructures {
  return {
    kind: StructureKind.Interface,
    isExported: true,
    name,
    extends: [...extendsTypes],
    ...(docs ? { docs: [safeDoc(docs)] } : {}),
    properties: properties.map((p) => {
      const colon = p.indexOf(':');
      const key = p.slice(0, colon);
      const optional = key.endsWith('?');
      return {
        name: optional ? key.slice(0, -1) : key,
        hasQuestionToken: optional,
        type: p.slice(colon + 1).trim(),
      };
    }),
  };
}

export function typeAlias(name: string, type: string, docs?: string): StatementStructures {
  return { kind: StructureKind.TypeAlias, isExported: true, name, type, ...(docs ? { docs: [safeDoc(docs)] } : {}) };
}

/** Routes text such as `*\/user` would close a doc comment early. */
function safeDoc(text: string): string {
  return text.replace(/\*\//g, '*\\/');
}
