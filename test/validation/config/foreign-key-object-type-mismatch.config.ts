import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    crowdtap: {
      publish: [{ table: 'users', as: 'User', fields: { id: 'uuid primary', name: 'string' } }],
    },
    sniper: {
      subscribe: [
        {
          type: 'User',
          from: 'crowdtap/user',
          into: 'members',
          foreignKey: { column: 'crowdtap_id', type: 'integer' },
          attributes: ['name'],
        },
      ],
    },
  },
});
// expect:
// config/foreign-key-object-type-mismatch.config.ts:14:55: error[P405] `crowdtap_id` is `integer` but `User` ids are `uuid` at apps.sniper.subscribe[0].foreignKey.type (help: declare `foreignKey: { column: 'crowdtap_id', type: 'uuid' }`)
