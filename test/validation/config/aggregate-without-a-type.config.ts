import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        { table: 'orders', as: 'Order', fields: { id: 'integer primary', line_count: { count: 'OrderLine' } } },
        {
          table: 'order_lines',
          as: 'OrderLine',
          fields: { id: 'integer primary', order_id: { belongsTo: 'Order' } },
        },
      ],
    },
  },
});
// expect:
// config/aggregate-without-a-type.config.ts:7:74: error[P103] field `line_count` has no type at apps.shop.publish[0].fields.line_count (help: add `type: 'integer'` (or another type) to it)
