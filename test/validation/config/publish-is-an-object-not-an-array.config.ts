import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      // @ts-expect-error publish takes a list
      publish: { table: 'products', fields: { id: 'integer primary' } },
    },
  },
});
// expect:
// config/publish-is-an-object-not-an-array.config.ts:7:16: error[P005] `publish` must be an array at apps.shop.publish (help: wrap it in a list: `publish: [{ ... }]`)
