/**
 * Re-sync: how a lost message heals without a human. A subscriber whose message has waited
 * too long for an object asks the object's publisher for its current state; the publisher
 * answers with a `sync` operation sent to that subscriber's queue alone.
 *
 * Requests and answers travel on the apps' exchange under routing keys of two words, which
 * never match the three-word keys (`<app>.<type>.<operation>`) that subscriptions bind.
 */

/** The routing key a publisher app's re-sync requests travel under. */
export function resyncRequestKey(publisher: string): string {
  return `resync.${publisher}`;
}

/** The routing key of the answers meant for one subscriber app. */
export function syncReplyKey(subscriber: string): string {
  return `sync.${subscriber}`;
}

/**
 * The pseudo-app whose queue holds a publisher app's re-sync requests (its retry and parked
 * queues come with it). App names have no dots, so it never collides with an app.
 */
export function resyncQueueApp(publisher: string): string {
  return `${publisher}.resync`;
}

export interface ResyncRequest {
  readonly format: 1;
  /** The subscriber app asking: the answer goes to its queue. */
  readonly app: string;
  readonly objects: readonly { readonly endpoint: string; readonly id: string; readonly version: number }[];
}

/** Parses a request, or says what is wrong with it. */
export function parseResyncRequest(body: Buffer): ResyncRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return `malformed JSON: ${(error as Error).message}`;
  }
  const request = value as Partial<ResyncRequest> | null;
  if (request?.format !== 1 || typeof request.app !== 'string' || !/^[a-z][a-z0-9_]*$/.test(request.app)) {
    return 'a re-sync request needs `format: 1` and the asking `app`';
  }
  const objects = Array.isArray(request.objects) ? request.objects : [];
  const valid = objects.every(
    (o) => typeof o?.endpoint === 'string' && typeof o.id === 'string' && typeof o.version === 'number',
  );
  if (objects.length === 0 || !valid) return 'a re-sync request needs `objects`: [{ endpoint, id, version }]';
  return request as ResyncRequest;
}
