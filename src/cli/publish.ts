import cliProgress from 'cli-progress';
import type { Knex } from 'knex';
import type { PublisherSchema } from '../runtime/contract.js';
import { type InitialSyncResult, initialSync } from '../runtime/publisher/initial-sync.js';
import { Publisher } from '../runtime/publisher/publisher.js';
import type { Output } from './output.js';
import type { Shard } from './arguments.js';
import { configVirtuals } from './hooks.js';
import { type RuntimeOptions, withAppRuntime } from './runtime.js';
import { requireSchemaTables } from './tables.js';

export interface PublishOptions extends RuntimeOptions {
  readonly to?: string;
  readonly pageSize?: number;
  readonly shard?: Shard;
  readonly restart?: boolean;
  readonly progress?: boolean;
}

/**
 * `promiscuous publish <Type>[ <where>] ...`: publishes the current state of existing rows for
 * a new subscriber, with a progress bar; resumable (run it again), splittable (`--shard i/n`
 * in several processes), safe while live writes go on. SIGINT stops after the current page.
 */
export function publish(selections: readonly string[], options: PublishOptions, output: Output): Promise<number> {
  return withAppRuntime(options, output, async (runtime, opened) => {
    const { schema } = await runtime.generated<{ schema: PublisherSchema }>('publisher');
    await requireSchemaTables(runtime, schema);
    const publisher: Publisher<unknown, unknown> = opened.add(
      new Publisher({
        schema,
        knex: runtime.knex,
        transport: runtime.transport,
        virtuals: configVirtuals(runtime, schema),
        relay: false,
        answerResync: false,
        logger: runtime.logger,
        ...(runtime.signatures ? { signatures: runtime.signatures } : {}),
      }),
      (p) => p.close(),
    );
    const stop = new AbortController();
    const interrupt = () => stop.abort();
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    try {
      for (const selection of selections) {
        const result = await syncSelection(publisher, runtime.knex, selection, options, stop.signal);
        const state = result.finished ? 'done' : 'stopped; run the same command again to resume';
        output.info(
          `[${runtime.app}] ${result.job}: published ${result.published} rows (${result.total} in all), ${state}`,
        );
        if (!result.finished) break;
      }
      return 0;
    } catch (error) {
      output.error(`[${runtime.app}] ${(error as Error).message}`);
      return 1;
    } finally {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    }
  });
}

/** Publishes one selection (`Type[ where ...]`), with a progress bar on a terminal. */
async function syncSelection(
  publisher: Publisher<unknown, unknown>,
  knex: Knex,
  selection: string,
  options: PublishOptions,
  signal: AbortSignal,
): Promise<InitialSyncResult> {
  const [type = '', ...rest] = selection.trim().split(/\s+/);
  const where = rest.join(' ').replace(/^where\s+/i, '') || undefined;
  const bar = new cliProgress.SingleBar(
    { format: `${type} [{bar}] {percentage}% | {value}/{total} rows | {eta_formatted} left`, noTTYOutput: false },
    cliProgress.Presets.shades_classic,
  );
  const show = options.progress !== false && process.stderr.isTTY;
  return initialSync(publisher, knex, {
    type,
    ...(where ? { where } : {}),
    ...(options.to ? { to: options.to } : {}),
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
    ...(options.shard ? { shard: options.shard } : {}),
    ...(options.restart ? { restart: true } : {}),
    signal,
    onProgress: (done, total) => {
      if (!show) return;
      if (bar.getTotal() !== total) bar.start(total, done);
      bar.update(done);
    },
  }).finally(() => show && bar.stop());
}
