// The original Promiscuous example: crowdtap publishes its users; sniper and mailer subscribe.
// The twin of routes.prom: both generate byte-identical output. The keys after `apps` say how
// the processes run (`npm run demo` starts them); the routes compiler ignores them.
import { join } from 'node:path';
import { defineConfig } from 'promiscuous';
import type { RuntimeHooks } from './generated/hooks.js';
import { crowdtapVirtuals } from './virtuals.js';

// Given the generated types, the config accepts exactly the virtual attributes and callbacks
// the routes declare: a misspelt or missing one is a type error.
export default defineConfig<RuntimeHooks>()({
  apps: {
    crowdtap: {
      embedded: {
        Address: {
          fields: {
            id: 'uuid primary',
            street_name: 'string',
            zipcode: 'string',
          },
        },
      },
      publish: [
        {
          table: 'organizations',
          as: 'Organization',
          fields: {
            id: 'integer primary',
            name: 'string',
          },
        },
        {
          table: 'users',
          as: 'User',
          to: 'crowdtap/user',
          fields: {
            id: 'uuid primary',
            name: 'string',
            email: 'string?',
            first_name: 'string private',
            last_name: 'string private',
            full_name: { type: 'string', virtual: { use: ['first_name', 'last_name'] } },
            addresses: { embedsMany: 'Address' },
            org_id: { belongsTo: 'Organization?' },
            tags: 'string[]',
          },
        },
        {
          table: 'users',
          as: 'Member',
          extends: 'User',
          when: { column: 'type', value: 'Member' },
          fields: {
            points: 'integer',
          },
        },
        {
          table: 'users',
          as: 'Admin',
          extends: 'User',
          when: { column: 'type', value: 'Admin' },
          fields: {
            role: 'enum(owner, editor)',
          },
        },
      ],
      ephemerals: {
        UserEvent: {
          to: 'crowdtap/user_event',
          fields: {
            user_id: { type: 'uuid', belongsTo: 'User' },
            event: 'enum(registered, deleted)',
          },
        },
      },
    },

    sniper: {
      subscribe: [
        // Admins arrive as Users: the nearest subscribed ancestor.
        {
          type: 'User',
          from: '*/user',
          into: 'members',
          foreignKey: { column: 'crowdtap_id', type: 'uuid' },
          attributes: ['name', { email: 'contact_email' }],
        },
        {
          type: 'Member',
          extends: 'User',
          attributes: ['points'],
        },
        {
          type: 'Organization',
          from: 'crowdtap/organization',
          attributes: ['name'],
        },
      ],
      observe: [
        {
          type: 'UserEvent',
          from: 'crowdtap.user_event.*',
          attributes: ['user_id', 'event'],
        },
      ],
    },

    mailer: {
      // Observes persisted users without storing them.
      observe: [
        {
          type: 'User',
          as: 'Recipient',
          from: 'crowdtap/user',
          attributes: ['email', 'full_name'],
        },
      ],
    },
  },

  // Each app its own SQLite file: the embedded default. PROMISCUOUS_SQLITE_DIR says where.
  database: (app) => ({
    client: 'better-sqlite3',
    connection: { filename: join(process.env.PROMISCUOUS_SQLITE_DIR ?? '.', `${app}.sqlite`) },
    useNullAsDefault: true,
  }),
  callbacks: {
    sniper: {
      User: {
        afterCreate: ({ attributes }) => console.log(`Hi ${attributes?.name}!`),
        afterUpdate: ({ attributes, version }) => console.log(`${attributes?.name} updated (version ${version})`),
        afterDestroy: ({ id }) => console.log(`Bye ${id}`),
      },
      Member: {
        afterCreate: ({ attributes }) =>
          console.log(`Hi ${attributes?.name}, member with ${attributes?.points} points!`),
      },
      UserEvent: {
        afterCreate: ({ attributes, idempotencyKey }) => console.log(`event ${attributes?.event} (${idempotencyKey})`),
      },
    },
  },
  // The same object crowdtap's own code passes to `new Publisher({ virtuals })`.
  virtuals: { crowdtap: crowdtapVirtuals },
});
