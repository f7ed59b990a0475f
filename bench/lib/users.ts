/** The users example as the benchmarks write it. */
import { randomUUID } from 'node:crypto';

export { crowdtapVirtuals as virtuals } from '../../examples/users/virtuals.js';

let serial = 0;

/** A new user, numbered in this process. */
export function newUser(): {
  id: string;
  name: string;
  email: string;
  first_name: string;
  last_name: string;
  addresses: { id: string; street_name: string; zipcode: string }[];
  tags: string[];
} {
  serial += 1;
  return {
    id: randomUUID(),
    name: `User ${serial}`,
    email: `user${serial}@example.com`,
    first_name: 'User',
    last_name: String(serial),
    addresses: [{ id: randomUUID(), street_name: 'Main Street', zipcode: '12345' }],
    tags: ['bench'],
  };
}

export type User = ReturnType<typeof newUser>;
