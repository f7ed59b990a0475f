import type { SubscriberSchema } from '../runtime/contract.js';
import type { ReadinessChecks } from '../runtime/observability/http.js';
import { subscriberTables } from '../runtime/subscriber/sinks.js';
import { Subscriber } from '../runtime/subscriber/subscriber.js';
import { RedisCoordinator } from '../transport/redis/coordinator.js';
import { configCallbacks, configSinks } from './hooks.js';
import { metricsServer } from './metrics-server.js';
import type { Output } from './output.js';
import { type RuntimeOptions, runtimeChecks, untilSignal, withAppRuntime } from './runtime.js';
import { requireSchemaTables } from './tables.js';

export interface SubscribeOptions extends RuntimeOptions {
  readonly prefetch?: number;
  readonly concurrency?: number;
  readonly recovery?: boolean;
  readonly dependencyTimeout?: number;
  readonly bareback?: boolean;
  readonly live?: boolean;
  readonly metricsPort?: number;
  readonly shutdownTimeout?: number;
}

/**
 * `promiscuous subscribe`: consumes the app's queue until SIGTERM, then stops taking messages,
 * lets those in flight finish and acknowledges them, and exits.
 */
export function subscribe(options: SubscribeOptions, output: Output): Promise<number> {
  return withAppRuntime(options, output, async (runtime, opened) => {
    const { schema } = await runtime.generated<{ schema: SubscriberSchema }>('subscriber');
    const sinks = configSinks(runtime, schema);
    const tables = subscriberTables(
      schema,
      Object.values(sinks).some((sink) => sink !== undefined),
    );
    await requireSchemaTables(runtime, tables ? { tables } : {});
    const { logger } = runtime;
    const log = logger.child({ app: runtime.app, component: 'cli' });
    const namespace = `${runtime.settings.namespace}:${runtime.app}`;
    const coordinator =
      runtime.settings.backend === 'amqp'
        ? opened.add(await RedisCoordinator.connect(runtime.settings.redisUrl, namespace, { logger }), (c) => c.close())
        : undefined;
    if (options.bareback) log.warn('--bareback applies messages in any order: never use it in production');
    const callbacks = configCallbacks(runtime, schema);
    const workers = Array.from(
      { length: options.concurrency ?? 1 },
      () =>
        new Subscriber({
          schema,
          knex: runtime.knex,
          transport: runtime.transport,
          prefetch: options.prefetch ?? 5,
          ...(coordinator ? { coordinator, live: options.live === true } : {}),
          mode: options.bareback ? 'bareback' : options.recovery ? 'recovery' : 'causal',
          dependencyTimeoutMs: options.dependencyTimeout ?? 30_000,
          callbacks,
          sinks,
          ...(runtime.signatures ? { signatures: runtime.signatures } : {}),
          // The subscriber logs each error it reports: the notifier is the config's alone.
          logger,
          ...(runtime.config.errorNotifier ? { errorNotifier: runtime.config.errorNotifier } : {}),
        }),
    );
    let consuming = false;
    const readiness = async (): Promise<ReadinessChecks> => ({
      ...(await runtimeChecks(runtime)),
      ...(coordinator ? { redis: coordinator.healthy() || 'not connected to Redis' } : {}),
      consuming: consuming || 'not consuming: starting, or finishing the messages in flight',
    });
    opened.add(await metricsServer(options.metricsPort, log, readiness), (stop) => stop());
    for (const worker of workers) {
      await worker.start();
      // Stopped first at the end: they finish and acknowledge the messages in flight.
      opened.add(worker, (w) => w.stop());
    }
    consuming = true;
    const signal = await untilSignal();
    consuming = false;
    log.info({ signal }, 'finishing the messages in flight');
    return 0;
  });
}
