import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        {
          table: 'products',
          fields: {
            id: 'integer primary',
            title: { column: 'product_title' },
          },
        },
      ],
    },
  },
});
// expect:
// config/field-object-without-type.config.ts:11:13: error[P103] field `title` has no type at apps.shop.publish[0].fields.title (help: add `type: 'string'` (or another type) to it)
