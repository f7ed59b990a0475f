/**
 * The functions an app supplies at run time (virtual attributes, callbacks) are checked against
 * its routes when a publisher or subscriber starts: a missing or misspelt one fails there,
 * naming it, and never once messages flow. The generated types make the same mistakes type
 * errors (test/codegen/typed-hooks.test.ts); these checks cover configs that escape them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type AmqpTransport, Publisher, PublisherError, Subscriber, SubscriberError } from '../../src/runtime/index.js';
import { database, randomName, type TestDatabase } from '../helpers/services.js';
import { crowdtap, sniper, virtuals } from '../helpers/users-app.js';
import { connectTransport, removeNamespace } from '../helpers/world.js';

interface World {
  namespace: string;
  transport: AmqpTransport;
  db: TestDatabase;
}

const hooks = suite<World>('runtime hooks', {} as World);

hooks.before(async (world) => {
  world.namespace = randomName('prom');
  world.transport = await connectTransport(world.namespace);
  world.db = await database('sqlite');
});

hooks.after(async (world) => {
  await world.transport.close();
  await world.db.drop();
  await removeNamespace(world.namespace, 'sniper');
});

/** The error `fn` throws, for its class and message to be checked. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected it to throw');
}

hooks('a publisher whose virtuals miss one the routes need refuses to start, naming it', ({ db, transport }) => {
  const error = thrown(() => new Publisher({ schema: crowdtap, knex: db.knex, transport, relay: false }));
  assert.instance(error, PublisherError);
  assert.is(
    error.message,
    'the virtual attributes of crowdtap do not match its routes: no function for User.full_name',
  );
});

hooks('a publisher given a function for no virtual attribute refuses to start, naming it', ({ db, transport }) => {
  const misspelt = { User: { full_name: virtuals.User.full_name, display_nmae: () => '' } };
  const error = thrown(
    () => new Publisher({ schema: crowdtap, knex: db.knex, transport, relay: false, virtuals: misspelt as never }),
  );
  assert.instance(error, PublisherError);
  assert.match(error.message, 'User.display_nmae is not a virtual attribute (User has full_name)');
});

hooks('a subtype may override its parent virtual function', ({ db, transport }) => {
  const overridden = { ...virtuals, Admin: { full_name: () => 'an admin' } };
  const publisher = new Publisher({ schema: crowdtap, knex: db.knex, transport, relay: false, virtuals: overridden });
  assert.is(publisher.model('Admin').name, 'Admin');
});

hooks('a subscriber given a callback of no known kind refuses to start, naming it', ({ db, transport }) => {
  const misspelt = { User: { afterCreat: () => {} } };
  const error = thrown(
    () => new Subscriber({ schema: sniper, knex: db.knex, transport, callbacks: misspelt as never }),
  );
  assert.instance(error, SubscriberError);
  assert.match(error.message, 'the callbacks of sniper do not match its routes: User.afterCreat is no callback');
});

hooks('a subscriber given callbacks for no subscription or observer refuses to start', ({ db, transport }) => {
  const misspelt = { Usr: { afterCreate: () => {} } };
  const error = thrown(
    () => new Subscriber({ schema: sniper, knex: db.knex, transport, callbacks: misspelt as never }),
  );
  assert.instance(error, SubscriberError);
  assert.match(error.message, 'Usr is no subscription or observer (sniper has Member, Organization, User, UserEvent)');
});

hooks.run();
