import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    crowdtap: {
      publish: [
        { table: 'users', as: 'User', fields: { id: 'uuid primary' } },
        { table: 'users', as: 'Member', extends: 'User', when: { column: 'kind', value: 'member' }, fields: { points: 'integer' } },
        { table: 'users', as: 'Admin', extends: 'User', when: { column: 'role', value: 'admin' }, fields: { level: 'integer' } },
      ],
    },
  },
});
// expect:
// config/subtypes-use-different-discriminator-columns.config.ts:9:74: error[P212] subtypes of `User` are told apart by `kind`, not `role` at apps.crowdtap.publish[2].when.column (help: write `when: { column: 'kind', value: 'admin' }`)
