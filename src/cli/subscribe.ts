import type { SubscriberSchema } from '../runtime/contract.js';
import { Subscriber } from '../runtime/subscriber/subscriber.js';
import { RedisCoordinator } from '../transport/redis/coordinator.js';
import { metricsServer } from './metrics-server.js';
import type { Output } from './output.js';
import { appRuntime, untilSignal } from './runtime.js';

export interface SubscribeOptions {
  readonly config?: string;
  readonly app?: string;
  readonly prefetch?: string;
  readonly concurrency?: string;
  readonly recovery?: boolean;
  readonly dependencyTimeout?: string;
  readonly bareback?: boolean;
  readonly metricsPort?: string;
}

/**
 * `promiscuous subscribe`: consumes the app's queue until SIGTERM, then stops taking messages,
 * lets those in flight finish and acknowledges them, and exits.
 */
export async function subscribe(options: SubscribeOptions, output: Output): Promise<number> {
  const runtime = await appRuntime(options);
  const { schema } = await runtime.generated<{ schema: SubscriberSchema }>('subscriber');
  const coordinator =
    runtime.settings.backend === 'amqp'
      ? await RedisCoordinator.connect(runtime.settings.redisUrl, `${runtime.settings.namespace}:${runtime.app}`)
      : undefined;
  if (options.bareback) output.error('WARNING: --bareback applies messages in any order. Never use it in production.');
  const workers = Array.from(
    { length: Math.max(1, Number(options.concurrency ?? 1)) },
    () =>
      new Subscriber({
        schema,
        knex: runtime.knex,
        transport: runtime.transport,
        prefetch: Number(options.prefetch ?? 5),
        ...(coordinator ? { coordinator } : {}),
        mode: options.bareback ? 'bareback' : options.recovery ? 'recovery' : 'causal',
        dependencyTimeoutMs: Number(options.dependencyTimeout ?? 30_000),
        callbacks: runtime.config.callbacks?.[runtime.app],
        logger: { warn: (m) => output.error(`[${runtime.app}] ${m}`) },
        errorNotifier: (error) => {
          runtime.config.errorNotifier?.(error);
          output.error(`[${runtime.app}] ${error.name}: ${error.message}`);
        },
      }),
  );
  const stopMetrics = await metricsServer(options.metricsPort, runtime.app, output);
  for (const worker of workers) await worker.start();
  output.info(`[${runtime.app}] subscribed to ${schema.bindings.join(', ')} (prefetch ${options.prefetch ?? 5})`);
  const signal = await untilSignal();
  output.info(`[${runtime.app}] ${signal}: finishing the messages in flight`);
  for (const worker of workers) await worker.stop();
  await coordinator?.close();
  await stopMetrics();
  await runtime.close();
  return 0;
}
