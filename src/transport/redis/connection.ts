/**
 * The coordinator's two connections to Redis: one for commands, and one that only listens
 * (Redis takes no other command on a connection that subscribed). Both retry with a backoff;
 * their errors reach the callers of their commands, never the process.
 */
import { Redis } from 'ioredis';
import { ConnectionError } from '../../common/errors.js';
import { redact } from '../../common/redact.js';

export async function connectRedis(url: string): Promise<{ client: Redis; subscriber: Redis }> {
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
  return { client, subscriber };
}
