import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        {
          table: 'products',
          // @ts-expect-error misspelled key
          fileds: { id: 'integer primary' },
        },
      ],
    },
  },
});
// expect:
// config/unknown-publication-key-did-you-mean.config.ts:10:11: error[P005] unknown key `fileds` in a publication at apps.shop.publish[0].fileds (help: did you mean `fields`?)
