import { ConnectionError, CredentialsError, TopologyError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { redact } from '../common/redact.js';
import type { RuntimeSettings } from '../common/settings.js';
import { AmqpTransport } from '../transport/amqp/amqp-transport.js';
import { MemoryTransport, NullTransport } from '../transport/memory/memory-transport.js';
import type { Transport } from '../transport/transport.js';

export { databaseFromUrl, type RuntimeInput, type RuntimeSettings, runtimeSettings } from '../common/settings.js';

/**
 * The transport for a backend; an unreachable broker fails within a few seconds, saying how to
 * start it. `logger` hears when the connection is lost and back.
 */
export async function connectTransport(settings: RuntimeSettings, logger?: Logger): Promise<Transport> {
  if (settings.backend === 'memory') return new MemoryTransport();
  if (settings.backend === 'null') return new NullTransport();
  try {
    return await AmqpTransport.connect({
      url: settings.amqpUrl,
      initialRetries: 2,
      namespace: settings.namespace,
      ...(logger ? { logger } : {}),
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
