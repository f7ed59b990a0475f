/** Seeds: valid routes that together use every construct of grammar/README.md, as `.prom` text and as `defineConfig` objects. */
const usersProm = `# The original Promiscuous example: crowdtap publishes its users; sniper and mailer subscribe.

app crowdtap

embedded Address {
  id           uuid primary
  street_name  string
  zipcode      string
}

publish organizations as Organization {
  id    integer primary
  name  string
}

publish users as User to "crowdtap/user" {
  id          uuid primary
  name        string
  email       string?
  first_name  string private
  last_name   string private
  full_name   string virtual(use first_name, last_name)
  addresses   embeds many Address
  home        embeds one Address?
  org_id      belongs_to Organization?
  tags        string[]
}

publish users as Member extends User when type = "Member" {
  points  integer
}

publish users as Admin extends User when type = "Admin" {
  role  enum(owner, editor)
}

ephemeral UserEvent to "crowdtap/user_event" {
  user_id  uuid belongs_to User
  event    enum(registered, deleted)
}

app sniper

# Admins arrive as Users: the nearest subscribed ancestor.
subscribe User from "*/user" into members foreign_key crowdtap_id uuid {
  name
  email as contact_email
}

subscribe Member extends User {
  points
}

subscribe Organization from "crowdtap/organization" {
  name
}

observe UserEvent from "crowdtap.user_event.*" {
  user_id, event
}

app mailer

# Observes persisted users without storing them.
observe User as Recipient from "crowdtap/user" {
  email, full_name
}
`;

const shopProm = `# A shop with two API versions, and a customer table shared by two publishers.
app shop
include "parts/shop-extra.prom"

embedded LineItem { id uuid primary, sku string, quantity integer, price decimal(10, 2) }

publish customers as Customer to "shop/customer" {
  id         uuid primary
  name       string
  email      string? column email_address
  from_addr  string column "from"
  tier       enum(bronze, silver, gold)
  joined_at  timestamp
  birthday   date?
  notes      text?
  lifetime   bigint
  ratio      float
  active     boolean
  extra      json
  scores     integer[]
}

publish orders as Order {
  id           integer primary
  customer_id  belongs_to Customer
  items        embeds many LineItem
  gift         embeds one LineItem?
  total        decimal(12, 2)
  kind         string private
  label        string private
  summary      string virtual(use kind, label)
}

publish orders as OrderV2 to "shop/order_v2" { id integer primary, total decimal(12, 2) }

publish orders as RushOrder extends Order when kind = rush {
  deadline  timestamp
}

app billing

publish customers as Customer to "billing/customer" {
  id            uuid primary
  credit_limit  decimal(12, 2)
}

app crm

subscribe Customer as ShopCustomer from "shop/customer" into customers foreign_key customer_uuid {
  name, email
}
subscribe Customer as BillingCustomer from "billing/customer" into customers foreign_key customer_uuid uuid {
  credit_limit
}
subscribe Order from "shop/order" { total, items }
subscribe RushOrder extends Order { deadline }
subscribe OrderV2 as OrderSummary from "shop/order_v2" into order_summaries { total as amount }
observe CartEvent from "shop.cart_event.*" { customer_id, event }
observe Order as OrderFeed from "*.order.#" { total }
`;

const shopPart = `app shop   # sections of one app merge
ephemeral CartEvent to 'shop/cart_event' {
  customer_id  uuid belongs_to Customer?
  event        enum(added, removed)
}
`;

const blogProm = `app blog
publish posts { id integer primary, title string, body text }
publish comments {
  id         integer primary
  post_id    integer belongs_to Post
  author_id  belongs_to Post?
  tags       enum(a, b)[]?
}

app reader
subscribe Post { title }
subscribe Comment { post_id, author_id }
`;

interface PromSeed {
  readonly name: string;
  readonly path: string;
  readonly text: string;
  /** Files the seed includes, by path. */
  readonly parts: Readonly<Record<string, string>>;
}

export const promSeeds: readonly PromSeed[] = [
  { name: 'users', path: 'routes.prom', text: usersProm, parts: {} },
  { name: 'shop', path: 'routes.prom', text: shopProm, parts: { 'parts/shop-extra.prom': shopPart } },
  { name: 'blog', path: 'routes.prom', text: blogProm, parts: {} },
];

export type Json = string | number | boolean | null | undefined | Json[] | { [key: string]: Json };

const usersConfig: Json = {
  apps: {
    crowdtap: {
      embedded: { Address: { fields: { id: 'uuid primary', street_name: 'string', zipcode: 'string' } } },
      publish: [
        { table: 'organizations', as: 'Organization', fields: { id: 'integer primary', name: 'string' } },
        {
          table: 'users',
          as: 'User',
          to: 'crowdtap/user',
          fields: {
            id: 'uuid primary',
            name: 'string',
            email: 'string?',
            first_name: 'string private',
            last_name: { type: 'string', private: true },
            full_name: { type: 'string', virtual: { use: ['first_name', 'last_name'] } },
            addresses: { embedsMany: 'Address' },
            home: { embedsOne: 'Address?' },
            org_id: { belongsTo: 'Organization?' },
            tags: 'string[]',
            phone: { type: 'string?', column: 'phone_number' },
          },
        },
        {
          table: 'users',
          as: 'Member',
          extends: 'User',
          when: { column: 'type', value: 'Member' },
          fields: { points: 'integer' },
        },
        { table: 'users', as: 'Admin', extends: 'User', fields: { role: 'enum(owner, editor)' } },
      ],
      ephemerals: {
        UserEvent: {
          to: 'crowdtap/user_event',
          fields: { user_id: 'uuid belongs_to User', event: 'enum(registered, deleted)' },
        },
      },
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
        { type: 'Organization', from: 'crowdtap/organization', foreignKey: 'org_key', attributes: ['name'] },
      ],
      observe: [{ type: 'UserEvent', from: 'crowdtap.user_event.*', attributes: ['user_id', 'event'] }],
    },
    mailer: {
      observe: [{ type: 'User', as: 'Recipient', from: 'crowdtap/user', attributes: ['email', 'full_name'] }],
    },
  },
};

const shopConfig: Json = {
  apps: {
    shop: {
      publish: [
        {
          table: 'products',
          fields: {
            id: { type: 'integer', primary: true },
            title: 'string',
            price: 'decimal(10, 2)',
            state: 'enum(draft, live)',
            sold_at: 'timestamp?',
            from: { type: 'string', column: 'from' },
          },
        },
        { table: 'products', as: 'ProductV2', to: 'shop/product_v2', fields: { id: 'integer primary', title: 'text' } },
      ],
    },
    billing: {
      publish: [{ table: 'customers', as: 'Customer', fields: { id: 'uuid primary', credit: 'decimal(12, 2)' } }],
    },
    crm: {
      subscribe: [
        { type: 'Product', from: 'shop/product', attributes: ['title', { price: 'list_price' }] },
        { type: 'ProductV2', as: 'Catalog', from: 'shop.product_v2.*', into: 'catalog', attributes: ['title'] },
        { type: 'Customer', from: '*/customer', foreignKey: { column: 'customer_uuid' }, attributes: ['credit'] },
      ],
      observe: [{ type: 'Product', as: 'ProductFeed', from: '*.product.#', attributes: ['state'] }],
    },
  },
};

export const configSeeds: readonly { name: string; value: Json }[] = [
  { name: 'users', value: usersConfig },
  { name: 'shop', value: shopConfig },
];
