import type { PublisherSchema } from '../runtime/contract.js';
import { Publisher } from '../runtime/publisher/publisher.js';
import type { Output } from './output.js';
import { appRuntime, untilSignal } from './runtime.js';

/**
 * `promiscuous relay`: publishes the outbox of the app's database on its own, for rows that
 * publisher processes left behind (a crash between commit and publish) or when publishers run
 * with `relay: false`, and answers subscribers' re-sync requests. Several relays on one
 * database are safe: rows are claimed.
 */
export async function relay(options: { config?: string; app?: string }, output: Output): Promise<number> {
  const runtime = await appRuntime(options);
  const { schema } = await runtime.generated<{ schema: PublisherSchema }>('publisher');
  const publisher = new Publisher({
    schema,
    knex: runtime.knex,
    transport: runtime.transport,
    virtuals: runtime.config.virtuals?.[runtime.app],
    errorNotifier: (error) => output.error(`[${runtime.app}] ${error.message}`),
  });
  publisher.relay?.notify();
  output.info(`[${runtime.app}] relaying the outbox and answering re-sync requests`);
  await untilSignal();
  await publisher.close();
  await runtime.close();
  return 0;
}
