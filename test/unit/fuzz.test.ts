/**
 * Fuzzes the compiler: valid routes (`.prom` text, and `defineConfig` objects) are mutated at
 * random with a seeded PRNG, and every mutant must compile without throwing, with diagnostics
 * that point at a real place (file, 1-based line and column that agree with the offset) and
 * say how to fix every error. Mutants that compile cleanly must also generate.
 *
 *   FUZZ_ITERATIONS=n   `.prom` mutants (default 2000), and a quarter as many config mutants
 *   FUZZ_SEED=n|random  the master seed (default fixed, so that `npm test` is reproducible)
 *   FUZZ_REPLAY=i       run only mutant i of the seed (both front ends), and print it
 *   FUZZ_EMITS=n        at most n distinct apps are generated (default 150; ~30-60 ms an app)
 *
 * A failure prints the seed, the mutant's number, its source, and a shrunk input that still
 * shows the same failure.
 */
import { posix } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { reservedWords } from '../../grammar/tokens.js';
import {
  type CompileOutput,
  type CompilerHost,
  compile,
  type Diagnostic,
  emitWorkspace,
  renderCompact,
  renderPretty,
  type Span,
} from '../../src/compiler/index.js';

// ---------------------------------------------------------------------------------------------
// Settings

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${raw}`);
  return n;
}

const iterations = envInt('FUZZ_ITERATIONS');
const promIterations = iterations ?? 2000;
const configIterations = Math.ceil(promIterations / 4);
const masterSeed =
  process.env.FUZZ_SEED === 'random' ? (Date.now() ^ (process.pid << 16)) >>> 0 : (envInt('FUZZ_SEED') ?? 20240611);
const replay = envInt('FUZZ_REPLAY');
const emitCap = envInt('FUZZ_EMITS') ?? 150;
/**
 * A mutant this slow to compile is reported (error recovery gone exponential, say). Mutants of
 * these small seeds compile in 1-50 ms; the margin is for a loaded machine.
 */
const slowMs = 2000;

// ---------------------------------------------------------------------------------------------
// PRNG: mulberry32, one stream per mutant so that any mutant can be replayed alone.

type Rng = () => number;

function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutantSeed(master: number, kind: number, i: number): number {
  // Hash each input in turn (murmur3's finaliser), so that no two (master, kind, i) collide simply.
  const mix = (h: number): number => {
    let x = h >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    return (x ^ (x >>> 16)) >>> 0;
  };
  return mix(mix(mix(master) + kind * 0x9e3779b1) + i);
}

const int = (r: Rng, n: number): number => Math.floor(r() * n);
function pick<T>(r: Rng, items: readonly T[]): T {
  return items[int(r, items.length)] as T;
}

// ---------------------------------------------------------------------------------------------
// Seeds: valid routes that together use every construct of grammar/README.md.

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

const promSeeds: readonly PromSeed[] = [
  { name: 'users', path: 'routes.prom', text: usersProm, parts: {} },
  { name: 'shop', path: 'routes.prom', text: shopProm, parts: { 'parts/shop-extra.prom': shopPart } },
  { name: 'blog', path: 'routes.prom', text: blogProm, parts: {} },
];

type Json = string | number | boolean | null | undefined | Json[] | { [key: string]: Json };

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

const configSeeds: readonly { name: string; value: Json }[] = [
  { name: 'users', value: usersConfig },
  { name: 'shop', value: shopConfig },
];

// ---------------------------------------------------------------------------------------------
// Pools of things to insert.

const scalarTypes = [
  'string',
  'text',
  'integer',
  'bigint',
  'decimal',
  'float',
  'boolean',
  'date',
  'timestamp',
  'uuid',
  'json',
  'enum',
];
const oddNames = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'prototype',
  '_',
  'A',
  'x1',
  'id',
  'ID',
  'type',
  'User',
  'users',
  'Users',
  'Address',
  'Admin',
  'strng',
  'integr',
  'publsh',
  'subscibe',
  'belongsto',
  'app',
  `n${'a'.repeat(300)}`,
];
const punctuation = [
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  '[]',
  '[ ]',
  '?',
  ',',
  '=',
  '"',
  "'",
  '#',
  '/',
  '*',
  '.',
  ':',
  ';',
  '-',
  '\\',
  '@',
  '`',
  '<',
  '>',
  '$',
  '%',
  '&',
  '|',
  '+',
  '!',
  '~',
];
const whitespace = ['\n', '\n\n', ' ', '\t', '\r\n', '\r', '\f', '\v', '\u00a0'];
const unicode = [
  'é',
  'ß',
  'İ',
  'Ω',
  'ǅ',
  'ﬀ',
  '日本',
  '😀',
  '👩‍👩‍👧',
  '\u0301',
  '\u200b',
  '\u200d',
  '\ufeff',
  '\u2028',
  '\u2029',
  '\u0000',
  '\u0007',
  '\u001b',
  '\ud800',
  '\udfff',
  '\u202e',
  'ﾞ',
  'ｕｓｅｒ',
];
const strings = [
  '"x"',
  "'y'",
  '""',
  "''",
  '"crowdtap/user"',
  '"*/user"',
  '"*/*"',
  '"*.user.#"',
  '"crowdtap.user.*"',
  '"a/b/c"',
  '"/"',
  '"crowdtap.user"',
  '"a.b.c.d"',
  '"#"',
  '"\\""',
  '"\\\\"',
  '"unterminated',
  "'half",
  '"parts/shop-extra.prom"',
  '"routes.prom"',
  '"../../etc/passwd"',
  '"missing.prom"',
  '"Member"',
  '"日本/😀"',
];
const numbers = ['0', '-1', '1', '2', '12', '3.5', '-0', '99999999999999999999', '1e3', '0x10', '007', '.5', '1.'];
const snippets = [
  'decimal(12, 2)',
  'decimal()',
  'decimal(1)',
  'enum()',
  'enum(a, a)',
  'enum(1, 2)',
  'string(3)',
  'string[][]',
  'string??',
  'string?[]',
  'virtual(use)',
  'virtual(use id)',
  'belongs_to User?',
  'embeds many Address?',
  'embeds one',
  'column "from"',
  'column ""',
  'primary primary',
  'when type = Member',
  'foreign_key id',
  'foreign_key id integer',
  'extends User',
  'into users',
  'as Foo',
  'to "x/y"',
  'from "x/y"',
  '{ }',
  '{ id uuid primary }',
  'app x',
  'include "parts/shop-extra.prom"',
  'include "routes.prom"',
  'include "nowhere.prom"',
  'embedded E { id uuid primary }',
  'publish t { id integer primary }',
  'subscribe User { name }',
  'observe User { name }',
  'ephemeral E { x integer }',
  '# comment',
];

