import { defineConfig } from 'promiscuous';

export default defineConfig({
  apps: {
    crowdtap: {
      publish: [
        {
          table: 'users',
          as: 'User',
          fields: {
            id: 'uuid primary',
            first_name: 'string private',
            // @ts-expect-error use takes a list
            full_name: { type: 'string', virtual: { use: 'first_name' } },
          },
        },
      ],
    },
  },
});
// expect:
// config/virtual-use-is-a-string.config.ts:14:58: error[P005] `use` must be a list of field names at apps.crowdtap.publish[0].fields.full_name.virtual.use (help: write `use: ['first_name', 'last_name']`)
