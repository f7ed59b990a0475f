import { defineConfig } from 'promiscuous';

// Every derived form of the object syntax, and one written in a field string, compiles.
export default defineConfig({
  apps: {
    shop: {
      publish: [
        { table: 'regions', as: 'Region', fields: { id: 'integer primary', name: 'string' } },
        {
          table: 'customers',
          as: 'Customer',
          fields: {
            id: 'integer primary',
            first_name: 'string',
            region_id: { belongsTo: 'Region?' },
            region_name: { from: 'region.name' },
          },
        },
        {
          table: 'orders',
          as: 'Order',
          coalesce: '200ms',
          fields: {
            id: 'integer primary',
            customer_id: { belongsTo: 'Customer' },
            customer_first_name: { type: 'string', virtual: { use: ['customer.first_name'] } },
            customer_region: { type: 'string?', from: 'customer.region_name', private: true },
            line_count: { type: 'integer', count: 'OrderLine' },
            total: { type: 'decimal(12, 2)', sum: 'OrderLine.amount', via: 'order_id' },
            smallest: { type: 'decimal(12, 2)?', min: 'OrderLine.amount' },
            biggest: { type: 'decimal(12, 2)?', max: 'OrderLine.amount', column: 'max_amount' },
            // @ts-expect-error the typed field strings are types and flags; the object form is typed
            region_label: 'string? from customer.region.name',
          },
        },
        {
          table: 'order_lines',
          as: 'OrderLine',
          fields: { id: 'integer primary', order_id: { belongsTo: 'Order' }, amount: 'decimal(12, 2)' },
        },
      ],
    },
  },
});
// expect:
