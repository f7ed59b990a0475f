import { schema as crowdtap } from '../../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';

export { crowdtap, sniper };

export { crowdtapVirtuals as virtuals } from '../../examples/users/virtuals.js';

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
