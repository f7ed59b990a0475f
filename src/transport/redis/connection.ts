/**
 * The coordinator's two connections to Redis: one for commands, and one that only listens
 * (Redis takes no other command on a connection that subscribed). Both retry with a backoff;
 * their errors reach the callers of their commands, never the process.
 */
import { Redis } from 'ioredis';
import { ConnectionError } from '../../common/errors.js';
import { guardedLogger, type Logger, silentLogger } from '../../common/logger.js';
import { redact } from '../../common/redact.js';

export async function connectRedis(url: string, logger?: Logger): Promise<{ client: Redis; subscriber: Redis }> {
  const options = {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    retryStrategy: (n: number) => Math.min(2_000, 50 * 2 ** n),
  };
  const client = new Redis(url, options);
  const subscriber = new Redis(url, options);
  for (const connection of [client, subscriber]) connection.on('error', () => {});
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
  } catch (error) {
    client.disconnect();
    subscriber.disconnect();
    throw new ConnectionError(
      `cannot reach Redis at ${redact(url)}: is it running? Start it with \`redis-server --daemonize yes\`, or set PROMISCUOUS_REDIS_URL`,
      { cause: error },
    );
  }
  const log = guardedLogger(logger ?? silentLogger).child({ component: 'redis', url: redact(url) });
  watch(client, log.child({ connection: 'commands' }));
  watch(subscriber, log.child({ connection: 'wake-ups' }));
  return { client, subscriber };
}

/** Says once that a connection was lost (ioredis then retries, erring at every attempt), and once that it is back. */
function watch(connection: Redis, log: Logger): void {
  let lost = false;
  // Emitted before each new attempt, never after a close asked for.
  connection.on('reconnecting', () => {
    if (lost) return;
    lost = true;
    log.warn('lost the connection to Redis; reconnecting');
  });
  connection.on('ready', () => {
    if (lost) log.info('reconnected to Redis');
    lost = false;
  });
}
