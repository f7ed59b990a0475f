import type { ShopVirtuals } from './generated/hooks.js';

/**
 * shop's virtual attributes, written once: the config's `virtuals.shop` holds them (for
 * `promiscuous publish` and `relay`), and shop's code passes them to `new Publisher({ virtuals })`.
 */
export const shopVirtuals: ShopVirtuals = {
  OrderLine: { line_total: (row) => (Number(row.quantity) * Number(row.unit_price)).toFixed(2) },
};
