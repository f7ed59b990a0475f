import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        // @ts-expect-error table is required
        { as: 'Product', fields: { id: 'integer primary' } },
      ],
    },
  },
});
// expect:
// config/publication-without-table.config.ts:8:9: error[P005] `table` is missing at apps.shop.publish[0] (help: add `table: '...'`)
