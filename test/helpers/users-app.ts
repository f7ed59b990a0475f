import { schema as crowdtap, type Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';

export { crowdtap, sniper };

export const virtuals: Virtuals = {
  User: { full_name: (row) => `${row.first_name} ${row.last_name}` },
};

export { crowdtapTables, sniperTables } from '../../examples/users/schema.js';

export function newUser<Extra extends object = object>(name: string, extra?: Extra) {
  return {
    id: crypto.randomUUID(),
    name,
    email: `${name.toLowerCase()}@example.com`,
    first_name: name,
    last_name: 'Skywalker',
    addresses: [],
    tags: [],
    ...(extra as Extra),
  };
}
