/**
 * Pure helpers shared by the compiler and the runtime (neither imports the other).
 */

/** Whether an AMQP topic pattern matches a routing key (`*` one word, `#` zero or more). */
export function topicMatches(pattern: string, key: string): boolean {
  const p = pattern.split('.');
  const k = key.split('.');
  const match = (i: number, j: number): boolean => {
    if (i === p.length) return j === k.length;
    if (p[i] === '#') {
      for (let skip = j; skip <= k.length; skip++) if (match(i + 1, skip)) return true;
      return false;
    }
    if (j === k.length) return false;
    return (p[i] === '*' || p[i] === k[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

/** `crowdtap/user` + `update` -> `crowdtap.user.update` */
export function routingKey(endpoint: string, operation: string): string {
  return `${endpoint.replace('/', '.')}.${operation}`;
}
