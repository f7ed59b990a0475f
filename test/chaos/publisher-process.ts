/**
 * The publisher `store`: seeds Chinook through the hooks, then runs the random workload from
 * several concurrent clients until the orchestrator says stop, its relay publishing the outbox
 * all along. Started and SIGKILLed by the orchestrator (test/chaos/run.ts), never by hand.
 *
 * Its fault points: `before-commit` at the end of each transaction body; `after-commit`,
 * `confirms-pending` and `after-confirm` around the relay's publishing (see fault-points.ts).
 */
import { AmqpTransport, Publisher } from '../../src/runtime/index.js';
import { schema } from '../fixtures/chinook/generated/store/publisher.js';
import { probeAcks } from './ack-probe.js';
import { type Command, event, FaultPoints, publisherTransport, send } from './fault-points.js';
import { Random } from './random.js';
import { Workload, type WorkloadStats } from './workload.js';
import { publisherKnex, replicaKnex, worldFromEnv } from './world.js';

const world = worldFromEnv();
const clients = Number(process.env.CHAOS_CLIENTS ?? 4);
const points = new FaultPoints();
// Each client may hold a transaction and read outside it at once; the relay needs its own.
const db = publisherKnex(world, clients * 2 + 4);
// Read only: where the acknowledgement probe checks what replica committed.
const replica = replicaKnex(world);
const transport = await AmqpTransport.connect({
  url: world.amqpUrl,
  namespace: world.namespace,
  connectionName: 'chaos publisher',
  // Restarted while RabbitMQ restarts: keep trying, as a process manager's restart would.
  initialRetries: 20,
});
const publisher = new Publisher({
  schema,
  knex: db,
  transport: publisherTransport(transport, points),
  // A short lease: a killed process's claimed rows are taken over within seconds.
  relay: { leaseMs: 3_000, sweepIntervalMs: 250 },
  virtuals: { Customer: { support_rep_name: supportRepName } },
  signatures: {
    key: world.keys.store.privatePem,
    trust: { replica: [world.keys.replica.publicText] },
    require: true,
  },
  errorNotifier: (error) => event({ event: 'error', name: error.name, message: error.message }),
});
/** Customer.support_rep_name, derived from the customer's support rep (an employee). */
function supportRepName(
  _row: unknown,
  related: { support_rep: { first_name: string; last_name: string } | null },
): string | null {
  return related.support_rep ? `${related.support_rep.first_name} ${related.support_rep.last_name}` : null;
}

const workload = new Workload(
  publisher,
  db,
  `${world.pgSchema}_seed`,
  new Random(Number(process.env.CHAOS_PROCESS_SEED ?? 1)),
  points,
  (message) => event({ event: 'log', message }),
  Number(process.env.CHAOS_MAX_ROWS ?? 0),
);

// The workload's counters, reported as they grow: a SIGKILL loses at most the last half second.
const reported: WorkloadStats = { committed: 0, rolledBack: 0, skipped: 0, conflicts: 0 };
const report = (): void => {
  const delta = Object.fromEntries(
    Object.entries(workload.stats).map(([k, v]) => [k, v - reported[k as keyof WorkloadStats]]),
  );
  if (Object.values(delta).some((v) => v !== 0)) event({ event: 'workload', ...delta });
  Object.assign(reported, workload.stats);
};
setInterval(report, 500).unref();

let running: Promise<void> = Promise.resolve();
process.on('message', (command: Command) => {
  if (command.type === 'arm') points.arm(command.point, command.skip);
  else if (command.type === 'disarm') points.disarm();
  else if (command.type === 'pause') workload.paused = true;
  else if (command.type === 'resume') workload.paused = false;
  else if (command.type === 'stop') {
    workload.stop();
    void running.then(async () => {
      points.disarm();
      await publisher.relay?.flush();
      report();
      send({ type: 'stopped' });
    });
  }
});
process.on('disconnect', () => process.exit(1));
process.once('SIGTERM', async () => {
  await publisher.close();
  await transport.close();
  await db.destroy();
  await replica.destroy();
  process.exit(0);
});

send({ type: 'ready' });
running = (async () => {
  await workload.seed();
  if (!(await workload.seeded())) return;
  event({ event: 'seeded' });
  const probe = probeAcks({
    publisher,
    replica,
    random: new Random(Number(process.env.CHAOS_PROCESS_SEED ?? 1) + 1),
    running: () => !workload.stopped,
    paused: () => workload.paused,
    outcome: (outcome, detail) => event({ event: 'ack', outcome, ...(detail ? { detail } : {}) }),
  });
  await Promise.all([
    ...Array.from({ length: clients }, (_, i) => workload.client(`client-${process.pid}-${i}`)),
    probe,
  ]);
})();
running.catch((error: Error) => {
  event({ event: 'error', name: error.name, message: `the workload stopped: ${error.message}` });
  process.exit(1);
});
