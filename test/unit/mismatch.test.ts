/**
 * The reason a message is parked when its attributes do not fit a subscription: each attribute
 * that differs, what the subscriber expects and what came, in words, and never the value
 * itself (it stays in the parked message's body), but for an enum value that reads as one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AttributeKind, OperationMessage } from '../../src/runtime/index.js';
import { lazyValidators } from '../../src/runtime/index.js';
import { describeDifferences, mismatchReason } from '../../src/runtime/subscriber/mismatch.js';

const uuid = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const validator = lazyValidators([
  {
    $id: 'urn:test:account',
    type: 'object',
    properties: {
      name: { type: 'string' },
      score: { type: 'integer' },
      bio: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      state: { type: 'string', enum: ['active', 'banned'] },
      owner_id: { anyOf: [{ type: 'string', pattern: uuid }, { type: 'null' }] },
      addresses: { type: 'array', items: { $ref: '#/$defs/Address' } },
    },
    required: ['name', 'score', 'state', 'addresses'],
    $defs: {
      Address: { type: 'object', properties: { zipcode: { type: 'string' } }, required: ['zipcode'] },
    },
  },
]);
const validate = validator('urn:test:account');
const kinds = new Map<string, AttributeKind>([
  ['name', 'string'],
  ['score', 'integer'],
  ['bio', 'string'],
  ['state', 'enum'],
  ['owner_id', 'uuid'],
  ['addresses', 'embedded'],
]);
const good = { name: 'Ann', score: 3, bio: null, state: 'active', owner_id: null, addresses: [] };

function differences(attributes: Record<string, unknown>): string[] {
  assert.not.ok(validate(attributes), 'the attributes do not fit');
  return describeDifferences({ app: 'mirror', kinds }, attributes, validate.errors ?? []);
}

test('a missing attribute is named with the kind the subscriber requires', () => {
  const { name: _name, ...attributes } = good;
  assert.equal(differences(attributes), ['`name` is missing, which mirror requires (a string)']);
});

test('a value of another type names the kind that came and the kind expected, never the value', () => {
  assert.equal(differences({ ...good, score: 'twelve' }), [
    '`score` arrived as a string where mirror expects an integer',
  ]);
  assert.equal(differences({ ...good, score: 1.5 }), [
    '`score` arrived as a number with a fraction where mirror expects an integer',
  ]);
  assert.equal(differences({ ...good, bio: 7 }), ['`bio` arrived as an integer where mirror expects a string or null']);
});

test('an enum value the subscriber does not know is quoted when it reads as one, with the values it knows', () => {
  assert.equal(differences({ ...good, state: 'archived' }), [
    '`state` holds "archived", a value mirror does not know (it knows active, banned)',
  ]);
  assert.equal(differences({ ...good, state: 'a sentence somebody typed' }), [
    '`state` holds a value mirror does not know (it knows active, banned)',
  ]);
});

test('a string in the wrong form names the form, and a difference inside a document names its path', () => {
  assert.equal(differences({ ...good, owner_id: 'not-a-uuid' }), [
    '`owner_id` arrived as a string not in the form mirror expects: a uuid',
  ]);
  assert.equal(differences({ ...good, addresses: [{ zipcode: 'A1' }, {}] }), [
    '`addresses[1].zipcode` is missing, which mirror requires',
  ]);
});

test('every difference is named; a reason lists three and counts the rest', () => {
  const attributes = { bio: 1, state: 'gone', score: null };
  assert.equal(differences(attributes), [
    '`name` is missing, which mirror requires (a string)',
    '`addresses` is missing, which mirror requires (an embedded document)',
    '`score` arrived as null where mirror expects an integer',
    '`bio` arrived as an integer where mirror expects a string or null',
    '`state` holds "gone", a value mirror does not know (it knows active, banned)',
  ]);
  const op: OperationMessage = {
    endpoint: 'shop/account',
    types: ['Vip', 'Account'],
    id: '42',
    operation: 'update',
    version: 3,
    attributes,
  };
  assert.not.ok(validate(attributes));
  const reason = mismatchReason(
    { app: 'mirror', publisher: 'shop', target: 'Account', observer: false, kinds },
    op,
    validate,
  );
  assert.match(reason, /^Vip 42 on shop\/account does not fit mirror's subscription Account: `name` is missing/);
  assert.match(reason, 'expects an integer; and 2 more. shop and mirror disagree on the shape of shop/account');
  assert.match(reason, '`promiscuous parked retry`');
  assert.match(reason, 'Several endpoints for one table');
  assert.not.match(reason, '\n');
});

test("an observer's reason says so, and a validator without Ajv's details still gives its words", () => {
  const op: OperationMessage = {
    endpoint: 'shop/event',
    types: ['Event'],
    id: '1',
    operation: 'create',
    version: 1,
    attributes: {},
  };
  const foreign = Object.assign(() => false, { errors: [{ instancePath: '/kind', message: 'is not a kind' }] });
  const reason = mismatchReason(
    { app: 'mailer', publisher: 'shop', target: 'Audit', observer: true, kinds: new Map() },
    op,
    foreign,
  );
  assert.match(reason, "Event 1 on shop/event does not fit mailer's observer Audit: `kind` is not a kind.");
});

test.run();
