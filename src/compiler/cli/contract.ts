import { join, relative, resolve, sep } from 'node:path';
import { display } from '../../common/config-file.js';
import { checkContract, type ContractResult } from '../contract/check.js';
import { type ContractFormat, contractFormats, renderDiagnostic, renderFinding } from '../contract/render.js';
import { readSchemas } from './files.js';
import { compileRoutes, type Output } from './generate.js';
import { readReleased, realPath, repositoryRoot } from './released.js';

export interface ContractOptions {
  readonly config?: string;
  /** A folder of released schemas, or a git ref at which the generated folder is read. */
  readonly against?: string;
  /** The generated folder (default: `generated/` beside the routes). */
  readonly generated?: string;
  /** Schemas other apps exported: their requirement files are known subscribers. */
  readonly schemas?: string;
  readonly format?: ContractFormat;
}

/** The exit codes of `contract check`, those of the CLI (src/cli/exit-codes.ts). */
export const contractExitCodes = { ok: 0, breaking: 1, usage: 64, config: 78 } as const;

/**
 * `promiscuous contract check`: compiles the routes, compares every endpoint they publish with
 * its released schema, and prints each change. Exits 1 when a change breaks a known
 * subscriber or every subscriber; warnings and safe changes exit 0.
 */
export async function contractCheck(options: ContractOptions, output: Output): Promise<number> {
  const format = options.format ?? 'pretty';
  if (!contractFormats.includes(format)) {
    output.error(`--format is one of ${contractFormats.join(', ')}, not \`${String(format)}\``);
    return contractExitCodes.usage;
  }
  if (!options.against) {
    output.error('--against <dir or git ref> is required: the released schemas to compare with');
    return contractExitCodes.usage;
  }
  const compileFormat = format === 'pretty' ? 'pretty' : 'compact';
  const routes = { ...options, format: compileFormat } as const;
  const { workspace, base } = await compileRoutes(routes, output, 'the routes do not compile, nothing was compared');
  if (!workspace) return contractExitCodes.config;
  const generated = display(options.generated ?? join(base, 'generated'));
  const released = readReleased(options.against, generated);
  if ('error' in released) {
    output.error(released.error);
    return contractExitCodes.usage;
  }
  const exported = options.schemas ? readSchemas(options.schemas) : [];
  const result = checkContract({ workspace, generated, released: released.files, exported });
  const fileOf = format === 'github' ? annotationPaths(base, released.ref) : undefined;
  // Annotations are workflow commands, which the runner reads on stdout.
  const print = (line: string) => (format === 'github' ? output.info(line) : output.error(line));
  if (result.diagnostics.length > 0) {
    for (const d of result.diagnostics) print(renderDiagnostic(d, format, result.sources, fileOf));
    const count = result.diagnostics.length;
    output.error(`${count} schema file${count === 1 ? '' : 's'} cannot be read: nothing was compared`);
    return contractExitCodes.config;
  }
  const publishers = workspace.apps.filter((a) => a.publications.length + a.ephemerals.length > 0).map((a) => a.name);
  if (result.released.length === 0 && publishers.length > 0) {
    // Every endpoint would be new, and the check would pass: the wrong folder or ref, most likely.
    output.error(
      `${released.label} holds no released schema of ${publishers.map((a) => `\`${a}\``).join(', ')}: ` +
        'check --against (and --generated, the folder read at a git ref)',
    );
    return contractExitCodes.usage;
  }
  for (const finding of result.findings) print(renderFinding(finding, format, result.sources, fileOf));
  output.info(summary(result, released.label));
  return result.findings.some((f) => f.severity === 'error') ? contractExitCodes.breaking : contractExitCodes.ok;
}

/** `3 endpoints compared with v1.4:generated: 1 breaking change, 1 warning, 2 safe changes`. */
function summary(result: ContractResult, label: string): string {
  const count = (severity: string) => result.findings.filter((f) => f.severity === severity).length;
  const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;
  const endpoints = plural(result.compared.length, 'endpoint');
  const figures = [
    plural(count('error'), 'breaking change'),
    plural(count('warning'), 'warning'),
    plural(count('note'), 'safe change'),
  ];
  const skipped =
    result.skipped.length > 0
      ? `; not compared, as their apps are not in these routes: ${result.skipped.map((e) => `\`${e}\``).join(', ')}`
      : '';
  return `${endpoints} compared with ${label}: ${figures.join(', ')}${skipped}`;
}

/**
 * The path an annotation names: relative to the root of the repository that holds the routes,
 * where GitHub resolves it. A schema read at a git ref is named by its path in the repository.
 */
function annotationPaths(base: string, ref: string | undefined): (path: string) => string {
  const root = repositoryRoot(base) ?? process.cwd();
  const prefix = ref === undefined ? undefined : `${ref}:`;
  return (path) =>
    prefix && path.startsWith(prefix)
      ? path.slice(prefix.length)
      : relative(root, realPath(resolve(path)))
          .split(sep)
          .join('/');
}
