/**
 * The compiler's public API: routes in, IR and generated files out, reading and writing no
 * files; `generate`, the command that reads the routes and writes what they generate; and
 * `contractCheck`, the command that compares what they publish with a release.
 */
export type { AppAst, WorkspaceAst } from './ast/ast.js';
export { type CompileInput, type CompileOutput, type CompilerHost, compile } from './compile.js';
export * from '../common/define-config.js';
export type { ConfigSource } from './config/lower-config.js';
export { codes } from './diagnostics/codes.js';
export type { Diagnostic, Severity } from './diagnostics/diagnostic.js';
export { hasErrors } from './diagnostics/diagnostic.js';
export { renderCompact, renderPretty } from './diagnostics/render.js';
export { type EmittedFile, emitMocks, emitWorkspace, workspaceHash } from './emit/emit.js';
export type { MigrationFolder, MigrationInput } from './emit/migrations/emit-migrations.js';
export type * from './ir/ir.js';
export type { SourceFile, Span } from './source/source-file.js';
export { generate, type GenerateOptions } from './cli/generate.js';
export { type ContractOptions, contractCheck } from './cli/contract.js';
export { type ContractInput, type ContractResult, checkContract, currentSchemas } from './contract/check.js';
export type { ChangeClass, Finding } from './contract/findings.js';
export { type ContractFormat, contractFormats, renderFinding } from './contract/render.js';
