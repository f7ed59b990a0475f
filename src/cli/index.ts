import { Command, Option } from 'commander';
import { logLevels } from '../common/logger.js';
import { packageVersion, port, shard, wholeNumber } from './arguments.js';
import { ConfigError, exitCodeOf, exitCodes } from './exit-codes.js';
import { logFormats } from './log.js';
import { consoleOutput, type Output } from './output.js';

/** Reports a command's exit code. */
type Done = (code: number) => void;

/**
 * The compiler, a package of its own that production installs leave out: `generate` and
 * `contract check` are the only commands that need it.
 */
async function compiler(): Promise<typeof import('promiscuous-compiler')> {
  try {
    return await import('promiscuous-compiler');
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' ||
      !String(error).includes('promiscuous-compiler')
    ) {
      throw error;
    }
    throw new ConfigError(
      '`generate` and `contract check` need the compiler: `npm install --save-dev promiscuous-compiler`',
    );
  }
}

/**
 * Builds the `promiscuous` command line. Commander wiring only: each command lives in its own
 * file, imported when it runs, so that a command loads only what it uses.
 */
export function buildCli(output: Output, done: Done): Command {
  const program = new Command('promiscuous')
    .description('Replication between services that each own their database.')
    .version(packageVersion())
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeOut: (s) => output.info(s.trimEnd()), writeErr: (s) => output.error(s.trimEnd()) });
  defineGenerate(program, output, done);
  defineContract(program, output, done);
  defineSubscribe(program, output, done);
  defineRelay(program, output, done);
  defineStatus(program, output, done);
  defineDashboard(program, output, done);
  definePublish(program, output, done);
  defineRefresh(program, output, done);
  defineParked(program, output, done);
  defineKeys(program, output, done);
  return program;
}

const configOption = '-c, --config <file>';
const shutdownTimeout = () =>
  new Option(
    '--shutdown-timeout <ms>',
    'after SIGTERM, how long to finish the messages in flight and close before exiting anyway',
  )
    .argParser(wholeNumber(0))
    .default(30_000);
const metricsPort = () =>
  new Option('--metrics-port <port>', 'serve Prometheus metrics at http://localhost:<port>/metrics').argParser(port);
const logFormat = () =>
  new Option(
    '--log-format <format>',
    'log lines to stderr: pretty, or JSON as pino writes them (default: pretty on a terminal)',
  ).choices(logFormats);
const logLevel = () =>
  new Option('--log-level <level>', 'the least severe level logged').choices(logLevels).default('info');

function defineGenerate(program: Command, output: Output, done: Done): void {
  const format = new Option('--format <format>', 'how diagnostics are printed')
    .choices(['pretty', 'compact'])
    .default('pretty');
  const generateCommand = program
    .command('generate')
    .description('compile the routes into typed hooks, applicators, JSON Schemas, validators and migrations')
    .option(configOption, 'routes file: promiscuous.config.ts or a .prom file (default: found here)')
    .option('--out <dir>', 'output folder (default: generated/ beside the routes file)')
    .option(
      '--schemas <dir>',
      'endpoint schemas exported by publishers outside this workspace, to check subscriptions against',
    )
    .option('--check', 'write nothing; exit 1 listing stale files')
    .addOption(format)
    .enablePositionalOptions()
    .action(async (options) => done(await (await compiler()).generate(options, output)));

  generateCommand
    .command('mocks')
    .description('generate message factories that subscribers use in tests, without a broker')
    .option('-o, --output <file>', "write one app's factories to this file")
    .option('--app <name>', 'the publishing app to mock (default: every app that publishes)')
    .option(configOption, 'routes file (default: found here)')
    .option('--out <dir>', 'output folder (default: generated/ beside the routes file)')
    .option('--schemas <dir>', 'endpoint schemas of publishers outside this workspace')
    .option('--check', 'write nothing; exit 1 listing stale files')
    .addOption(format)
    .action(async (options) =>
      done(await (await compiler()).generate(options, output, { file: options.output, app: options.app })),
    );
}

function defineContract(program: Command, output: Output, done: Done): void {
  program
    .command('contract')
    .description('check what the routes publish against a release')
    .command('check')
    .description(
      'compare every published endpoint with its released schema; exit 1 on a change that breaks a subscriber',
    )
    .requiredOption(
      '--against <dir or git ref>',
      'the released schemas: a folder, or a git ref to read the generated folder at',
    )
    .option(configOption, 'routes file: promiscuous.config.ts or a .prom file (default: found here)')
    .option(
      '--generated <dir>',
      'the generated folder, read at the git ref (default: generated/ beside the routes file)',
    )
    .option(
      '--schemas <dir>',
      'schemas other apps exported: endpoint schemas the routes subscribe to, and requirement files of their subscribers',
    )
    .addOption(
      new Option('--format <format>', 'how changes are printed')
        .choices(['pretty', 'compact', 'github'])
        .default('pretty'),
    )
    .action(async (options) => done(await (await compiler()).contractCheck(options, output)));
}

