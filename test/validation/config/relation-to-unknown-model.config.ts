import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    crowdtap: {
      publish: [
        { table: 'organizations', as: 'Organization', fields: { id: 'integer primary' } },
        { table: 'users', as: 'User', fields: { id: 'uuid primary', org_id: { belongsTo: 'Organisation?' } } },
      ],
    },
  },
});
// expect:
// config/relation-to-unknown-model.config.ts:8:91: error[P210] `Organisation` is not a published model of app `crowdtap` at apps.crowdtap.publish[1].fields.org_id.belongsTo (help: did you mean `Organization`?)
