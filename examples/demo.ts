/**
 * `npm run demo`: compiles the example routes, then walks one message the way the original
 * Promiscuous tutorial does ("Hi Yoda!"): crowdtap's generated factories build the message
 * that `User.create({ name: 'Yoda' })` publishes, and sniper's generated applicators validate
 * it, resolve it to a subscription and name the table and columns it lands in.
 *
 * The replication runtime (outbox, RabbitMQ, Redis, `promiscuous subscribe`) is the next
 * milestone; until then this demo needs no running service.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/index.js';
import { resolveSubscription, routingKey } from '../src/runtime/index.js';
import { factories } from './users/generated/crowdtap/factories.js';
import * as sniper from './users/generated/sniper/subscriber.js';

const out = mkdtempSync(join(tmpdir(), 'promiscuous-demo-'));
try {
  for (const example of ['users', 'shop']) {
    const code = await runCli(['node', 'promiscuous', 'generate', '--config', `examples/${example}/routes.prom`, '--out', join(out, example)]);
    if (code !== 0) throw new Error(`generate failed for examples/${example}`);
  }

  const message = factories.User.create({ name: 'Yoda', email: 'yoda@dagobah.example' });
  const [operation] = message.operations;
  if (!operation) throw new Error('the factory built no operation');
  const key = routingKey(operation.endpoint, operation.operation);
  console.log(`\ncrowdtap publishes ${key}:`);
  console.log(JSON.stringify(message, null, 2));

  if (!sniper.schema.validate.envelope(message)) throw new Error('sniper rejected the envelope');
  const subscription = resolveSubscription(sniper.schema, key, operation.types);
  if (!subscription) throw new Error('sniper does not subscribe to this message');
  const validate = sniper.schema.validate.attributes[subscription.name];
  if (!validate?.(operation.attributes)) throw new Error(`sniper rejected the attributes: ${JSON.stringify(validate?.errors)}`);
  const attributes = operation.attributes as Record<string, unknown>;
  const columns = Object.fromEntries(subscription.attributes.map((a) => [a.column, attributes[a.name]]));
  console.log(`\nsniper applies it to ${subscription.name}: ${subscription.table} row ${subscription.key} = ${operation.id}`);
  console.log(columns);
  console.log(`\nHi ${String(attributes.name)}!`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