// ---------------------------------------------------------------------------------------------
// Text mutations

const tokenPattern =
  /[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|-?\d+(?:\.\d+)?|\[\s*\]|#[^\n]*|\s+|[\s\S]/gu;

function tokenize(text: string): string[] {
  return text.match(tokenPattern) ?? [];
}

function randomInsert(r: Rng, names: readonly string[]): string {
  switch (int(r, 9)) {
    case 0:
      return pick(r, reservedWords);
    case 1:
      return pick(r, punctuation);
    case 2:
      return names.length > 0 && r() < 0.7 ? pick(r, names) : pick(r, oddNames);
    case 3:
      return pick(r, unicode);
    case 4:
      return pick(r, strings);
    case 5:
      return pick(r, numbers);
    case 6:
      return pick(r, scalarTypes);
    case 7:
      return pick(r, snippets);
    default:
      return pick(r, whitespace);
  }
}

function pad(r: Rng, text: string): string {
  const space = (): string => (r() < 0.6 ? ' ' : r() < 0.5 ? '' : '\n');
  return `${space()}${text}${space()}`;
}

/** One random edit of `text`; `other` is another seed, for splices. */
function mutateText(r: Rng, text: string, other: string): string {
  const tokens = tokenize(text);
  const solid = tokens.map((t, i) => (/^\s+$/.test(t) ? -1 : i)).filter((i) => i >= 0);
  const names = [...new Set(tokens.filter((t) => /^[A-Za-z_]\w*$/.test(t)))];
  const lines = text.split('\n');
  const at = (): number => (solid.length > 0 ? (pick(r, solid) as number) : 0);
  const join = (ts: string[]): string => ts.join('');
  switch (int(r, 17)) {
    case 0: {
      // delete a token
      const i = at();
      return join(tokens.filter((_, j) => j !== i));
    }
    case 1: {
      // duplicate a token
      const i = at();
      const sep = pick(r, [' ', '', ', ', '\n']);
      return join(tokens.flatMap((t, j) => (j === i ? [t, sep, t] : [t])));
    }
    case 2: {
      // swap two tokens
      const i = at();
      const j = at();
      const out = [...tokens];
      [out[i], out[j]] = [tokens[j] ?? '', tokens[i] ?? ''];
      return join(out);
    }
    case 3: {
      // replace a token
      const i = at();
      const out = [...tokens];
      out[i] = randomInsert(r, names);
      return join(out);
    }
    case 4:
    case 5:
    case 6: {
      // insert something between tokens
      const i = int(r, tokens.length + 1);
      const out = [...tokens];
      out.splice(i, 0, pad(r, randomInsert(r, names)));
      return join(out);
    }
    case 7: {
      // delete a line
      const i = int(r, lines.length);
      return lines.filter((_, j) => j !== i).join('\n');
    }
    case 8: {
      // duplicate a line
      const i = int(r, lines.length);
      return lines.flatMap((l, j) => (j === i ? [l, l] : [l])).join('\n');
    }
    case 9: {
      // swap two lines
      const i = int(r, lines.length);
      const j = int(r, lines.length);
      const out = [...lines];
      [out[i], out[j]] = [lines[j] ?? '', lines[i] ?? ''];
      return out.join('\n');
    }
    case 10: {
      // move a line somewhere else
      const out = [...lines];
      const [line] = out.splice(int(r, out.length), 1);
      out.splice(int(r, out.length + 1), 0, line ?? '');
      return out.join('\n');
    }
    case 11:
      // truncate
      return text.slice(0, int(r, text.length + 1));
    case 12: {
      // splice two sources, at line boundaries or anywhere
      if (r() < 0.5) {
        const otherLines = other.split('\n');
        return [...lines.slice(0, int(r, lines.length + 1)), ...otherLines.slice(int(r, otherLines.length + 1))].join(
          '\n',
        );
      }
      return text.slice(0, int(r, text.length + 1)) + other.slice(int(r, other.length + 1));
    }
    case 13: {
      // insert anywhere, even inside a token or a string
      const i = int(r, text.length + 1);
      return text.slice(0, i) + randomInsert(r, names) + text.slice(i);
    }
    case 14: {
      // delete a short range of characters
      const i = int(r, text.length + 1);
      return text.slice(0, i) + text.slice(i + 1 + int(r, 12));
    }
    case 15: {
      // change the case of a name, or misspell it
      const i = at();
      const out = [...tokens];
      const t = out[i] ?? '';
      if (!/^[A-Za-z_]\w*$/.test(t)) return join(out);
      const k = int(r, t.length);
      out[i] =
        r() < 0.5
          ? t.slice(0, k) +
            (t[k] === t[k]?.toUpperCase() ? (t[k] ?? '').toLowerCase() : (t[k] ?? '').toUpperCase()) +
            t.slice(k + 1)
          : t.slice(0, k) + t.slice(k + 1);
      return join(out);
    }
    default: {
      // wrap a range of tokens in braces or parentheses, or drop a closing one
      const i = at();
      const j = Math.min(tokens.length, i + 1 + int(r, 6));
      const [open, close] = pick(r, [
        ['{', '}'],
        ['(', ')'],
        ['{', ''],
        ['', '}'],
        ['"', '"'],
      ] as const);
      return join([...tokens.slice(0, i), open, ...tokens.slice(i, j), close, ...tokens.slice(j)]);
    }
  }
}

function mutateTimes(r: Rng, text: string, other: string): string {
  // Mostly one to three edits, sometimes a storm of them.
  const n = r() < 0.85 ? 1 + int(r, 3) : 4 + int(r, 20);
  let out = text;
  for (let k = 0; k < n; k++) out = mutateText(r, out, other);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Config mutations

type Container = Json[] | { [key: string]: Json };
interface Slot {
  readonly parent: Container;
  readonly key: string | number;
}

function isContainer(value: Json): value is Container {
  return typeof value === 'object' && value !== null;
}

function slots(value: Json): Slot[] {
  const out: Slot[] = [];
  const walk = (node: Json): void => {
    if (!isContainer(node)) return;
    for (const key of Array.isArray(node) ? node.keys() : Object.keys(node)) {
      out.push({ parent: node, key });
      walk((node as Record<string | number, Json>)[key]);
    }
  };
  walk(value);
  return out;
}

function get(slot: Slot): Json {
  return (slot.parent as Record<string | number, Json>)[slot.key];
}

function set(slot: Slot, value: Json): void {
  (slot.parent as Record<string | number, Json>)[slot.key] = value;
}

function remove(slot: Slot): void {
  if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
  else delete slot.parent[slot.key as string];
}

const knownKeys = [
  'apps',
  'publish',
  'ephemerals',
  'embedded',
  'subscribe',
  'observe',
  'table',
  'as',
  'extends',
  'when',
  'to',
  'fields',
  'type',
  'from',
  'into',
  'foreignKey',
  'attributes',
  'column',
  'value',
  'primary',
  'private',
  'virtual',
  'use',
  'belongsTo',
  'embedsOne',
  'embedsMany',
];
const configStrings = [
  '',
  ' ',
  'string',
  'strng',
  'integer primary',
  'uuid primary',
  'string?',
  'string[]?',
  'string?[]',
  'enum(a, b)',
  'enum()',
  'enum(a, a)',
  'decimal(12, 2)',
  'decimal',
  'decimal(1)',
  'string primary private',
  'string column "x"',
  'string virtual(use name)',
  'belongs_to User',
  'belongs_to Nope?',
  'embeds many Address',
  'embeds one Address?',
  'integer belongs_to Organization',
  'string primary primary',
  '???',
  '{',
  'string #',
  'User',
  'Member',
  'Address',
  'Organization?',
  'users',
  'crowdtap/user',
  'crowdtap/nope',
  'sniper/user',
  '*/user',
  '*/*',
  'crowdtap.user.*',
  '*.user.#',
  'a/b/c',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'from',
  'app',
  '日本',
  '😀',
  'x\ny',
  "it's",
  'a"b',
  '\\',
  '\u2028',
  '\ud800',
];

function randomValue(r: Rng, depth = 0): Json {
  switch (int(r, depth > 1 ? 7 : 10)) {
    case 0:
    case 1:
    case 2:
      return pick(r, configStrings);
    case 3:
      return pick(r, [0, 1, -1, 2.5, 1e21, Number.NaN, Number.POSITIVE_INFINITY]);
    case 4:
      return r() < 0.5;
    case 5:
      return null;
    case 6:
      return undefined;
    case 7:
      return Array.from({ length: int(r, 3) }, () => randomValue(r, depth + 1));
    default: {
      const out: { [key: string]: Json } = {};
      for (let k = int(r, 3); k > 0; k--) out[randomKey(r)] = randomValue(r, depth + 1);
      return out;
    }
  }
}

function randomKey(r: Rng): string {
  const roll = r();
  if (roll < 0.5) return pick(r, knownKeys);
  if (roll < 0.8)
    return pick(
      r,
      oddNames.filter((n) => n !== '__proto__'),
    );
  return pick(r, ['1', '0', 'a b', 'with-dash', '$x', 'é', '😀', '', 'fields ', 'Fields', 'colum', 'belongs_to']);
}

function mutateConfig(r: Rng, root: { value: Json }): void {
  const all = slots(root.value);
  const containers = [root.value, ...all.map(get)].filter(isContainer);
  const slot = all.length > 0 ? pick(r, all) : undefined;
  switch (int(r, 11)) {
    case 0: // missing key or element
      if (slot) remove(slot);
      return;
    case 1:
    case 2: {
      // wrong type
      if (slot) set(slot, randomValue(r));
      else root.value = randomValue(r);
      return;
    }
    case 3: {
      // unknown (or misplaced) key
      const target = pick(r, containers);
      if (target && !Array.isArray(target)) target[randomKey(r)] = randomValue(r);
      else if (target) target.push(randomValue(r));
      return;
    }
    case 4: {
      // rename a key: a typo, or another known key
      if (!slot || Array.isArray(slot.parent)) return;
      const old = slot.key as string;
      const renamed = r() < 0.5 && old.length > 1 ? old.slice(0, -1) : randomKey(r);
      const value = get(slot);
      delete slot.parent[old];
      slot.parent[renamed] = value;
      return;
    }
    case 5:
    case 6: {
      // edit a string in place, with the text mutations
      const strs = all.filter((s) => typeof get(s) === 'string');
      if (strs.length === 0) return;
      const s = pick(r, strs);
      set(s, mutateText(r, get(s) as string, pick(r, configStrings)));
      return;
    }
    case 7: {
      // duplicate an array element
      const arrays = containers.filter(Array.isArray);
      const a = arrays.length > 0 ? pick(r, arrays) : undefined;
      if (a && a.length > 0) a.push(structuredClone(pick(r, a)));
      return;
    }
    case 8: {
      // swap two values
      const other = all.length > 0 ? pick(r, all) : undefined;
      if (!slot || !other) return;
      const a = get(slot);
      const b = get(other);
      if (isContainer(a) && slots(a).some((s) => get(s) === b)) return; // would make a cycle
      if (isContainer(b) && slots(b).some((s) => get(s) === a)) return;
      if (a === b) return;
      set(slot, structuredClone(b));
      set(other, structuredClone(a));
      return;
    }
    case 9: {
      // copy a subtree somewhere else (an app's publish into another app, a field into a subscription, ...)
      const target = pick(r, containers);
      if (!slot || !target) return;
      const value = structuredClone(get(slot));
      if (Array.isArray(target)) target.push(value);
      else target[String(slot.key)] = value;
      return;
    }
    default: {
      // a string becomes the typed-object form, or the other way round
      const strs = all.filter((s) => typeof get(s) === 'string');
      if (strs.length === 0) return;
      const s = pick(r, strs);
      set(s, r() < 0.5 ? { type: get(s) } : [get(s)]);
    }
  }
}

// Printing a config object as `export default defineConfig(...)`, in a random layout.

function quote(r: Rng, s: string): string {
  const q = r() < 0.7 ? "'" : '"';
  let out = q;
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === q || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + q;
}

function printValue(r: Rng, value: Json, indent: string, pretty: boolean): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'number')
    return Number.isNaN(value) ? 'NaN' : value === Number.POSITIVE_INFINITY ? 'Infinity' : String(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return quote(r, value);
  const inner = `${indent}  `;
  const open = pretty ? `\n${inner}` : ' ';
  const sep = pretty ? `,\n${inner}` : ', ';
  const close = pretty ? `,\n${indent}` : ' ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${open}${value.map((v) => printValue(r, v, inner, pretty && r() < 0.7)).join(sep)}${close}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const key = (k: string): string => (/^[A-Za-z_$][\w$]*$/.test(k) && r() < 0.9 ? k : quote(r, k));
  return `{${open}${entries.map(([k, v]) => `${key(k)}: ${printValue(r, v, inner, pretty && r() < 0.7)}`).join(sep)}${close}}`;
}

function printConfig(r: Rng, value: Json): string {
  return `import { defineConfig } from 'promiscuous';\n\nexport default defineConfig(${printValue(r, value, '', r() < 0.8)});\n`;
}

// ---------------------------------------------------------------------------------------------
// Running the compiler and checking the invariants

function memoryHost(files: ReadonlyMap<string, string>): CompilerHost {
  return {
    readFile: (path) => files.get(path),
    resolvePath: (from, specifier) => posix.normalize(posix.join(posix.dirname(from), specifier)),
  };
}

/** Where an offset falls, computed independently of the compiler's LineIndex. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line += 1;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

interface Failure {
  /** Groups failures of one kind: `crash: ...`, `position P001`, `no fix P005 ...`. */
  readonly signature: string;
  readonly detail: string;
}

