import type { PublisherSchema } from '../runtime/contract.js';
import { Publisher } from '../runtime/publisher/publisher.js';
import { metricsServer } from './metrics-server.js';
import type { Output } from './output.js';
import { runtimeChecks, untilSignal, withAppRuntime } from './runtime.js';

/**
 * `promiscuous relay`: publishes the outbox of the app's database on its own, for rows that
 * publisher processes left behind (a crash between commit and publish) or when publishers run
 * with `relay: false`, and answers subscribers' re-sync requests. Several relays on one
 * database are safe: rows are claimed.
 */
export function relay(
  options: { config?: string; app?: string; metricsPort?: number; shutdownTimeout?: number },
  output: Output,
): Promise<number> {
  return withAppRuntime(options, output, async (runtime, opened) => {
    const { schema } = await runtime.generated<{ schema: PublisherSchema }>('publisher');
    opened.add(await metricsServer(options.metricsPort, runtime.app, output, () => runtimeChecks(runtime)), (stop) =>
      stop(),
    );
    const publisher = opened.add(
      new Publisher({
        schema,
        knex: runtime.knex,
        transport: runtime.transport,
        virtuals: runtime.config.virtuals?.[runtime.app],
        errorNotifier: (error) => output.error(`[${runtime.app}] ${error.message}`),
      }),
      (p) => p.close(),
    );
    publisher.relay?.schedule();
    output.info(`[${runtime.app}] relaying the outbox and answering re-sync requests`);
    await untilSignal();
    return 0;
  });
}
