import type { CrowdtapVirtuals } from './generated/hooks.js';

/**
 * crowdtap's virtual attributes, written once: the config's `virtuals.crowdtap` holds them (for
 * `promiscuous publish` and `relay`), and crowdtap's code, its tests and benchmarks pass them to
 * `new Publisher({ virtuals })`.
 */
export const crowdtapVirtuals: CrowdtapVirtuals = {
  User: { full_name: (row) => `${row.first_name} ${row.last_name}` },
};
