/**
 * The integration-testing workflow of `promiscuous generate mocks`: a publisher's factories
 * build the messages it would send; they are valid against the publisher's schemas and are
 * accepted and resolved by a subscriber's generated applicators, with no broker involved.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { factories } from '../../examples/users/generated/crowdtap/factories.js';
import * as crowdtap from '../../examples/users/generated/crowdtap/publisher.js';
import * as mailer from '../../examples/users/generated/mailer/subscriber.js';
import * as sniper from '../../examples/users/generated/sniper/subscriber.js';
import { resolveObservers, resolveSubscription, routingKey } from '../../src/runtime/index.js';

function only<T>(items: readonly T[]): T {
  assert.is(items.length, 1);
  return items[0] as T;
}

test('a factory-made create is valid against the publisher envelope and type schemas', () => {
  const message = factories.User.create({ name: 'Yoda' });
  assert.ok(crowdtap.schema.validate.envelope(message), JSON.stringify(crowdtap.schema.validate.envelope.errors));
  const operation = only(message.operations);
  assert.is(operation.operation, 'create');
  assert.is(operation.version, 1);
  assert.is((operation.attributes as { name: string }).name, 'Yoda');
  const validateUser = crowdtap.schema.validate.attributes.User;
  assert.ok(validateUser?.(operation.attributes), JSON.stringify(validateUser?.errors));
});

test('every factory builds attributes its published schema accepts', () => {
  for (const [name, factory] of Object.entries(factories)) {
    const message = factory.create();
    const validate = crowdtap.schema.validate.attributes[name];
    assert.ok(validate, `a validator for ${name}`);
    assert.ok(validate(only(message.operations).attributes), `${name}: ${JSON.stringify(validate.errors)}`);
  }
});

test('updates carry the last state with the changes, at increasing versions; destroys carry no attributes', () => {
  const created = only(factories.Member.create({ name: 'Luke', points: 1 }).operations);
  const updated = only(factories.Member.update(created.id, { points: 5 }).operations);
  assert.is(updated.version, 2);
  assert.equal(updated.attributes, { ...created.attributes, points: 5 });
  const destroyed = only(factories.Member.destroy(created.id).operations);
  assert.is(destroyed.version, 3);
  assert.is(destroyed.attributes, null);
});

test('a subscriber accepts the message and applies it to its nearest subscribed ancestor', () => {
  const admin = factories.Admin.create({ name: 'Vader', role: 'owner' });
  assert.ok(sniper.schema.validate.envelope(admin));
  const operation = only(admin.operations);
  const key = routingKey(operation.endpoint, operation.operation);
  const subscription = resolveSubscription(sniper.schema, key, operation.types);
  assert.is(subscription?.name, 'User', 'an unsubscribed Admin lands in User');
  assert.ok(sniper.schema.validate.attributes.User?.(operation.attributes));
  const member = only(factories.Member.create().operations);
  assert.is(resolveSubscription(sniper.schema, routingKey(member.endpoint, 'create'), member.types)?.name, 'Member');
  assert.equal(sniper.resolution['crowdtap/user'], { Admin: 'User', Member: 'Member', User: 'User' });
});

test('a subscriber rejects attributes that miss a non-null attribute it subscribes to, and lets a nullable one be absent', () => {
  const operation = only(factories.User.create().operations);
  const { name: _name, ...withoutName } = operation.attributes as Record<string, unknown>;
  const validate = sniper.schema.validate.attributes.User;
  assert.not.ok(validate?.(withoutName));
  assert.match(JSON.stringify(validate?.errors), 'name');
  const { email: _email, ...withoutEmail } = operation.attributes as Record<string, unknown>;
  assert.ok(validate?.(withoutEmail), 'email is nullable: a publisher older than it does not send it');
});

test('observers see ephemerals and persisted types they observe', () => {
  const event = only(factories.UserEvent.create({ event: 'registered' }).operations);
  const observers = resolveObservers(sniper.schema, routingKey(event.endpoint, 'create'), event.types);
  assert.equal(
    observers.map((o) => o.name),
    ['UserEvent'],
  );
  assert.ok(sniper.schema.validate.attributes.UserEvent?.(event.attributes));
  const user = only(factories.User.create().operations);
  assert.equal(
    resolveObservers(mailer.schema, routingKey(user.endpoint, 'create'), user.types).map((o) => o.name),
    ['Recipient'],
  );
});

test.run();
