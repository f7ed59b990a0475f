// The routes of unmanaged.prom, as defineConfig.
import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    crowdtap: {
      publish: [
        { table: 'users', as: 'User', fields: { id: 'uuid primary', name: 'string' } },
        { table: 'users', as: 'Member', extends: 'User', fields: { points: 'integer' } },
      ],
    },
    sniper: {
      subscribe: [
        {
          type: 'User',
          from: 'crowdtap/user',
          into: 'members',
          foreignKey: { column: 'crowdtap_id', type: 'uuid' },
          unmanaged: true,
          attributes: ['name'],
        },
        { type: 'Member', extends: 'User', attributes: ['points'] },
        { type: 'User', as: 'Buyer', from: 'crowdtap/user', into: 'buyers', attributes: ['name'] },
      ],
    },
  },
});
