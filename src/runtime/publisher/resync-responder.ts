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
import { parseResyncRequest, type ResyncRequest, resyncQueueApp, resyncRequestKey } from '../resync.js';
import { foreignClaim, type SignatureFailure, signatureKeyId, type Verifier } from '../signatures/verifier.js';
import type { Publications } from './publications.js';

export interface ResyncResponderOptions {
  readonly app: string;
  readonly transport: Transport;
  readonly publications: Publications;
  /** Checks each request's signature against the keys the app trusts; none: requests are not checked. */
  readonly verifier?: Verifier | undefined;
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
  const request = await verifiedRequest(options, delivery);
  if (request === undefined) return;
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

/**
 * A request, its signature verified as a subscriber's message is: signed by a key of the app it
 * says asks (so that nobody can have answers sent to another app's queue in its name). One that
 * cannot be read or fails verification is parked, and undefined returned.
 */
async function verifiedRequest(
  options: ResyncResponderOptions,
  delivery: Delivery,
): Promise<ResyncRequest | undefined> {
  const checked = options.verifier
    ? await options.verifier.check(delivery.body, delivery.signature)
    : { signer: undefined };
  if ('failure' in checked) return reject(options, delivery, checked.failure, checked.reason);
  const request = parseResyncRequest(delivery.body);
  if (typeof request === 'string') {
    options.log.warn({ messageId: delivery.messageId, reason: request }, 'parked a re-sync request it cannot read');
    await delivery.park(request);
    return undefined;
  }
  if (checked.signer === undefined) return request;
  const foreign = foreignClaim(checked.signer, signatureKeyId(delivery.signature as string), request.app, []);
  return foreign === undefined ? request : reject(options, delivery, 'not-owner', foreign, request.app);
}

/** Parks a request that fails verification, counted under the app it claims to come from when that app is trusted. */
async function reject(
  options: ResyncResponderOptions,
  delivery: Delivery,
  failure: SignatureFailure,
  reason: string,
  claimed?: string,
): Promise<undefined> {
  const from = claimed !== undefined && options.verifier?.trusts(claimed) ? claimed : 'unknown';
  (options.metrics ?? defaultMetrics()).signatureFailures.inc({ app: options.app, publisher: from, reason: failure });
  options.log.warn({ messageId: delivery.messageId, reason }, 'parked a re-sync request that fails verification');
  await delivery.park(reason);
  return undefined;
}
