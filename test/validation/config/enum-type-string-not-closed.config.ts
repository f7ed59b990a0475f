import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        {
          table: 'orders',
          fields: {
            id: 'integer primary',
            // @ts-expect-error not a type
            state: 'enum(open, paid',
          },
        },
      ],
    },
  },
});
// expect:
// config/enum-type-string-not-closed.config.ts:12:36: error[P001] expected `)`, found the end of the text at apps.shop.publish[0].fields.state (help: close the arguments with `)`)
