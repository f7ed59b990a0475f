/**
 * The child side of the fault points: the orchestrator arms one point, and the process kills
 * itself with SIGKILL the next time (or the few times after that) its code passes there. The
 * points sit in the suite's own code around the runtime's public API (the workload's
 * transaction bodies, a Transport wrapper, the subscriber's callbacks), so no hook in the
 * runtime is needed to reach them.
 */
import { writeSync } from 'node:fs';
import type { Consumer, Delivery, OutgoingMessage, Transport } from '../../src/runtime/index.js';
import { rollbackMarker } from './world.js';

export const publisherPoints = ['before-commit', 'after-commit', 'confirms-pending', 'after-confirm'] as const;
export const workerPoints = ['mid-apply', 'before-ack'] as const;
export type PublisherPoint = (typeof publisherPoints)[number];
export type WorkerPoint = (typeof workerPoints)[number];
export type FaultPoint = PublisherPoint | WorkerPoint;

/** Messages from the orchestrator. */
export type Command =
  | { readonly type: 'arm'; readonly point: FaultPoint; readonly skip: number }
  | { readonly type: 'disarm' }
  | { readonly type: 'stop' }
  | { readonly type: 'pause' }
  | { readonly type: 'resume' }
  | { readonly type: 'status' };

/** Messages to the orchestrator. */
export type Report =
  | { readonly type: 'ready' }
  | { readonly type: 'stopped' }
  | { readonly type: 'status'; readonly inFlight: number; readonly deliveries: number };

export type DeliveryOutcome = 'ack' | 'defer' | 'retry' | 'park';

/**
 * A line the orchestrator reads on stdout. Written with a synchronous write, so that the line
 * announcing a fault is out before the SIGKILL that follows it.
 */
export function event(fields: Record<string, unknown>): void {
  writeSync(1, `CHAOS ${JSON.stringify(fields)}\n`);
}

export function send(report: Report): void {
  process.send?.(report);
}

export class FaultPoints {
  private armed: { point: FaultPoint; skip: number } | undefined;

  arm(point: FaultPoint, skip: number): void {
    this.armed = { point, skip };
  }

  disarm(): void {
    this.armed = undefined;
  }

  isArmed(point: FaultPoint): boolean {
    return this.armed?.point === point;
  }

  /** The code passes `point`: dies here if it is armed and its skips are used up. */
  reached(point: FaultPoint): void {
    const armed = this.armed;
    if (armed?.point !== point) return;
    if (armed.skip > 0) {
      armed.skip -= 1;
      return;
    }
    event({ event: 'fault', point });
    process.kill(process.pid, 'SIGKILL');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The publisher's transport, with three points: the relay got committed rows but has written
 * nothing to the broker (`after-commit`); the messages are written and their confirms not back
 * yet (`confirms-pending`); the broker confirmed them and the outbox rows are not deleted yet
 * (`after-confirm`).
 */
export function publisherTransport(inner: Transport, points: FaultPoints): Transport {
  return {
    async publish(messages: readonly OutgoingMessage[]) {
      points.reached('after-commit');
      let settled = false;
      const confirmed = inner.publish(messages).finally(() => (settled = true));
      if (points.isArmed('confirms-pending')) {
        // Long enough for amqplib to hand the frames to the socket, too short for the confirms.
        await sleep(1);
        if (!settled) points.reached('confirms-pending');
      }
      await confirmed;
      points.reached('after-confirm');
    },
    consume: (app, options, handle) => inner.consume(app, options, handle),
    listen: (handle) => inner.listen(handle),
    reply: (address, message) => inner.reply(address, message),
    parked: (app) => inner.parked(app),
    retryParked: (app, ids) => inner.retryParked(app, ids),
    dropParked: (app, ids) => inner.dropParked(app, ids),
    healthy: () => inner.healthy(),
    close: () => inner.close(),
  };
}

export interface DeliveryStats {
  inFlight: number;
  deliveries: number;
  /** How deliveries were settled: `ack`, `defer` (waiting for a dependency), `retry`, `park`. */
  readonly settled: Record<DeliveryOutcome, number>;
}

/**
 * A worker's transport: counts deliveries in flight (the orchestrator's quiescence test),
 * reports every delivery that carries a rolled-back row, and has the point `before-ack` (the
 * change is committed in the subscriber's database, the broker has not been told).
 */
export function workerTransport(
  inner: Transport,
  points: FaultPoints,
  stats: DeliveryStats,
  trace?: (delivery: Delivery, outcome: DeliveryOutcome) => void,
): Transport {
  const marker = Buffer.from(rollbackMarker);
  const settle = (delivery: Delivery, outcome: DeliveryOutcome): void => {
    stats.settled[outcome] += 1;
    trace?.(delivery, outcome);
  };
  const watch = (delivery: Delivery): Delivery => ({
    body: delivery.body,
    messageId: delivery.messageId,
    attempt: delivery.attempt,
    waitingSince: delivery.waitingSince,
    redelivered: delivery.redelivered,
    ...(delivery.framed === undefined ? {} : { framed: delivery.framed }),
    signature: delivery.signature,
    ack: async () => {
      points.reached('before-ack');
      settle(delivery, 'ack');
      await delivery.ack();
    },
    retry: (error, delayMs) => {
      settle(delivery, 'retry');
      return delivery.retry(error, delayMs);
    },
    defer: (delayMs, since) => {
      settle(delivery, 'defer');
      return delivery.defer(delayMs, since);
    },
    park: (reason) => {
      settle(delivery, 'park');
      return delivery.park(reason);
    },
  });
  return {
    publish: (messages) => inner.publish(messages),
    listen: (handle) => inner.listen(handle),
    reply: (address, message) => inner.reply(address, message),
    consume: (app, options, handle): Promise<Consumer> =>
      inner.consume(app, options, async (delivery) => {
        stats.inFlight += 1;
        stats.deliveries += 1;
        if (delivery.body.includes(marker)) event({ event: 'rolled-back-arrived', messageId: delivery.messageId });
        try {
          await handle(watch(delivery));
        } finally {
          stats.inFlight -= 1;
        }
      }),
    parked: (app) => inner.parked(app),
    retryParked: (app, ids) => inner.retryParked(app, ids),
    dropParked: (app, ids) => inner.dropParked(app, ids),
    healthy: () => inner.healthy(),
    close: () => inner.close(),
  };
}
