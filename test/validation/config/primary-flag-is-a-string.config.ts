import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        {
          table: 'products',
          fields: {
            // @ts-expect-error primary is a boolean
            id: { type: 'integer', primary: 'yes' },
          },
        },
      ],
    },
  },
});
// expect:
// config/primary-flag-is-a-string.config.ts:11:45: error[P005] `primary` must be `true` at apps.shop.publish[0].fields.id.primary (help: write `primary: true`)
