import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    shop: { publish: [{ table: 'customers', as: 'Customer', fields: { id: 'uuid primary', email: 'string' } }] },
    crm: {
      subscribe: [
        // @ts-expect-error: the flag is true, false or absent
        { type: 'Customer', from: 'shop/customer', into: 'mailing', unmanaged: 'yes', attributes: ['email'] },
      ],
    },
  },
});
// expect:
// config/unmanaged-is-not-true.config.ts:9:80: error[P005] `unmanaged` must be `true` at apps.crm.subscribe[0].unmanaged (help: write `unmanaged: true`)
