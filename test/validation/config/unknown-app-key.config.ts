import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    crowdtap: {
      publish: [{ table: 'users', as: 'User', fields: { id: 'uuid primary' } }],
    },
    sniper: {
      // @ts-expect-error misspelled key
      subscribes: [{ type: 'User', attributes: [] }],
    },
  },
});
// expect:
// config/unknown-app-key.config.ts:10:7: error[P005] unknown key `subscribes` in app `sniper` at apps.sniper.subscribes (help: did you mean `subscribe`?)
