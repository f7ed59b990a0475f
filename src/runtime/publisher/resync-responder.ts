/**
 * Answers subscribers' re-sync requests: a subscriber missing an object's version past its
 * dependency timeout asks the publishing app for it, and gets the object's current state as
 * `sync` operations in its own queue.
 */
import type { Consumer, Delivery, Transport } from '../../transport/transport.js';
import type { Id, ModelDescriptor } from '../contract.js';
import { PublisherError } from '../../common/errors.js';
import { errorText, type Logger } from '../../common/logger.js';
import { defaultMetrics, type Metrics } from '../observability/metrics.js';
import { parseResyncRequest, resyncQueueApp, resyncRequestKey } from '../resync.js';
import type { Publications } from './publications.js';

export interface ResyncResponderOptions {
  readonly app: string;
  readonly transport: Transport;
  readonly publications: Publications;
  /** Publishes the current state of a model's objects to one app (see `Publisher.sync`). */
  sync(model: ModelDescriptor, ids: readonly Id[], to: string): Promise<unknown>;
  report(error: Error): void;
  readonly log: Logger;
  readonly metrics?: Metrics | undefined;
}

/** Consumes the app's re-sync requests until the returned consumer stops; undefined when it cannot. */
export async function answerResyncRequests(options: ResyncResponderOptions): Promise<Consumer | undefined> {
  try {
    return await options.transport.consume(
      resyncQueueApp(options.app),
      { prefetch: 10, bindings: [resyncRequestKey(options.app)] },
      (delivery) => answer(options, delivery),
    );
  } catch (error) {
    options.log.error({ err: error }, 'cannot answer re-sync requests');
    options.report(new PublisherError(`cannot answer re-sync requests: ${errorText(error)}`, { cause: error }));
    return undefined;
  }
}

/** Answers one request: the current state of each object asked for, to the asking app. */
async function answer(options: ResyncResponderOptions, delivery: Delivery): Promise<void> {
  const request = parseResyncRequest(delivery.body);
  if (typeof request === 'string') {
    options.log.warn({ messageId: delivery.messageId, reason: request }, 'parked a re-sync request it cannot read');
    return delivery.park(request);
  }
  try {
    const byModel = new Map<ModelDescriptor, string[]>();
    for (const object of request.objects) {
      const model = options.publications.endpointRoot(object.endpoint);
      if (model) byModel.set(model, [...(byModel.get(model) ?? []), object.id]);
    }
    for (const [model, ids] of byModel) await options.sync(model, ids, request.app);
    await delivery.ack();
    (options.metrics ?? defaultMetrics()).resyncAnswered.inc({ app: options.app });
    options.log.info({ to: request.app, objects: request.objects.length }, 'answered a re-sync request');
  } catch (error) {
    options.log.error({ to: request.app, err: error }, 'could not answer a re-sync request; retrying it later');
    options.report(new PublisherError(`could not answer a re-sync request of ${request.app}`, { cause: error }));
    await delivery.retry(error as Error, Math.min(60_000, 1_000 * 2 ** delivery.attempt));
  }
}
