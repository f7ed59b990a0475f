import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    crowdtap: {
      publish: [{ table: 'users', as: 'User', fields: { id: 'uuid primary', name: 'string', email: 'string?' } }],
    },
    sniper: {
      subscribe: [
        {
          type: 'User',
          from: 'crowdtap/user',
          attributes: ['name', { emial: 'contact_email' }],
        },
      ],
    },
  },
});
// expect:
// config/subscription-asks-for-unpublished-attribute.config.ts:13:34: error[P404] `User` does not publish `emial` at apps.sniper.subscribe[0].attributes[1].emial (help: did you mean `email`?)