function spanProblem(span: Span | undefined, sources: ReadonlyMap<string, string>): string | undefined {
  if (!span) return 'has no span';
  if (typeof span.file !== 'string' || span.file === '') return 'has no file';
  const text = sources.get(span.file);
  if (text === undefined) return `names the file \`${span.file}\`, which was not read`;
  if (!Number.isInteger(span.line) || span.line < 1) return `has line ${span.line}`;
  if (!Number.isInteger(span.column) || span.column < 1) return `has column ${span.column}`;
  if (!Number.isInteger(span.offset) || span.offset < 0 || span.offset > text.length) {
    return `has offset ${span.offset} outside the text (length ${text.length})`;
  }
  if (!Number.isInteger(span.length) || span.length < 0) return `has length ${span.length}`;
  const expected = lineColumn(text, span.offset);
  if (expected.line !== span.line || expected.column !== span.column) {
    return `says ${span.line}:${span.column} but offset ${span.offset} is at ${expected.line}:${expected.column}`;
  }
  return undefined;
}

/** A message with its quoted names removed, so that one missing fix is one signature. */
function shape(message: string): string {
  return message.replace(/`[^`]*`/g, '`…`').replace(/"[^"]*"/g, '"…"');
}

function crashSignature(stage: string, error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  // The project's innermost frame, by function and file (line numbers move as the code changes).
  const frame = (e.stack ?? '').split('\n').find((l) => l.includes('/src/') || l.includes('/grammar/')) ?? '';
  const match = /at (?:(\S+) \()?.*?\/((?:src|grammar)\/[^:]+)/.exec(frame);
  const where = match ? `${match[1] ?? '<anonymous>'} (${match[2]})` : 'an unknown place';
  const message = shape(e.message.split('\n')[0] ?? '').replace(/\d+/g, 'N');
  return `${stage} throws ${e.name}: ${message} in ${where}`;
}

interface Emits {
  /** The apps generated so far, as JSON (the IR is span-free, so equal JSON means equal output). */
  readonly seen: Set<string>;
  /** Apps generated, and apps left out because of FUZZ_EMITS. */
  done: number;
  skipped: number;
  ms: number;
}

/** Compiles, checks every invariant, and generates clean workspaces (each distinct one once). */
function check(run: () => CompileOutput, emits: Emits | undefined): { failures: Failure[]; output?: CompileOutput } {
  let output: CompileOutput;
  try {
    output = run();
  } catch (error) {
    return {
      failures: [{ signature: crashSignature('compile', error), detail: String((error as Error)?.stack ?? error) }],
    };
  }
  const failures: Failure[] = [];
  const each = (d: Diagnostic): void => {
    let rendered = `[${d.code}] ${d.message}`;
    try {
      rendered = renderCompact(d);
      renderPretty(d, output.sources);
    } catch (error) {
      failures.push({
        signature: crashSignature(`rendering ${d.code}`, error),
        detail: String((error as Error)?.stack ?? error),
      });
    }
    const problem = spanProblem(d.span, output.sources);
    if (problem)
      failures.push({
        signature: `position ${d.code}: the span ${problem.replace(/\d+/g, 'N')}`,
        detail: `${rendered}: the span ${problem}`,
      });
    for (const note of d.notes) {
      const noteProblem = note.span ? spanProblem(note.span, output.sources) : undefined;
      if (noteProblem)
        failures.push({
          signature: `position ${d.code} note`,
          detail: `${rendered}, note "${note.message}": the span ${noteProblem}`,
        });
    }
    if (d.severity === 'error' && !(typeof d.suggestion === 'string' && d.suggestion.trim() !== '')) {
      // One signature per code and kind of message: syntax errors differ only in what was expected.
      const message = shape(d.message).replace(/^expected .*, found .*$/, 'expected …, found …');
      failures.push({ signature: `no fix ${d.code}: ${message}`, detail: `${rendered} has no suggestion` });
    }
  };
  for (const d of output.diagnostics) each(d);
  if (output.workspace && emits) {
    // Each app is generated on its own (emitWorkspace loops over apps and reads nothing across
    // them), so only the apps never generated before are: a mutant that changed one app of
    // three costs a third of a full generate, and one that changed nothing costs nothing.
    const fresh = output.workspace.apps.filter((app) => !emits.seen.has(JSON.stringify(app)));
    for (const app of fresh) emits.seen.add(JSON.stringify(app));
    const room = Math.max(0, emitCap - emits.done);
    emits.skipped += Math.max(0, fresh.length - room);
    const apps = fresh.slice(0, room);
    if (apps.length > 0 || output.workspace.apps.length === 0) {
      emits.done += apps.length;
      const started = performance.now();
      try {
        const files = emitWorkspace({ ...output.workspace, apps });
        if (!Array.isArray(files) || (files.length === 0) !== (apps.length === 0)) {
          failures.push({ signature: 'emitWorkspace returns no files for an app', detail: `${apps.length} apps` });
        }
      } catch (error) {
        failures.push({
          signature: crashSignature('emitWorkspace', error),
          detail: String((error as Error)?.stack ?? error),
        });
      }
      emits.ms += performance.now() - started;
    }
  }
  return { failures, output };
}

// ---------------------------------------------------------------------------------------------
// Shrinking: the smallest input that still shows a failure of the same signature.

function shrinkText(text: string, fails: (t: string) => boolean, budget: number): string {
  let best = text;
  let tries = 0;
  const attempt = (candidate: string): boolean => {
    if (tries >= budget || candidate === best) return false;
    tries += 1;
    if (!fails(candidate)) return false;
    best = candidate;
    return true;
  };
  // Lines, then tokens, then characters: remove chunks, halving their size.
  for (const unit of ['line', 'token', 'char'] as const) {
    const split = (t: string): string[] =>
      unit === 'line' ? t.split(/(?<=\n)/) : unit === 'token' ? tokenize(t) : [...t];
    let chunk = Math.max(1, Math.floor(split(best).length / 2));
    while (chunk >= 1 && tries < budget) {
      let removed = false;
      for (let i = 0; i < split(best).length && tries < budget;) {
        const parts = split(best);
        if (attempt([...parts.slice(0, i), ...parts.slice(i + chunk)].join(''))) removed = true;
        else i += chunk;
      }
      if (!removed) chunk = Math.floor(chunk / 2);
    }
  }
  return best;
}

function shrinkConfig(value: Json, fails: (v: Json) => boolean, budget: number): Json {
  let best = structuredClone(value);
  let tries = 0;
  // Remove a node, or empty a container, while the failure remains; restart after each success.
  for (let i = 0; i < slots(best).length && tries < budget;) {
    let shrunk = false;
    for (const edit of ['remove', 'empty'] as const) {
      const candidate = structuredClone(best);
      const slot = slots(candidate)[i];
      if (!slot) break;
      const before = get(slot);
      if (edit === 'remove') remove(slot);
      else if (Array.isArray(before) && before.length > 0) set(slot, []);
      else if (isContainer(before) && !Array.isArray(before) && Object.keys(before).length > 0) set(slot, {});
      else continue;
      tries += 1;
      if (fails(candidate)) {
        best = candidate;
        shrunk = true;
        break;
      }
    }
    if (!shrunk) i += 1;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Reporting

interface Found<I> {
  readonly signature: string;
  readonly detail: string;
  readonly iteration: number;
  readonly seed: number;
  /** The mutant as printed. */
  readonly source: string;
  /** The mutant as given to the compiler, to shrink it. */
  readonly input: I;
  count: number;
  shrunk?: string;
}

interface Mutant<I> {
  readonly iteration: number;
  readonly seed: number;
  readonly source: string;
  readonly input: I;
}

function record<I>(found: Map<string, Found<I>>, failures: readonly Failure[], mutant: Mutant<I>): void {
  for (const f of failures) {
    const known = found.get(f.signature);
    if (known) {
      known.count += 1;
      // Keep the shortest example of each kind.
      if (mutant.source.length < known.source.length) found.set(f.signature, { ...f, ...mutant, count: known.count });
    } else found.set(f.signature, { ...f, ...mutant, count: 1 });
  }
}

function report<I>(kind: string, found: Map<string, Found<I>>): string {
  const lines = [`${found.size} kind(s) of failure in the ${kind} fuzz (FUZZ_SEED=${masterSeed}):`];
  for (const f of found.values()) {
    lines.push(
      '',
      `* ${f.signature} -- ${f.count} time(s); first shortest: mutant ${f.iteration} (FUZZ_SEED=${masterSeed} FUZZ_REPLAY=${f.iteration}, mutant seed ${f.seed})`,
      `  ${f.detail.split('\n').slice(0, 6).join('\n  ')}`,
      '  --- mutated source ---',
      f.source,
      '  --- smallest input that still fails the same way ---',
      f.shrunk ?? '(not shrunk)',
      '  ---',
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The runs: each front end is fuzzed once; the tests below read its findings.

interface Tally {
  valid: number;
  invalid: number;
  readonly codes: Map<string, number>;
  readonly emits: Emits;
}

function tally(): Tally {
  return { valid: 0, invalid: 0, codes: new Map(), emits: { seen: new Set(), done: 0, skipped: 0, ms: 0 } };
}

function count(t: Tally, output: CompileOutput | undefined): void {
  if (output?.workspace) t.valid += 1;
  else t.invalid += 1;
  for (const d of output?.diagnostics ?? []) t.codes.set(d.code, (t.codes.get(d.code) ?? 0) + 1);
}

function summary(kind: string, t: Tally, ms: number): string {
  const { emits } = t;
  return [
    `\n  fuzz ${kind}: ${t.valid + t.invalid} mutants (FUZZ_SEED=${masterSeed}) in ${(ms / 1000).toFixed(1)} s:` +
      ` ${t.valid} valid, ${t.invalid} invalid; generated ${emits.done} distinct apps of clean workspaces` +
      ` (${(emits.ms / 1000).toFixed(1)} s of it)` +
      (emits.skipped > 0 ? `, ${emits.skipped} more not generated (FUZZ_EMITS=${emitCap})` : ''),
    `  codes seen: ${[...t.codes]
      .sort()
      .map(([c, n]) => `${c}×${n}`)
      .join(' ')}`,
  ].join('\n');
}

function range(n: number): number[] {
  return replay !== undefined ? [replay] : Array.from({ length: n }, (_, i) => i);
}

/** Shrinking takes at most this long per run, and a quarter of it per kind of failure. */
const shrinkBudgetMs = 4000;

function shrinkAll<I>(
  found: Map<string, Found<I>>,
  stillFails: (f: Found<I>, input: I) => boolean,
  shrink: (f: Found<I>, fails: (input: I) => boolean) => string,
): void {
  const until = performance.now() + shrinkBudgetMs;
  // Crashes first: they matter most.
  const order = [...found.values()].sort((a, b) => kindOf(a.signature) - kindOf(b.signature));
  for (const f of order) {
    if (f.signature.startsWith('compile slower') || performance.now() > until) continue;
    const deadline = Math.min(until, performance.now() + shrinkBudgetMs / 4);
    const fails = (input: I): boolean => performance.now() < deadline && stillFails(f, input);
    if (fails(f.input)) f.shrunk = shrink(f, fails);
  }
}

/** 0: a crash, 1: a misplaced diagnostic, 2: an error without a fix. */
function kindOf(signature: string): number {
  return signature.startsWith('position') ? 1 : signature.startsWith('no fix') ? 2 : 0;
}

interface Run<I> {
  readonly found: Map<string, Found<I>>;
  readonly tally: Tally;
}

function failuresOf<I>(run: Run<I>, kind: number): Found<I>[] {
  return [...run.found.values()].filter((f) => kindOf(f.signature) === kind);
}

function verdict<I>(label: string, run: Run<I>, kind: number, what: string): void {
  const failures = failuresOf(run, kind);
  if (failures.length > 0) {
    console.log(report(label, new Map(failures.map((f) => [f.signature, f]))));
  }
  assert.ok(
    failures.length === 0,
    `${failures.length} kind(s) of ${what}:\n  ${failures.map((f) => `${f.signature} (${f.count}×)`).join('\n  ')}`,
  );
}

type PromInput = { readonly files: ReadonlyMap<string, string>; readonly main: string };

function compileProm(input: PromInput): CompileOutput {
  return compile({ prom: [input.main] }, memoryHost(input.files));
}

function fuzzProm(): Run<PromInput> {
  const started = performance.now();
  const found = new Map<string, Found<PromInput>>();
  const t = tally();
  let slowest = { ms: 0, iteration: -1 };
  for (const iteration of range(promIterations)) {
    const seed = mutantSeed(masterSeed, 0, iteration);
    const r = rng(seed);
    const base = pick(r, promSeeds);
    const other = pick(r, promSeeds);
    const files = new Map<string, string>([[base.path, base.text], ...Object.entries(base.parts)]);
    const partPaths = Object.keys(base.parts);
    // Mostly the main file; sometimes an included one; sometimes both.
    const roll = r();
    if (roll < 0.85 || partPaths.length === 0) files.set(base.path, mutateTimes(r, base.text, other.text));
    if (roll >= 0.75 && partPaths.length > 0) {
      const part = pick(r, partPaths);
      files.set(part, mutateTimes(r, files.get(part) ?? '', other.text));
    }
    const input = { files, main: base.path };
    const source = [...files].map(([path, text]) => `=== ${path}\n${text}`).join('\n');
    if (replay !== undefined) console.log(source);
    const t0 = performance.now();
    const result = check(() => compileProm(input), t.emits);
    const ms = performance.now() - t0;
    const mutant = { iteration, seed, source, input };
    if (!result.output?.workspace && ms > slowest.ms) slowest = { ms, iteration };
    if (!result.output?.workspace && ms > slowMs) {
      record(found, [{ signature: `compile slower than ${slowMs} ms`, detail: `${ms.toFixed(0)} ms` }], mutant);
    }
    count(t, result.output);
    record(found, result.failures, mutant);
  }
  console.log(summary('.prom', t, performance.now() - started));
  console.log(`  slowest compile of an invalid mutant: ${slowest.ms.toFixed(1)} ms (mutant ${slowest.iteration})`);

  // Shrink the main file of one example of each kind; included files stay as they are.
  const emits = (): Emits => ({ seen: new Set(), done: 0, skipped: 0, ms: 0 });
  shrinkAll(
    found,
    (f, input) => check(() => compileProm(input), emits()).failures.some((x) => x.signature === f.signature),
    (f, fails) => {
      const withMain = (text: string): PromInput => ({
        ...f.input,
        files: new Map(f.input.files).set(f.input.main, text),
      });
      const main = shrinkText(f.input.files.get(f.input.main) ?? '', (text) => fails(withMain(text)), 2000);
      const parts = [...f.input.files].filter(([path]) => path !== f.input.main);
      return [`=== ${f.input.main}\n${main}`, ...parts.map(([path, text]) => `=== ${path}\n${text}`)].join('\n');
    },
  );
  return { found, tally: t };
}

type ConfigInput = { readonly value: Json; readonly layout: number };
const configPath = 'promiscuous.config.ts';

function compileConfig(value: Json, text: string): CompileOutput {
  return compile({ configs: [{ path: configPath, text, value }] }, memoryHost(new Map()));
}

function fuzzConfig(): Run<ConfigInput> {
  const started = performance.now();
  const found = new Map<string, Found<ConfigInput>>();
  const t = tally();
  for (const iteration of range(configIterations)) {
    const seed = mutantSeed(masterSeed, 1, iteration);
    const r = rng(seed);
    const root = { value: structuredClone(pick(r, configSeeds).value) };
    const n = r() < 0.85 ? 1 + int(r, 3) : 4 + int(r, 12);
    for (let k = 0; k < n; k++) mutateConfig(r, root);
    const layout = mutantSeed(seed, 2, 0);
    const text = printConfig(rng(layout), root.value);
    if (replay !== undefined) console.log(text);
    const result = check(() => compileConfig(root.value, text), t.emits);
    count(t, result.output);
    record(found, result.failures, { iteration, seed, source: text, input: { value: root.value, layout } });
  }
  console.log(summary('defineConfig', t, performance.now() - started));

  const print = (f: Found<ConfigInput>, value: Json): string => printConfig(rng(f.input.layout), value);
  const emits = (): Emits => ({ seen: new Set(), done: 0, skipped: 0, ms: 0 });
  shrinkAll(
    found,
    (f, input) =>
      check(() => compileConfig(input.value, print(f, input.value)), emits()).failures.some(
        (x) => x.signature === f.signature,
      ),
    (f, fails) =>
      print(
        f,
        shrinkConfig(f.input.value, (value) => fails({ ...f.input, value }), 2000),
      ),
  );
  return { found, tally: t };
}

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

const prom = once(fuzzProm);
const config = once(fuzzConfig);

test('.prom mutants: compile, rendering and generate never throw', () => {
  verdict('.prom', prom(), 0, 'crash');
});

test('.prom mutants: every diagnostic names a file read, with a line and column that agree with its offset', () => {
  verdict('.prom', prom(), 1, 'misplaced diagnostic');
});

test('.prom mutants: every error says how to fix it', () => {
  verdict('.prom', prom(), 2, 'error without a fix');
});

test('defineConfig mutants: compile, rendering and generate never throw', () => {
  verdict('defineConfig', config(), 0, 'crash');
});

test('defineConfig mutants: every diagnostic names a file read, with a line and column that agree with its offset', () => {
  verdict('defineConfig', config(), 1, 'misplaced diagnostic');
});

test('defineConfig mutants: every error says how to fix it', () => {
  verdict('defineConfig', config(), 2, 'error without a fix');
});

test.run();
