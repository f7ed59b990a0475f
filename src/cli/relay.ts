import { Relay } from '../runtime/publisher/relay.js';
import type { Output } from './output.js';
import { appRuntime, untilSignal } from './runtime.js';

/**
 * `promiscuous relay`: publishes the outbox of the app's database on its own, for rows that
 * publisher processes left behind (a crash between commit and publish) or when publishers run
 * with `relay: false`. Several relays on one database are safe: rows are claimed.
 */
export async function relay(options: { config?: string; app?: string }, output: Output): Promise<number> {
  const runtime = await appRuntime(options);
  const worker = new Relay(runtime.knex, runtime.transport, {
    onError: (error) => output.error(`[${runtime.app}] ${error.message}`),
  });
  worker.notify();
  output.info(`[${runtime.app}] relaying the outbox`);
  await untilSignal();
  await worker.stop();
  await runtime.close();
  return 0;
}
