import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [{ table: 'products', fields: { sku: 'string', title: 'string' } }],
    },
  },
});
// expect:
// config/missing-primary-key.config.ts:6:27: error[P204] `products` has no primary key at apps.shop.publish[0].table (help: add `id: 'integer primary'` to `fields` (or mark the key field `primary`))
