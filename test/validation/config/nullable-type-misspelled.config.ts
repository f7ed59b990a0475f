import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        {
          table: 'products',
          fields: {
            id: 'integer primary',
            // @ts-expect-error not a type
            title: { type: 'strng?' },
          },
        },
      ],
    },
  },
});
// expect:
// config/nullable-type-misspelled.config.ts:12:29: error[P103] unknown type `strng` at apps.shop.publish[0].fields.title.type (help: did you mean `string`?)
