import type { PublisherSchema } from '../runtime/contract.js';
import { Publisher } from '../runtime/publisher/publisher.js';
import { configVirtuals } from './hooks.js';
import { metricsServer } from './metrics-server.js';
import type { Output } from './output.js';
import { type RuntimeOptions, runtimeChecks, untilSignal, withAppRuntime } from './runtime.js';
import { requireSchemaTables } from './tables.js';

/**
 * `promiscuous relay`: publishes the outbox of the app's database on its own, for rows that
 * publisher processes left behind (a crash between commit and publish) or when publishers run
 * with `relay: false`, and answers subscribers' re-sync requests. Several relays on one
 * database are safe: rows are claimed.
 */
export function relay(
  options: RuntimeOptions & { metricsPort?: number; shutdownTimeout?: number },
  output: Output,
): Promise<number> {
  return withAppRuntime(options, output, async (runtime, opened) => {
    const { schema } = await runtime.generated<{ schema: PublisherSchema }>('publisher');
    await requireSchemaTables(runtime, schema);
    const log = runtime.logger.child({ app: runtime.app, component: 'cli' });
    opened.add(await metricsServer(options.metricsPort, log, () => runtimeChecks(runtime)), (stop) => stop());
    const publisher = opened.add(
      new Publisher({
        schema,
        knex: runtime.knex,
        transport: runtime.transport,
        virtuals: configVirtuals(runtime, schema),
        logger: runtime.logger,
        ...(runtime.signatures ? { signatures: runtime.signatures } : {}),
        ...(runtime.config.errorNotifier ? { errorNotifier: runtime.config.errorNotifier } : {}),
      }),
      (p) => p.close(),
    );
    publisher.relay?.schedule();
    log.info('relaying the outbox and answering re-sync requests');
    await untilSignal();
    return 0;
  });
}
