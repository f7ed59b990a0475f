import { ConnectionError, CredentialsError, TopologyError } from '../common/errors.js';
import { redact } from '../common/redact.js';
import { AmqpTransport } from '../transport/amqp/amqp-transport.js';
import { MemoryTransport, NullTransport } from '../transport/memory/memory-transport.js';
import type { Transport } from '../transport/transport.js';

/** The runtime settings, after the environment's overrides. */
export interface RuntimeSettings {
  readonly app: string | undefined;
  readonly amqpUrl: string;
  readonly redisUrl: string;
  readonly backend: 'amqp' | 'memory' | 'null';
  /** Prefix of exchange and queue names (`PROMISCUOUS_NAMESPACE`, default `promiscuous`). */
  readonly namespace: string;
  /** `PROMISCUOUS_QUEUE_EXPIRES_MS`: RabbitMQ deletes the namespace's unused queues after it (tests only). */
  readonly queueExpiresMs: number | undefined;
}

export interface RuntimeInput {
  readonly app?: string;
  readonly amqpUrl?: string;
  readonly redisUrl?: string;
  readonly backend?: string;
}

/** Config values, each overridden by its `PROMISCUOUS_*` environment variable when set. */
export function runtimeSettings(config: RuntimeInput, env: NodeJS.ProcessEnv = process.env): RuntimeSettings {
  const backend = env.PROMISCUOUS_BACKEND ?? config.backend ?? 'amqp';
  if (backend !== 'amqp' && backend !== 'memory' && backend !== 'null') {
    throw new Error(`backend \`${backend}\` is not one of amqp, memory, null`);
  }
  return {
    app: env.PROMISCUOUS_APP ?? config.app,
    amqpUrl: env.PROMISCUOUS_AMQP_URL ?? config.amqpUrl ?? 'amqp://guest:guest@127.0.0.1:5672',
    redisUrl: env.PROMISCUOUS_REDIS_URL ?? config.redisUrl ?? 'redis://127.0.0.1:6379',
    backend,
    namespace: env.PROMISCUOUS_NAMESPACE ?? 'promiscuous',
    queueExpiresMs: env.PROMISCUOUS_QUEUE_EXPIRES_MS ? Number(env.PROMISCUOUS_QUEUE_EXPIRES_MS) : undefined,
  };
}

/** The transport for a backend; an unreachable broker fails within a few seconds, saying how to start it. */
export async function connectTransport(settings: RuntimeSettings): Promise<Transport> {
  if (settings.backend === 'memory') return new MemoryTransport();
  if (settings.backend === 'null') return new NullTransport();
  try {
    return await AmqpTransport.connect({
      url: settings.amqpUrl,
      initialRetries: 2,
      namespace: settings.namespace,
      ...(settings.queueExpiresMs === undefined ? {} : { expiresMs: settings.queueExpiresMs }),
    });
  } catch (error) {
    // Refused credentials, or the exchange declared with other arguments: it was reached, and said why.
    if (error instanceof CredentialsError || error instanceof TopologyError) throw error;
    throw new ConnectionError(
      `cannot reach RabbitMQ at ${redact(settings.amqpUrl)} (${causeOf(error)}): is it running? Start it with \`rabbitmq-server -detached\`, or set PROMISCUOUS_AMQP_URL`,
      { cause: error },
    );
  }
}

/** The innermost message of an error: what the network or the broker said. */
function causeOf(error: unknown): string {
  let inner = error as Error;
  while (inner.cause instanceof Error) inner = inner.cause;
  return inner.message;
}
