/**
 * The crowdtap side of `npm run demo`: a publisher process that creates, updates and destroys
 * a few users through the generated hooks, then waits for its relay to publish them.
 */
import knex, { type Knex } from 'knex';
import { connectTransport, runtimeSettings } from '../../src/runtime/config.js';
import { Publisher } from '../../src/runtime/index.js';
import { schema } from './generated/crowdtap/publisher.js';
import config from './promiscuous.config.js';

const database = knex(config.database('crowdtap') as Knex.Config);
const transport = await connectTransport(runtimeSettings({ ...config, app: 'crowdtap' }));
const publisher = new Publisher({ schema, knex: database, transport, virtuals: config.virtuals.crowdtap });

const yoda = crypto.randomUUID();
const luke = crypto.randomUUID();
const person = (id: string, first: string, last: string) => ({
  id,
  name: first,
  email: `${first.toLowerCase()}@dagobah.example`,
  first_name: first,
  last_name: last,
  addresses: [],
  tags: [],
});

await publisher.transaction(async (tx) => {
  await tx.Organization.create({ id: 1, name: 'Jedi Order' });
  await tx.User.create({ ...person(yoda, 'Yoda', 'of Dagobah'), org_id: 1 });
  await tx.Member.create({ ...person(luke, 'Luke', 'Skywalker'), points: 10 });
  await tx.UserEvent.create({ user_id: yoda, event: 'registered' });
});
console.log('created Yoda and Luke in one transaction');
await publisher.transaction(async (tx) => void (await tx.User.update(yoda, { name: 'Master Yoda' })));
console.log('renamed Yoda');
await publisher.transaction(async (tx) => void (await tx.Member.update(luke, { points: 42 })));
console.log('gave Luke 42 points');
await publisher.transaction(async (tx) => void (await tx.User.destroy(yoda)));
console.log('destroyed Yoda');
await publisher.relay?.flush();
await publisher.close();
await transport.close();
await database.destroy();
