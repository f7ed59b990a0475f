import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      // @ts-expect-error `strng` is not a type and `colum` is not a key
      publish: [{ table: 'products', fields: { id: 'integer primary', title: 'strng', price: { type: 'decimal(10, 2)', colum: 'x' } } }],
      subscribe: [{ type: 'Product', from: 'shop/product', attributes: ['titel'] }],
    },
    billing: {
      subscribe: [{ type: 'Product', from: 'shop/product', attributes: ['title', { prize: 'price' }] }],
    },
  },
});
// expect:
// config/unknown-attribute.config.ts:7:120: error[P005] unknown key `colum` in field `price` at apps.shop.publish[0].fields.price.colum (help: did you mean `column`?)
