import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    crowdtap: {
      publish: [{ table: 'users', as: 'User', fields: { id: 'uuid primary', name: 'string', email: 'string' } }],
    },
    sniper: {
      subscribe: [{ type: 'User', from: 'crowdtap/user', attributes: [{ name: 'full_name', email: 'contact_email' }] }],
    },
  },
});
// expect:
// config/attribute-object-with-two-entries.config.ts:9:71: error[P005] an attribute object renames one attribute at apps.sniper.subscribe[0].attributes[0] (help: give each attribute its own entry: `{ name: 'full_name' }`, `{ email: 'contact_email' }`)
