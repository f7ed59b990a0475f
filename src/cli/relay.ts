import type { PublisherSchema } from '../runtime/contract.js';
import { Publisher } from '../runtime/publisher/publisher.js';
import { metricsServer } from './metrics-server.js';
import type { Output } from './output.js';
import { appRuntime, untilSignal } from './runtime.js';

/**
 * `promiscuous relay`: publishes the outbox of the app's database on its own, for rows that
 * publisher processes left behind (a crash between commit and publish) or when publishers run
 * with `relay: false`, and answers subscribers' re-sync requests. Several relays on one
 * database are safe: rows are claimed.
 */
export async function relay(
  options: { config?: string; app?: string; metricsPort?: string },
  output: Output,
): Promise<number> {
  const runtime = await appRuntime(options);
  const { schema } = await runtime.generated<{ schema: PublisherSchema }>('publisher');
  const stopMetrics = await metricsServer(options.metricsPort, runtime.app, output);
  const publisher = new Publisher({
    schema,
    knex: runtime.knex,
    transport: runtime.transport,
    virtuals: runtime.config.virtuals?.[runtime.app],
    errorNotifier: (error) => output.error(`[${runtime.app}] ${error.message}`),
  });
  publisher.relay?.schedule();
  output.info(`[${runtime.app}] relaying the outbox and answering re-sync requests`);
  await untilSignal();
  await publisher.close();
  await stopMetrics();
  await runtime.close();
  return 0;
}
