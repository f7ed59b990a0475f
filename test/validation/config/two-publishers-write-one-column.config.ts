import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: { publish: [{ table: 'customers', as: 'Customer', fields: { id: 'uuid primary', name: 'string' } }] },
    billing: { publish: [{ table: 'customers', as: 'Customer', fields: { id: 'uuid primary', name: 'string' } }] },
    crm: {
      subscribe: [
        { type: 'Customer', as: 'ShopCustomer', from: 'shop/customer', into: 'customers', foreignKey: 'customer_uuid', attributes: ['name'] },
        { type: 'Customer', as: 'BillingCustomer', from: 'billing/customer', into: 'customers', foreignKey: 'customer_uuid', attributes: ['name'] },
      ],
    },
  },
});
// expect:
// config/two-publishers-write-one-column.config.ts:10:140: error[P406] column `name` of `customers` is already written by `ShopCustomer` (from `shop/customer`) at apps.crm.subscribe[1].attributes[0] (help: each publisher owns its columns: store it elsewhere with `{ name: '<column>' }`)
