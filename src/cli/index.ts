import { Command, Option } from 'commander';
import { generate } from './generate.js';
import { consoleOutput, type Output } from './output.js';

/** Builds the `promiscuous` command line. Commander wiring only: each command lives in its own file. */
export function buildCli(output: Output, done: (code: number) => void): Command {
  const program = new Command('promiscuous')
    .description('Replication between services that each own their database.')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeOut: (s) => output.info(s.trimEnd()), writeErr: (s) => output.error(s.trimEnd()) });

  const format = new Option('--format <format>', 'how diagnostics are printed').choices(['pretty', 'compact']).default('pretty');
  const generateCommand = program
    .command('generate')
    .description('compile the routes into typed hooks, applicators, JSON Schemas, validators and migrations')
    .option('-c, --config <file>', 'routes file: promiscuous.config.ts or a .prom file (default: found here)')
    .option('--out <dir>', 'output folder (default: generated/ beside the routes file)')
    .option('--schemas <dir>', 'endpoint schemas exported by publishers outside this workspace, to check subscriptions against')
    .option('--check', 'write nothing; exit 1 listing stale files')
    .addOption(format)
    .enablePositionalOptions()
    .action(async (options) => done(await generate(options, output)));

  generateCommand
    .command('mocks')
    .description('generate message factories that subscribers use in tests, without a broker')
    .option('-o, --output <file>', "write one app's factories to this file")
    .option('--app <name>', 'the publishing app to mock (default: every app that publishes)')
    .option('-c, --config <file>', 'routes file (default: found here)')
    .option('--out <dir>', 'output folder (default: generated/ beside the routes file)')
    .option('--schemas <dir>', 'endpoint schemas of publishers outside this workspace')
    .option('--check', 'write nothing; exit 1 listing stale files')
    .addOption(format)
    .action(async (options) => done(await generate(options, output, { file: options.output, app: options.app })));

  return program;
}

/** Runs the CLI and resolves to the process exit code. */
export async function runCli(argv: readonly string[], output: Output = consoleOutput): Promise<number> {
  let code = 0;
  const program = buildCli(output, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    const exit = error as { exitCode?: number; code?: string };
    if (exit.code === 'commander.helpDisplayed' || exit.code === 'commander.version') return 0;
    if (typeof exit.exitCode === 'number') return exit.exitCode;
    output.error(String((error as Error).stack ?? error));
    return 1;
  }
  return code;
}
