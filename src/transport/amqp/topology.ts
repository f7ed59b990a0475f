/**
 * Every exchange and queue name, built in one place. One durable topic exchange carries all
 * apps' messages; each subscribing app has its own durable queue (so a change fans out to
 * every app), retry queues that dead-letter back to it after a delay, and a parked queue.
 */
export interface Names {
  readonly exchange: string;
  queue(app: string): string;
  retry(app: string, level: number): string;
  parked(app: string): string;
}

export function names(namespace: string): Names {
  return {
    exchange: namespace,
    queue: (app) => `${namespace}.${app}`,
    retry: (app, level) => `${namespace}.${app}.retry.${level}`,
    parked: (app) => `${namespace}.${app}.parked`,
  };
}
