import type { Logger } from '../../common/logger.js';

/** What the AMQP transport can be told; every process of a namespace passes the same. */
export interface AmqpOptions {
  /** Default: `PROMISCUOUS_AMQP_URL`, else `amqp://guest:guest@127.0.0.1:5672`. */
  readonly url: string;
  /** Prefix of the exchange and queue names. Default: `PROMISCUOUS_NAMESPACE`, else `promiscuous`. */
  readonly namespace?: string;
  /** Quorum queues for the apps' queues (replicated; needs a RabbitMQ cluster to matter). */
  readonly quorum?: boolean;
  /** How long `publish` waits for a connection before it fails (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Delays of the retry queues, in ms (default 0.2 s, 1 s, 5 s, 30 s, 2 min, 10 min). */
  readonly retryDelaysMs?: readonly number[];
  /** Connection attempts before the first connection fails (default 3). */
  readonly initialRetries?: number;
  /** The name RabbitMQ shows for the connection (default `promiscuous`). */
  readonly connectionName?: string;
  /**
   * Let RabbitMQ delete the namespace's queues once unused for this long (`x-expires`), and its
   * exchange with its last queue: for tests and short-lived environments, never production.
   * Every process of a namespace must pass the same value.
   */
  readonly expiresMs?: number;
  /**
   * The most messages one broker message carries (default 50; 1 turns framing off). Messages
   * published together under the same routing keys travel as one broker message, a frame,
   * and are handed to the consumer one by one again: see `frameHeader` in frames.ts.
   */
  readonly frameSize?: number;
  /**
   * Where the connection says that it was lost, is back, or is blocked by the broker (default:
   * nowhere). Records carry `component: 'amqp'` and the URL without its password.
   */
  readonly logger?: Logger;
}
