/** TypeScript programs over snippets held in memory, type-checked under the options users would use. */
import ts from 'typescript';

/** One program of the files in `snippets` (path to text, in memory only) and `more` on disk. */
export function snippetProgram(snippets: ReadonlyMap<string, string>, more: readonly string[] = []): ts.Program {
  const options: ts.CompilerOptions = {
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['source'],
    skipLibCheck: true,
    types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (path) => snippets.has(path) || fileExists.call(host, path);
  host.readFile = (path) => snippets.get(path) ?? readFile.call(host, path);
  host.getSourceFile = (path, language, ...rest) => {
    const text = snippets.get(path);
    return text === undefined
      ? getSourceFile.call(host, path, language, ...rest)
      : ts.createSourceFile(path, text, language);
  };
  return ts.createProgram([...snippets.keys(), ...more], options, host);
}
