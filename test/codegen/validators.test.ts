/**
 * The generated `validators.js` modules: the app's schemas as data, compiled by the runtime on
 * first use. Checked on the committed users example, as the runtime loads it.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as crowdtap from '../../examples/users/generated/crowdtap/validators.js';
import * as sniper from '../../examples/users/generated/sniper/validators.js';
import { validateEnvelope } from '../../src/runtime/index.js';
import { listFiles, repoPath } from '../helpers/corpus.js';

const user = {
  id: '6f1c8a52-3b0e-4d7a-9a65-0c2f4b1e9d33',
  name: 'Yoda',
  email: null,
  full_name: 'Yoda',
  addresses: [{ id: '0b5e2f6a-8c1d-4e3f-9a7b-2c4d6e8f0a1b', street_name: 'Swamp', zipcode: 'D1' }],
  org_id: null,
  tags: [],
};

test("a publisher's validator accepts its type's attributes and rejects a missing or mistyped one", () => {
  assert.ok(crowdtap.validatePublishedUser(user), JSON.stringify(crowdtap.validatePublishedUser.errors));
  const { full_name: _fullName, ...withoutFullName } = user;
  assert.not.ok(crowdtap.validatePublishedUser(withoutFullName));
  assert.match(JSON.stringify(crowdtap.validatePublishedUser.errors), 'full_name');
  assert.not.ok(crowdtap.validatePublishedUser({ ...user, addresses: [{ id: 'x', street_name: 'Swamp' }] }));
  assert.match(crowdtap.validatePublishedUser.errors?.[0]?.instancePath ?? '', /^\/addresses\/0/);
});

test("a subtype's validator requires its parent's attributes too", () => {
  assert.ok(crowdtap.validatePublishedMember({ ...user, points: 3 }));
  assert.not.ok(crowdtap.validatePublishedMember({ ...user, points: 'three' }));
  assert.equal(crowdtap.validatePublishedMember.errors?.[0]?.instancePath, '/points');
  assert.not.ok(crowdtap.validatePublishedMember({ points: 3 }));
});

test("a subscriber's validator requires what it subscribes to, typed, and allows other attributes", () => {
  assert.ok(sniper.validateSubscribedUser({ name: 'Yoda', email: null, anything: 'else' }));
  assert.not.ok(sniper.validateSubscribedUser({ email: null }));
  assert.match(JSON.stringify(sniper.validateSubscribedUser.errors), 'name');
  assert.not.ok(sniper.validateSubscribedUser({ name: 'Yoda', email: 3 }));
  assert.match(JSON.stringify(sniper.validateSubscribedUser.errors), 'email');
  assert.not.ok(sniper.validateSubscribedUserEvent({ user_id: 'not-a-uuid', event: 'registered' }));
  assert.equal(sniper.validateSubscribedUserEvent.errors?.[0]?.instancePath, '/user_id');
});

test("a subscriber's validator lets an attribute its publisher declares nullable be absent, and no other", () => {
  // A publisher older than `email` does not send it; `name` is declared non-null.
  assert.ok(sniper.validateSubscribedUser({ name: 'Yoda' }), JSON.stringify(sniper.validateSubscribedUser.errors));
  assert.ok(sniper.validateSubscribedMember({ name: 'Yoda', points: 3 }));
  assert.not.ok(sniper.validateSubscribedMember({ name: 'Yoda', email: null }));
  assert.match(JSON.stringify(sniper.validateSubscribedMember.errors), 'points');
});

test("every app's envelope validator is the runtime's own", () => {
  assert.is(crowdtap.validateEnvelope, validateEnvelope);
  assert.is(sniper.validateEnvelope, validateEnvelope);
});

test('a generated validators module imports nothing but the runtime', () => {
  const modules = listFiles(repoPath('examples')).filter((p) => p.endsWith('/validators.js'));
  assert.ok(modules.length > 0);
  for (const path of modules) {
    const specifiers = [...readFileSync(path, 'utf8').matchAll(/\bfrom\s+'([^']+)'/g)].map((m) => m[1]);
    assert.equal([...new Set(specifiers)], ['promiscuous/runtime'], path);
  }
});

test.run();
