import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        {
          table: 'products',
          fields: {
            // @ts-expect-error not a modifier
            id: 'integer primry',
            title: 'string',
          },
        },
      ],
    },
  },
});
// expect:
// config/field-string-with-misspelled-modifier.config.ts:11:26: error[P001] expected a modifier (`primary`, `private`, `column`, `belongs_to`, `embeds`) after the type, found `primry` at apps.shop.publish[0].fields.id (help: did you mean `primary`?)
