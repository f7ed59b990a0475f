/**
 * Transactions that wait for replica's acknowledgement, beside the workload: each renames a
 * genre with `requireAcks: ['replica']`, and once the transaction resolves, the replica's
 * versions table must already hold the genre at the version written. An acknowledgement that
 * came before the apply committed would be a false positive; worker kills may only make them
 * time out (false negatives).
 */
import type { Knex } from 'knex';
import { AcknowledgementTimeout, type Publisher } from '../../src/runtime/index.js';
import type { Hooks } from '../fixtures/chinook/generated/store/publisher.js';
import type { Random } from './random.js';

export type AckOutcome = 'acked' | 'timeout' | 'violation' | 'gone';

export interface AckProbe {
  readonly publisher: Publisher<Hooks>;
  readonly replica: Knex;
  readonly random: Random;
  /** Whether to keep going, and whether to wait (the orchestrator's back-pressure). */
  running(): boolean;
  paused(): boolean;
  outcome(outcome: AckOutcome, detail?: string): void;
}

/** Genres Chinook has: the workload renames and never deletes them. */
const genres = 25;

export async function probeAcks(probe: AckProbe): Promise<void> {
  let serial = 0;
  while (probe.running()) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (probe.paused()) continue;
    const id = probe.random.int(1, genres);
    serial += 1;
    let written: { _v?: unknown } | undefined;
    try {
      // A name no incarnation of the publisher wrote before: an update that changes nothing
      // would publish nothing, and wait for nothing.
      const name = `Genre acked ${process.pid}-${serial}`;
      written = await probe.publisher.transaction((tx) => tx.Genre.update(id, { name }), {
        requireAcks: ['replica'],
        ackTimeoutMs: 5_000,
      });
    } catch (error) {
      if (error instanceof AcknowledgementTimeout) probe.outcome('timeout');
      continue;
    }
    if (!written) {
      probe.outcome('gone');
      continue;
    }
    const row = (await probe
      .replica('promiscuous_versions')
      .where({ publisher: 'store', endpoint: 'store/genre', object_id: String(id) })
      .first('version')) as { version: number | string } | undefined;
    const held = Number(row?.version ?? -1);
    if (held >= Number(written._v)) probe.outcome('acked');
    else
      probe.outcome(
        'violation',
        `genre ${id}: acknowledged at version ${String(written._v)}, the replica holds ${held}`,
      );
  }
}
