import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [{ table: 'products', as: 'json Product', fields: { id: 'integer primary', 'unit price': 'decimal' } }],
    },
    mailer: {
      observe: [{ type: 'Product', as: 'shop.product.*', attributes: ['id', { 'unit price': 'price' }] }],
    },
  },
});
// expect:
// config/names-that-are-not-names.config.ts:6:43: error[P106] `as` "json Product" is not a name: use letters, digits and `_`, not starting with a digit at apps.shop.publish[0].as (help: write `json_Product`)
// config/names-that-are-not-names.config.ts:6:91: error[P106] field "unit price" is not a name: use letters, digits and `_`, not starting with a digit at apps.shop.publish[0].fields["unit price"] (help: write `unit_price`)
// config/names-that-are-not-names.config.ts:9:41: error[P106] `as` "shop.product.*" is not a name: use letters, digits and `_`, not starting with a digit at apps.mailer.observe[0].as (help: write `shop_product`)
// config/names-that-are-not-names.config.ts:9:79: error[P106] attribute "unit price" is not a name: use letters, digits and `_`, not starting with a digit at apps.mailer.observe[0].attributes[1]["unit price"] (help: write `unit_price`)
