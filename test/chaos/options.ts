/**
 * The suite's options: command-line flags, each with an environment variable, and the defaults
 * of the short form (CI) and the long form (`--long`). README.md has the table.
 */
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    long: { type: 'boolean', default: process.env.CHAOS_LONG === '1' },
    seed: { type: 'string', default: process.env.CHAOS_SEED },
    seconds: { type: 'string', default: process.env.CHAOS_SECONDS },
    faults: { type: 'string', default: process.env.CHAOS_FAULTS },
    gap: { type: 'string', default: process.env.CHAOS_FAULT_GAP_MS },
    workers: { type: 'string', default: process.env.CHAOS_WORKERS },
    clients: { type: 'string', default: process.env.CHAOS_CLIENTS },
    'max-rows': { type: 'string', default: process.env.CHAOS_MAX_ROWS },
    'rabbitmq-restarts': { type: 'string', default: process.env.CHAOS_RABBITMQ_RESTARTS },
    'no-rabbitmq': { type: 'boolean', default: false },
    'no-fk': { type: 'boolean', default: process.env.CHAOS_FK === 'off' },
    'sqlite-immediate': { type: 'boolean', default: process.env.CHAOS_SQLITE_IMMEDIATE === '1' },
    'drain-seconds': { type: 'string', default: process.env.CHAOS_DRAIN_SECONDS },
    'max-backlog': { type: 'string', default: process.env.CHAOS_MAX_BACKLOG },
    'redis-db': { type: 'string', default: process.env.CHAOS_REDIS_DB },
    keep: { type: 'boolean', default: process.env.CHAOS_KEEP === '1' },
    only: { type: 'string', default: process.env.CHAOS_ONLY },
  },
});

const long = args.long === true;

export const options = {
  seed: Number(args.seed ?? Math.floor(Math.random() * 2 ** 31)),
  /** Seconds of random workload after the seeding; unlimited in the long form unless given. */
  seconds: args.seconds !== undefined ? Number(args.seconds) : long ? undefined : 30,
  /** Fault points after which the workload stops (with the seconds, whichever comes first). */
  faults: args.faults !== undefined ? Number(args.faults) : long ? 1_000 : undefined,
  meanGapMs: Number(args.gap ?? 600),
  workers: Math.max(1, Number(args.workers ?? 2)),
  clients: Number(args.clients ?? 4),
  /** The most rows one random transaction writes; 0: no limit (deleting a whole playlist of Chinook's). */
  maxRows: Number(args['max-rows'] ?? 0),
  rabbitMqRestarts: args['no-rabbitmq'] ? 0 : Number(args['rabbitmq-restarts'] ?? (long ? 5 : 1)),
  foreignKeys: args['no-fk'] !== true,
  beginImmediate: args['sqlite-immediate'] === true,
  drainSeconds: Number(args['drain-seconds'] ?? (long ? 600 : 150)),
  /** The workload pauses while more messages than this wait for the subscriber (0: never). */
  maxBacklog: Number(args['max-backlog'] ?? 1_000),
  redisDb: Number(args['redis-db'] ?? 13),
  keep: args.keep === true,
};
if (options.seconds === undefined && options.faults === undefined) throw new Error('give --seconds or --faults');

/** Weights of the faults the scheduler draws; RabbitMQ restarts are spread over the run apart. */
export const faultWeights = {
  'publisher-before-commit': 3,
  'publisher-after-commit': 2,
  'publisher-confirms-pending': 2,
  'publisher-after-confirm': 1,
  'publisher-anywhere': 1,
  'worker-mid-apply': 4,
  'worker-before-ack': 4,
  'worker-anywhere': 2,
  'redis-flush': 5,
  duplicate: 10,
  reorder: 6,
} as const;
export type FaultKind = keyof typeof faultWeights | 'rabbitmq-restart';

/** The weights in use: `--only worker-mid-apply,redis-flush` draws those kinds alone. */
export const weights: Partial<Record<keyof typeof faultWeights, number>> = args.only
  ? Object.fromEntries(
      args.only.split(',').map((kind) => {
        if (!(kind in faultWeights))
          throw new Error(`--only: ${kind} is not one of ${Object.keys(faultWeights).join(', ')}`);
        return [kind, faultWeights[kind as keyof typeof faultWeights]];
      }),
    )
  : faultWeights;
