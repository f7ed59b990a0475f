/** Every Redis key and channel name, built in one place. Nothing under them is needed to rebuild state. */
export function redisKeys(namespace: string) {
  return {
    /** The lock on one object (publisher, endpoint, id) while a worker applies it. */
    lock: (object: string) => `${namespace}:lock:${object}`,
    /** Where workers announce `<object> <version>` once applied, to wake those waiting for it. */
    applied: `${namespace}:applied`,
  };
}
