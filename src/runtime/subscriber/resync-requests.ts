/**
 * Re-sync requests: a dependency still missing after the dependency timeout is asked of its
 * publisher, which answers with the object's current state in this app's queue. Each object
 * is asked at most once per timeout.
 */
import { randomUUID } from 'node:crypto';
import type { Transport } from '../../transport/transport.js';
import { SubscriberError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { SubscriberObserver } from '../observability/subscriber-observer.js';
import { type ResyncRequest, resyncRequestKey } from '../resync.js';
import type { Requirement } from './types.js';

export interface ResyncRequestsOptions {
  readonly app: string;
  readonly transport: Transport;
  readonly timeoutMs: number;
  readonly observer: SubscriberObserver;
  readonly log: Logger;
  report(error: Error, payload?: unknown): void;
}

export class ResyncRequests {
  /** When each object was last asked of its publisher. */
  private readonly requested = new Map<string, number>();

  constructor(private readonly options: ResyncRequestsOptions) {}

  /** Asks each missing object's publisher for its current state, unless it was asked within the timeout. */
  async request(missing: readonly Requirement[]): Promise<void> {
    const now = Date.now();
    const timeout = this.options.timeoutMs;
    const due = missing.filter((m) => now - (this.requested.get(m.key) ?? 0) >= timeout);
    if (due.length === 0) return;
    for (const m of due) this.requested.set(m.key, now);
    for (const [key, time] of this.requested) if (now - time >= timeout) this.requested.delete(key);
    for (const publisher of new Set(due.map((m) => m.publisher))) {
      await this.send(
        publisher,
        due.filter((m) => m.publisher === publisher),
      );
    }
  }

  private async send(publisher: string, objects: readonly Requirement[]): Promise<void> {
    const request: ResyncRequest = {
      format: 1,
      app: this.options.app,
      objects: objects.map(({ endpoint, id, version }) => ({ endpoint, id, version })),
    };
    this.options.log.warn(
      { publisher, objects: request.objects, timeoutMs: this.options.timeoutMs },
      'asking the publisher to re-sync objects missing past the dependency timeout',
    );
    try {
      await this.options.transport.publish([
        {
          routingKeys: [resyncRequestKey(publisher)],
          messageId: randomUUID(),
          body: Buffer.from(JSON.stringify(request)),
        },
      ]);
      this.options.observer.resyncRequested(publisher);
    } catch (error) {
      this.options.log.error({ publisher, err: error }, 'could not ask the publisher to re-sync');
      this.options.report(new SubscriberError(`could not ask ${publisher} to re-sync`, { cause: error }), request);
    }
  }
}
