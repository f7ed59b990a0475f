/**
 * What a subscriber logs of real events, through the real RabbitMQ into MariaDB: structured
 * records with their fields, and error records that never carry an SQL statement, the values
 * it wrote, or a password. The lines are those `--log-format json` writes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { factories } from '../../examples/users/generated/crowdtap/factories.js';
import type { Callbacks } from '../../examples/users/generated/sniper/subscriber.js';
import { cliLogger } from '../../src/cli/log.js';
import { Subscriber } from '../../src/runtime/index.js';
import { recordingLogger } from '../helpers/log.js';
import { amqpUrl, dropConnection, eventually, randomName } from '../helpers/services.js';
import { sniper } from '../helpers/users-app.js';
import { closeWorld, connectTransport, deliver, type World as Fixture, usersDatabase } from '../helpers/world.js';

interface World extends Pick<Fixture, 'sub' | 'transport'> {
  subscriber: Subscriber<Callbacks>;
  /** The JSON lines the subscriber's logger wrote. */
  lines: string[];
  errors: Error[];
}

interface Line {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

const test = suite<World>('logging, subscriber on mariadb', {} as World);

test.before(async (world) => {
  Object.assign(world, {
    sub: await usersDatabase('subscriber', 'mariadb'),
    transport: await connectTransport(randomName('prom'), { retryDelaysMs: [100] }),
    lines: [],
    errors: [],
  });
  const stream = { write: (text: string) => world.lines.push(...text.split('\n').filter(Boolean)) };
  world.subscriber = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    maxAttempts: 2,
    retryDelayMs: () => 100,
    logger: cliLogger({ format: 'json', level: 'debug', stream }),
    errorNotifier: (error) => world.errors.push(error),
    callbacks: {
      UserEvent: {
        afterCreate: () => {
          throw new Error('the mailer at smtp://mailer:s3cret-password@mail.internal refused the message');
        },
      },
    },
  });
  await world.subscriber.start();
});

test.after((world) => closeWorld(world, world.subscriber));

const records = (world: World): Line[] => world.lines.map((line) => JSON.parse(line) as Line);

test('an update for a row that is not here is logged as a warning, with its fields', async (world) => {
  const update = factories.User.update(crypto.randomUUID(), { name: 'Rey' });
  const op = update.operations[0];
  await deliver(world, update);
  const warning = await eventually(async () => records(world).find((r) => r.id === op?.id));
  assert.equal(warning, {
    level: 40,
    time: warning.time,
    pid: process.pid,
    hostname: warning.hostname,
    app: 'sniper',
    component: 'subscriber',
    subscription: 'User',
    table: 'members',
    endpoint: 'crowdtap/user',
    id: op?.id,
    version: 1,
    msg: 'update for a row that is not here; creating it',
  });
});

test('a message parked on a database error is logged in short lines, without the statement or its values', async (world) => {
  // 14 KB in a VARCHAR(255): MariaDB refuses the insert, whose statement Knex puts in its error.
  const name = `Rey ${'x'.repeat(14_000)}`;
  const created = factories.User.create({ name });
  await deliver(world, created);
  const parked = await eventually(async () => records(world).find((r) => r.messageId === created.id && r.level === 50));
  const lines = world.lines.filter((line) => line.includes(created.id));
  const retried = records(world).find((r) => r.messageId === created.id && r.level === 40);
  assert.is(retried?.msg, 'failed to apply a message; retrying it later');
  assert.is(retried?.attempt, 1);
  assert.is(parked.msg, 'parked a message: `promiscuous parked list` shows it');
  assert.is(parked.reason, "failed 2 times: Data too long for column 'name' at row 1");
  assert.equal(parked.err, {
    type: 'Error',
    message: "Data too long for column 'name' at row 1",
    stack: (parked.err as { stack: string }).stack,
    code: 'ER_DATA_TOO_LONG',
  });
  for (const line of lines) {
    assert.ok(line.length < 2_500, `a line of ${line.length} characters`);
    assert.not.match(line, 'xxxxxxxxxx');
    assert.not.match(line, /insert into/i);
  }
  const notified = world.errors.filter((e) => e.message.includes(created.id));
  assert.is(notified.length, 3, 'two failures and the parking');
  for (const error of notified) assert.ok(error.message.length < 300, error.message);
  const [held] = await world.transport.parked(sniper.app);
  assert.is(held?.reason, "failed 2 times: Data too long for column 'name' at row 1");
});

test("a callback's error that names a URL with its password is logged without the password", async (world) => {
  const event = factories.User.create({ name: 'Finn' });
  const registered = factories.UserEvent.create({ user_id: event.operations[0]?.id as string, event: 'registered' });
  await deliver(world, event, registered);
  await eventually(async () => records(world).find((r) => r.messageId === registered.id && r.level === 50));
  const lines = world.lines.filter((line) => line.includes(registered.id));
  assert.ok(lines.length >= 2, 'the retry and the parking');
  for (const line of lines) {
    assert.not.match(line, 's3cret-password');
    assert.match(line, 'smtp://mailer:***@mail.internal');
  }
  for (const error of world.errors.filter((e) => e.message.includes(registered.id)))
    assert.not.match(error.message, 's3cret-password');
});

test.run();

const connection = suite('logging, the AMQP connection');

connection('a connection the broker drops is logged as lost, then back, without the password', async () => {
  const name = randomName('dropped');
  const log = recordingLogger();
  const transport = await connectTransport(randomName('prom'), { connectionName: name, logger: log });
  try {
    dropConnection(name);
    await eventually(async () => log.records.find((r) => r.msg === 'reconnected to RabbitMQ'), 15_000);
    const url = new URL(amqpUrl);
    if (url.password) url.password = '***';
    assert.equal(
      log.records.map(({ level, msg, fields }) => ({ level, msg, component: fields.component, url: fields.url })),
      [
        { level: 'warn', msg: 'lost the connection to RabbitMQ; reconnecting', component: 'amqp', url: url.toString() },
        { level: 'info', msg: 'reconnected to RabbitMQ', component: 'amqp', url: url.toString() },
      ],
    );
    const password = new URL(amqpUrl).password;
    if (password) assert.not.match(JSON.stringify(log.records), `:${password}@`);
  } finally {
    await transport.close();
  }
});

connection.run();