function defineSubscribe(program: Command, output: Output, done: Done): void {
  program
    .command('subscribe')
    .description("apply the app's subscriptions: consume its queue until SIGTERM")
    .option(configOption, 'promiscuous.config.ts (default: found here)')
    .option('--app <name>', 'the app this process runs (default: PROMISCUOUS_APP, or the only app)')
    .option('--prefetch <n>', 'messages in flight at once', wholeNumber(1), 5)
    .option('--concurrency <n>', 'consumers in this process', wholeNumber(1), 1)
    .option(
      '--recovery',
      'apply a message whose dependency is still missing after the timeout, reporting a RecoveryError, instead of asking its publisher to re-sync it',
    )
    .option(
      '--dependency-timeout <ms>',
      'how long a message waits for a dependency before the re-sync or recovery',
      wholeNumber(0),
      30_000,
    )
    .option('--bareback', 'apply messages in any order (development only)')
    .option('--live', 'append every change applied to the live feed in Redis, which `liveChanges` streams to browsers')
    .addOption(metricsPort())
    .addOption(shutdownTimeout())
    .addOption(logFormat())
    .addOption(logLevel())
    .action(async (options) => done(await (await import('./subscribe.js')).subscribe(options, output)));
}

function defineRelay(program: Command, output: Output, done: Done): void {
  program
    .command('relay')
    .description("publish the app's outbox until SIGTERM (rows left behind by dead publishers)")
    .option(configOption, 'promiscuous.config.ts (default: found here)')
    .option('--app <name>', 'the app this process runs')
    .addOption(metricsPort())
    .addOption(shutdownTimeout())
    .addOption(logFormat())
    .addOption(logLevel())
    .action(async (options) => done(await (await import('./relay.js')).relay(options, output)));
}

function defineStatus(program: Command, output: Output, done: Done): void {
  program
    .command('status')
    .description("each subscriber's queues, waiting messages and lag; each publisher's outbox backlog")
    .option(configOption, 'promiscuous.config.ts (default: found here)')
    .option('--app <name>', 'only this app (default: every app of the config)')
    .option('--json', 'print JSON instead of a table')
    .action(async (options) => done(await (await import('./status.js')).status(options, output)));
}

function defineDashboard(program: Command, output: Output, done: Done): void {
  program
    .command('dashboard')
    .description('serve a web page of every app: queues, lag, applied rate, latency, outboxes, parked messages')
    .option(configOption, 'promiscuous.config.ts (default: found here)')
    .option('--port <port>', 'the port to listen on (0: any free one)', wholeNumber(0), 4040)
    .option('--host <address>', 'the address to listen on', '127.0.0.1')
    .action(async (options) => done(await (await import('./dashboard.js')).dashboard(options, output)));
}

function definePublish(program: Command, output: Output, done: Done): void {
  program
    .command('publish')
    .description('publish the current state of existing rows, for a new subscriber (initial sync)')
    .argument('<selections...>', 'a model, optionally followed by an SQL condition: User "Member where points > 10"')
    .option(configOption, 'promiscuous.config.ts (default: found here)')
    .option('--app <name>', 'the publishing app')
    .option('--to <app>', "only to this subscriber app's queue (default: every subscriber)")
    .option('--page-size <n>', 'rows read and published per page', wholeNumber(1), 1000)
    .option('--shard <i/n>', "this process's share of the rows: integer key modulo n equals i", shard)
    .option('--restart', 'start again from the first row instead of resuming')
    .option('--no-progress', 'no progress bar')
    .addOption(logFormat())
    .addOption(logLevel())
    .action(async (selections: string[], options) =>
      done(await (await import('./publish.js')).publish(selections, options, output)),
    );
}

function defineRefresh(program: Command, output: Output, done: Done): void {
  program
    .command('refresh')
    .description('compute the derived attributes of existing rows, and publish those that change')
    .argument('<models...>', 'the models whose derived attributes to compute')
    .option(configOption, 'promiscuous.config.ts (default: found here)')
    .option('--app <name>', 'the publishing app')
    .addOption(logFormat())
    .addOption(logLevel())
    .action(async (models: string[], options) =>
      done(await (await import('./refresh.js')).refresh(models, options, output)),
    );
}

function defineParked(program: Command, output: Output, done: Done): void {
  program
    .command('parked')
    .description('list, retry or drop the messages a subscriber parked')
    .argument('<action>', 'list, retry or drop')
    .argument('[ids...]', 'message ids (default: all)')
    .option(configOption, 'promiscuous.config.ts (default: found here)')
    .option('--app <name>', 'the subscribing app')
    .action(async (action: string, ids: string[], options) => {
      if (action !== 'list' && action !== 'retry' && action !== 'drop') {
        output.error(`unknown action \`${action}\`: use list, retry or drop`);
        return done(1);
      }
      done(await (await import('./parked.js')).parked(action, ids, options, output));
    });
}

function defineKeys(program: Command, output: Output, done: Done): void {
  program
    .command('keys')
    .description('signing keys: make a key pair for an app')
    .command('generate')
    .description(
      'write a new Ed25519 private key for an app (mode 0600) and print its public half, as the trust setting takes it',
    )
    .requiredOption('--app <name>', 'the app the key signs for')
    .option(
      '--out <file>',
      'where to write the private key (default: <app>.key); an existing file is never overwritten',
    )
    .action(async (options) => done((await import('./keys.js')).keysGenerate(options, output)));
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
    // Commander's own errors (an unknown option, a missing argument) carry their exit code.
    if (typeof exit.exitCode === 'number') return exit.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    output.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    return exitCodeOf(error);
  }
  return code;
}
