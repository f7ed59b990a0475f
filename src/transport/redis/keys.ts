/** Every Redis key and channel name, built in one place. Nothing under them is needed to rebuild state. */
export function redisKeys(namespace: string) {
  return {
    /** The lock on one object (publisher, endpoint, id) while a worker applies it. */
    lock: (object: string) => `${namespace}:lock:${object}`,
    /** Where workers announce the objects of each message they applied (a JSON array), to wake those waiting for them. */
    applied: `${namespace}:applied`,
    /**
     * The messages waiting for a dependency, for `promiscuous status`: a hash of message id to
     * `<waiting since> <commit time> <last seen> <held|deferred>` (ms since the epoch).
     */
    waiting: `${namespace}:waiting`,
    /** The commit time of the newest message applied: the score of one member, kept by `ZADD GT`. */
    appliedCommit: `${namespace}:applied-commit`,
    /**
     * What the workers received, summed: a hash of `brokerMessages` (each message counted as
     * its share of the broker message that carried it), `messages` and `operations`, whose
     * ratios turn the broker's queue depth into messages and operations.
     */
    received: `${namespace}:received`,
    /** Operations applied, by 5-second bucket: a hash of `<bucket start in s>` to a count, for the dashboard's chart. */
    appliedRate: `${namespace}:applied-rate`,
    /**
     * Commit-to-applied latencies of the messages applied: a hash of
     * `<publisher> <minute> <bucket>` to a count, for the dashboard's percentiles.
     */
    latency: `${namespace}:latency`,
    /** Messages parked for failing verification: a hash of `<claimed sender> <reason>` to a count. */
    signatureFailures: `${namespace}:signature-failures`,
  };
}
