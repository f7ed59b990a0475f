/**
 * One reading of the settings for the CLI and the API: the environment over the config, every
 * value checked and a bad one named, and `AmqpTransport.connect` reading the same variables.
 */
import amqp from 'amqplib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SettingError } from '../../src/common/errors.js';
import { databaseFromUrl, runtimeSettings } from '../../src/common/settings.js';
import { AmqpTransport } from '../../src/transport/amqp/amqp-transport.js';
import { amqpUrl, randomName } from '../helpers/services.js';

test('the environment wins over the config, and an empty variable counts as unset', () => {
  const config = { app: 'blog', namespace: 'staging', redisUrl: 'redis://cache:6379' };
  const settings = runtimeSettings(config, { PROMISCUOUS_NAMESPACE: 'production', PROMISCUOUS_APP: '' });
  assert.is(settings.namespace, 'production');
  assert.is(settings.app, 'blog');
  assert.is(settings.redisUrl, 'redis://cache:6379');
  assert.is(runtimeSettings({}, {}).namespace, 'promiscuous');
});

test('a setting that cannot be used is named, from where it came, without its password', () => {
  const refused = (config: object, env: NodeJS.ProcessEnv): string => {
    try {
      runtimeSettings(config, env);
    } catch (error) {
      assert.instance(error, SettingError);
      return (error as Error).message;
    }
    throw new Error('accepted');
  };
  assert.match(
    refused({}, { PROMISCUOUS_REDIS_URL: 'http://127.0.0.1:6379' }),
    'PROMISCUOUS_REDIS_URL is `http://127.0.0.1:6379/`: use a redis:// or rediss:// URL',
  );
  const amqp = refused({ amqpUrl: 'http://guest:secret@127.0.0.1' }, {});
  assert.match(amqp, '`amqpUrl` is `http://guest:***@127.0.0.1/`: use an amqp:// or amqps:// URL');
  assert.not.match(amqp, 'secret');
  assert.match(refused({}, { PROMISCUOUS_AMQP_URL: 'rabbit' }), 'PROMISCUOUS_AMQP_URL is `rabbit`');
  assert.match(refused({ app: 7 } as object, {}), '`app` is `7`');
  assert.match(refused({ namespace: 'a b' }, {}), '`namespace` is `a b`');
  assert.match(refused({}, { PROMISCUOUS_BACKEND: 'kafka' }), 'PROMISCUOUS_BACKEND is `kafka`');
  assert.match(refused({}, { PROMISCUOUS_QUEUE_EXPIRES_MS: '10s' }), 'PROMISCUOUS_QUEUE_EXPIRES_MS is `10s`');
});

test('a database URL becomes the Knex config of its driver', () => {
  assert.equal(databaseFromUrl('postgres://u@db/app'), { client: 'pg', connection: 'postgres://u@db/app' });
  assert.equal(databaseFromUrl('mariadb://root@db/app'), { client: 'mysql2', connection: 'mysql://root@db/app' });
  assert.equal(databaseFromUrl('sqlite:data/app.sqlite'), {
    client: 'better-sqlite3',
    connection: { filename: 'data/app.sqlite' },
    useNullAsDefault: true,
  });
  assert.throws(() => databaseFromUrl('mongodb://db/app'), /PROMISCUOUS_DATABASE_URL has scheme mongodb:/);
});

test('AmqpTransport.connect takes the namespace and URL the CLI would, from the environment', async () => {
  const namespace = randomName('prom');
  const saved = { namespace: process.env.PROMISCUOUS_NAMESPACE, url: process.env.PROMISCUOUS_AMQP_URL };
  process.env.PROMISCUOUS_NAMESPACE = namespace;
  process.env.PROMISCUOUS_AMQP_URL = amqpUrl;
  const connection = await amqp.connect(amqpUrl);
  try {
    const transport = await AmqpTransport.connect({ expiresMs: 60_000 });
    try {
      await transport.publish([{ routingKeys: ['blog.post.create'], messageId: namespace, body: Buffer.from('{}') }]);
      const channel = await connection.createChannel();
      await channel.checkExchange(namespace);
      await channel.deleteExchange(namespace);
    } finally {
      await transport.close();
    }
  } finally {
    await connection.close();
    for (const [key, value] of [
      ['PROMISCUOUS_NAMESPACE', saved.namespace],
      ['PROMISCUOUS_AMQP_URL', saved.url],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});

test.run();
