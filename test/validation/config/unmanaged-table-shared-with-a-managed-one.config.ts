import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: { publish: [{ table: 'customers', as: 'Customer', fields: { id: 'uuid primary', name: 'string' } }] },
    billing: { publish: [{ table: 'customers', as: 'Customer', fields: { id: 'uuid primary', credit: 'integer' } }] },
    crm: {
      subscribe: [
        { type: 'Customer', as: 'ShopCustomer', from: 'shop/customer', into: 'customers', foreignKey: 'customer_uuid', unmanaged: true, attributes: ['name'] },
        { type: 'Customer', as: 'BillingCustomer', from: 'billing/customer', into: 'customers', foreignKey: 'customer_uuid', attributes: ['credit'] },
        { type: 'Customer', as: 'Archive', from: 'shop/customer', into: 'archive', unmanaged: false, attributes: ['name'] },
      ],
    },
  },
});
// expect:
// config/unmanaged-table-shared-with-a-managed-one.config.ts:10:34: error[P411] `customers` is `unmanaged` for `ShopCustomer` but managed by the migrations for `BillingCustomer` at apps.crm.subscribe[1].as (help: subscriptions into one table agree: add `unmanaged: true` here too, or remove it from `ShopCustomer`)
