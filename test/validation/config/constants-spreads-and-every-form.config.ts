import { defineConfig } from 'promiscuous';

const userFields = {
  id: 'uuid primary',
  name: 'string',
  email: 'string?',
  first_name: 'string private',
  full_name: { type: 'string', virtual: { use: ['first_name', 'name'] } },
  org_id: { belongsTo: 'Organization?' },
  addresses: { embedsMany: 'Address' },
  phone: { type: 'string?', column: 'phone_number' },
} as const;

export default defineConfig({
  apps: {
    crowdtap: {
      embedded: { Address: { fields: { id: 'uuid primary', street: 'string' } } },
      publish: [
        { table: 'organizations', as: 'Organization', fields: { id: 'integer primary', name: 'string' } },
        { table: 'users', as: 'User', to: 'crowdtap/user', fields: userFields },
        { table: 'users', as: 'Member', extends: 'User', when: { column: 'type', value: 'Member' }, fields: { points: 'integer' } },
      ],
      ephemerals: { UserEvent: { to: 'crowdtap/user_event', fields: { user_id: { belongsTo: 'User' }, event: 'enum(registered, deleted)' } } },
    },
    sniper: {
      subscribe: [
        {
          type: 'User',
          from: '*/user',
          into: 'members',
          foreignKey: { column: 'crowdtap_id', type: 'uuid' },
          attributes: ['name', { email: 'contact_email' }],
        },
        { type: 'Member', extends: 'User', attributes: ['points'] },
      ],
      observe: [{ type: 'UserEvent', from: 'crowdtap.user_event.*', attributes: ['user_id', 'event'] }],
    },
  },
});
// expect:
