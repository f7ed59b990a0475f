/**
 * The contract check's corpus: each case is a release (the routes `before`, generated) and the
 * routes now, with every finding expected as `<code> <severity> <what changed>`, followed by
 * `<- <who breaks>` when a known subscriber breaks. The rules are in docs/cli.md
 * ("promiscuous contract check").
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkContract, currentSchemas } from '../../src/compiler/index.js';
import { compileText, schemaFiles, short } from './helpers.js';

const base = `app crowdtap
embedded Address { id uuid primary, street string, zipcode string }
publish users as User to "crowdtap/user" {
  id      uuid primary
  name    string
  email   string?
  state   enum(active, banned)
  points  integer
  score   float
  code    string
  home    embeds one Address?
}
publish users as Member extends User when type = "Member" { level integer }
publish users as Admin extends Member when type = "Admin" { role string }
ephemeral Visit to "crowdtap/visit" { user_id uuid belongs_to User }

app sniper
subscribe User from "crowdtap/user" foreign_key crowdtap_id uuid { name, state, points, home }
subscribe Member extends User { level }
observe Visit from "crowdtap/visit" { user_id }
`;

interface Case {
  readonly name: string;
  /** The released routes (default: `base`). */
  readonly before?: string;
  /** The routes now: `before` with each `[text, replacement]` applied, or a text of their own. */
  readonly after: string | readonly (readonly [string, string])[];
  /** An app outside the routes: its requirement files are given as `--schemas` gives them. */
  readonly outside?: { readonly routes: string; readonly typed: boolean };
  /** Whether the release holds the requirement files (default: it does). */
  readonly releasedRequirements?: boolean;
  readonly expect: readonly string[];
  /** Words that the findings' messages, notes or fixes must hold. */
  readonly says?: readonly string[];
}

const cases: Case[] = [
  {
    name: 'a new nullable attribute is safe',
    after: [['  code    string\n', '  code    string\n  nickname string?\n']],
    expect: ['P613 note User.nickname'],
  },
  {
    name: 'a new required attribute is safe: validators allow attributes they do not list',
    after: [['{ level integer }', '{ level integer, age integer }']],
    expect: ['P613 note Member.age'],
  },
  {
    name: 'a new endpoint is safe',
    after: [['app sniper', 'publish orgs as Org { id integer primary, name string }\n\napp sniper']],
    expect: ['P611 note crowdtap/org'],
  },
  {
    name: 'a new subtype is safe: it arrives as its nearest subscribed ancestor',
    after: [
      [
        'ephemeral Visit',
        'publish users as Guest extends User when type = "Guest" { until timestamp }\nephemeral Visit',
      ],
    ],
    expect: ['P612 note Guest'],
  },
  {
    name: 'an attribute a subscriber uses, removed',
    after: [
      ['  points  integer\n', ''],
      ['{ name, state, points, home }', '{ name, state, home }'],
    ],
    expect: ['P603 error User.points <- sniper.Member (released), sniper.User (released)'],
    says: ["sniper's subscription User (as released: released/sniper/schemas/requires/User.schema.json) uses `points`"],
  },
  {
    name: 'an attribute no known subscriber uses, removed: a warning',
    after: [['  code    string\n', '']],
    expect: ['P603 warning User.code'],
    says: ['no known subscriber uses it'],
  },
  {
    name: 'an attribute renamed is one removed and one added',
    after: [
      ['  name    string\n', '  full_name string\n'],
      ['{ name, state, points, home }', '{ full_name, state, points, home }'],
    ],
    expect: ['P603 error User.name <- sniper.Member (released), sniper.User (released)', 'P613 note User.full_name'],
    says: ['(renamed `full_name`?)', 'keep publishing `name` beside `full_name`'],
  },
  {
    name: 'integer to bigint widens: a number becomes a string on the wire',
    after: [['points  integer', 'points  bigint']],
    expect: ['P604 error User.points <- sniper.Member (released), sniper.User (released)'],
    says: ['`integer` becomes `bigint`', 'uses `points` and accepts only `integer`'],
  },
  {
    name: 'float to integer narrows: safe',
    after: [['score   float', 'score   integer']],
    expect: ['P614 note User.score'],
  },
  {
    name: 'an enum value added, used: its validator lists the values it knows',
    after: [['enum(active, banned)', 'enum(active, banned, pending)']],
    expect: ['P604 error User.state <- sniper.Member (released), sniper.User (released)'],
    says: ['it gains the value `pending`'],
  },
  {
    name: 'an enum value removed is safe',
    after: [['enum(active, banned)', 'enum(active)']],
    expect: ['P614 note User.state'],
    says: ['it loses the value `banned`'],
  },
  {
    name: 'non-null to nullable, where a subscription stores it in a column',
    after: [['  name    string\n', '  name    string?\n']],
    expect: ['P605 error User.name <- sniper.Member (released), sniper.User (released)'],
    says: ['stores `name` in the column `name` and requires a value', 'second endpoint'],
  },
  {
    name: 'non-null to nullable, used by no known subscriber: a warning',
    after: [['code    string', 'code    string?']],
    expect: ['P605 warning User.code'],
  },
  {
    name: 'nullable to non-null is safe',
    after: [['email   string?', 'email   string']],
    expect: ['P614 note User.email'],
    says: ['it is no longer null'],
  },
  {
    name: 'string to uuid narrows: safe',
    after: [['code    string', 'code    uuid']],
    expect: ['P614 note User.code'],
  },
  {
    name: 'uuid to string widens, for an observer too',
    after: [['user_id uuid belongs_to User', 'user_id string']],
    expect: ['P604 error Visit.user_id <- sniper.Visit (released)'],
  },
  {
    name: 'a subtype removed',
    after: [
      ['publish users as Member extends User when type = "Member" { level integer }\n', ''],
      ['Admin extends Member', 'Admin extends User'],
      ['subscribe Member extends User { level }\n', ''],
    ],
    expect: ['P602 error Member <- sniper.Member (released)', 'P606 error Admin <- sniper.Member (released)'],
  },
  {
    name: 'an endpoint removed',
    after: [
      ['ephemeral Visit to "crowdtap/visit" { user_id uuid belongs_to User }\n', ''],
      ['observe Visit from "crowdtap/visit" { user_id }\n', ''],
    ],
    expect: ['P601 error crowdtap/visit <- sniper.Visit (released)'],
    says: ['released, no longer in these routes'],
  },
  {
    name: 'the key changed breaks everyone, known or not',
    before: 'app shop\npublish orders as Order { id integer primary, total decimal }\n',
    after: [['id integer primary', 'id uuid primary']],
    expect: ['P607 error Order.id'],
    says: ['every subscriber of `shop/order` breaks, known or not'],
  },
  {
    name: "the endpoint's type renamed breaks everyone",
    before:
      'app shop\npublish orders as Order to "shop/order" { id integer primary, total decimal }\n' +
      'app books\nsubscribe Order from "shop/order" { total }\n',
    after:
      'app shop\npublish orders as Purchase to "shop/order" { id integer primary, total decimal }\n' +
      'app books\nsubscribe Purchase from "shop/order" { total }\n',
    expect: ['P608 error Purchase <- books.Order (released)'],
    says: ['`Order` becomes `Purchase`', 'publish <table> as PurchaseV2 to "shop/order_v2"'],
  },
  {
    name: 'a type that no longer extends an ancestor stops arriving as it',
    after: [['Admin extends Member', 'Admin extends User']],
    expect: ['P606 error Admin <- sniper.Member (released)'],
    says: ['as which `Admin` arrived'],
  },
  {
    name: 'a type that gains an ancestor is safe',
    before: base.replace('Admin extends Member', 'Admin extends User'),
    after: base,
    expect: ['P614 note Admin'],
  },
  {
    name: 'an attribute moved from a subtype to its parent is safe',
    after: [
      ['  code    string\n', '  code    string\n  level   integer\n'],
      ['{ level integer }', '{ }'],
    ],
    expect: ['P613 note User.level'],
  },
  {
    name: 'a subscriber known only through its exported requirements',
    outside: {
      routes: 'app billing\nsubscribe User from "crowdtap/user" foreign_key crowdtap_id uuid { email, code }\n',
      typed: true,
    },
    after: [['  email   string?\n', '']],
    expect: ['P603 error User.email <- billing.User (exported)'],
    says: [
      "billing's subscription User (its exported requirements: exported/billing/schemas/requires/User.schema.json)",
    ],
  },
  {
    name: 'an exported subscriber that accepts any value is not broken by a new type, but still by a removal',
    outside: {
      routes: 'app billing\nsubscribe User from "crowdtap/user" foreign_key crowdtap_id uuid { score, code }\n',
      typed: false,
    },
    after: [
      ['score   float', 'score   string'],
      ['  code    string\n', ''],
    ],
    expect: ['P603 error User.code <- billing.User (exported)', 'P604 warning User.score'],
    says: ['uses `score` and accepts the new values'],
  },
  {
    name: 'API versions: a new endpoint beside the released one, kept as it was, is safe',
    after: [
      [
        'ephemeral Visit',
        'publish users as UserV2 to "crowdtap/user_v2" { id uuid primary, name string?, points bigint }\nephemeral Visit',
      ],
    ],
    expect: ['P611 note crowdtap/user_v2'],
  },
  {
    name: "a release without requirement files: the routes' subscribers are taken as released",
    releasedRequirements: false,
    after: [['  name    string\n', '  name    string?\n']],
    expect: ['P605 error User.name <- sniper.Member, sniper.User'],
  },
  {
    name: 'a subscriber new in these routes is generated from the new schema: not broken',
    after: [
      ['points  integer', 'points  bigint'],
      ['observe Visit', 'observe Member as Scores from "crowdtap/user" { points }\nobserve Visit'],
    ],
    expect: ['P604 error User.points <- sniper.Member (released), sniper.User (released)'],
  },
  {
    name: 'an embedded document that loses a field',
    after: [['street string, zipcode string }', 'street string }']],
    expect: ['P604 error User.home <- sniper.Member (released), sniper.User (released)'],
    says: ['its documents lose `zipcode`'],
  },
  {
    name: 'an embedded document that gains a field is safe',
    after: [['zipcode string }', 'zipcode string, country string? }']],
    expect: ['P614 note User.home'],
  },
  {
    name: 'nothing changed: nothing to report',
    after: [],
    expect: [],
  },
];

function routesAfter(c: Case, before: string): string {
  if (typeof c.after === 'string') return c.after;
  let text = before;
  for (const [from, to] of c.after) {
    assert.ok(text.includes(from), `${c.name}: \`${from}\` is not in the routes`);
    text = text.replace(from, to);
  }
  return text;
}

for (const c of cases) {
  test(c.name, () => {
    const before = c.before ?? base;
    let released = schemaFiles(compileText(before), 'released');
    if (c.releasedRequirements === false) released = released.filter((f) => !f.path.includes('/requires/'));
    const endpoints = released.filter((f) => !f.path.includes('/requires/'));
    const exported = c.outside
      ? schemaFiles(compileText(c.outside.routes, c.outside.typed ? endpoints : []), 'exported').filter((f) =>
          f.path.includes('/requires/'),
        )
      : [];
    const result = checkContract({
      workspace: compileText(routesAfter(c, before)),
      generated: 'generated',
      released,
      exported,
    });
    assert.equal(result.diagnostics, []);
    const found = result.findings.map(
      (f) =>
        `${f.code} ${f.severity} ${f.subject}${f.breaks.length > 0 ? ` <- ${f.breaks.map(short).join(', ')}` : ''}`,
    );
    assert.equal(found, c.expect);
    const text = result.findings
      .flatMap((f) => [f.message, ...f.notes.map((n) => n.message), f.suggestion ?? ''])
      .join('\n');
    for (const words of c.says ?? []) assert.ok(text.includes(words), `\`${words}\` is not in:\n${text}`);
    for (const f of result.findings) {
      if (f.class !== 'safe') assert.ok(f.suggestion?.includes('second endpoint'), `${f.code} points at the way out`);
    }
  });
}

test('the current schemas are the files `generate` writes, so that positions in them are right', () => {
  const workspace = compileText(base);
  const written = schemaFiles(workspace, 'generated').filter((f) => !f.path.includes('/requires/'));
  const endpoints = written.filter((f) => !f.path.endsWith('/envelope.schema.json'));
  assert.equal(currentSchemas(workspace, 'generated'), endpoints);
  const result = checkContract({
    workspace: compileText(base.replace('points  integer', 'points  bigint')),
    generated: 'generated',
    released: schemaFiles(workspace, 'released'),
  });
  const [finding] = result.findings;
  assert.ok(finding);
  const line = result.sources.get(finding.span.file)?.split('\n')[finding.span.line - 1];
  assert.is(line?.slice(finding.span.column - 1), '"points": {');
  const released = finding.notes.find((n) => n.message === 'released as `integer`')?.span;
  assert.ok(released);
  assert.is(released.file, 'released/crowdtap/schemas/crowdtap.user.schema.json');
  assert.is(result.sources.get(released.file)?.split('\n')[released.line - 1]?.trim(), '"points": {');
});

test('the corpus has every rule, safe and breaking', () => {
  const codes = new Set(cases.flatMap((c) => c.expect.map((e) => e.split(' ')[0])));
  for (const code of ['P601', 'P602', 'P603', 'P604', 'P605', 'P606', 'P607', 'P608', 'P611', 'P612', 'P613', 'P614']) {
    assert.ok(codes.has(code), `no case for ${code}`);
  }
  assert.ok(cases.length >= 20);
});

test.run();
