import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        { table: 'customers', as: 'Customer', fields: { id: 'integer primary', name: 'string' } },
        {
          table: 'orders',
          as: 'Order',
          // @ts-expect-error a window has a unit
          coalesce: '200',
          fields: {
            id: 'integer primary',
            customer_id: { belongsTo: 'Customer' },
            name: { from: 'custmer.name' },
            full_name: { type: 'string', virtual: { use: ['customer.nmae'] } },
            line_count: { type: 'integer', count: 'OrderLine', via: 'order' },
          },
        },
        {
          table: 'order_lines',
          as: 'OrderLine',
          fields: { id: 'integer primary', order_id: { belongsTo: 'Order' }, amount: 'integer' },
        },
      ],
    },
  },
});
// expect:
// config/derived-attributes-in-error.config.ts:12:22: error[P224] `200` has no unit at apps.shop.publish[1].coalesce (help: write milliseconds or seconds: `coalesce: '200ms'`, `coalesce: '2s'`)
// config/derived-attributes-in-error.config.ts:16:28: error[P215] `Order` has no relation `custmer` at apps.shop.publish[1].fields.name.from (help: did you mean `customer`?)
// config/derived-attributes-in-error.config.ts:17:69: error[P217] `Customer` has no field `nmae` at apps.shop.publish[1].fields.full_name.virtual.use[0] (help: did you mean `name`?)
