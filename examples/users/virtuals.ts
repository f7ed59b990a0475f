import type { Virtuals } from './generated/crowdtap/publisher.js';

/** crowdtap's virtual attributes: the config passes them to the publisher, as do the tests and benchmarks. */
export const crowdtapVirtuals: Virtuals = {
  User: { full_name: (row) => `${row.first_name} ${row.last_name}` },
};
