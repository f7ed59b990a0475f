import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: {
      publish: [
        {
          table: 'orders',
          as: 'Order',
          fields: {
            id: 'integer primary',
            name: { from: 'customer..name' },
            total: { type: 'integer', sum: 'OrderLine.amount.cents' },
            status: { type: 'string', via: 'order_id' },
          },
        },
      ],
    },
  },
});
// expect:
// config/derived-attributes-of-the-wrong-shape.config.ts:12:37: error[P106] a path step "" is not a name: use letters, digits and `_`, not starting with a digit at apps.shop.publish[0].fields.name.from (help: write `name`)
// config/derived-attributes-of-the-wrong-shape.config.ts:13:44: error[P005] `sum` names a model's attribute, not a path at apps.shop.publish[0].fields.total.sum (help: write `sum: 'OrderLine.amount'`)
// config/derived-attributes-of-the-wrong-shape.config.ts:14:39: error[P005] `via` names the relation of an aggregate, and this field has none at apps.shop.publish[0].fields.status.via (help: add the aggregate (`count: 'OrderLine'`), or remove `via`)
