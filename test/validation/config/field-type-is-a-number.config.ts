import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        {
          table: 'products',
          fields: {
            id: 'integer primary',
            // @ts-expect-error a field is a type string or an object
            stock: 42,
          },
        },
      ],
    },
  },
});
// expect:
// config/field-type-is-a-number.config.ts:12:20: error[P005] field `stock` must be a type string or an object at apps.shop.publish[0].fields.stock (help: write `stock: 'string'` (or another type), or `stock: { type: 'string', ... }`)
