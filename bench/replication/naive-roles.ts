/**
 * Figures 2 and 3's baseline: a naive pipeline on the same kinds of databases (insert or update
 * the row in a transaction, publish its JSON awaiting a publisher confirm per message, a
 * consumer upserting it: no outbox, no versions, no ordering).
 */
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { now, type Role, services, type User } from '../lib/index.js';
import { AppliedLog, Stamps } from './observe.js';
import { connectTo, defaultPrefetch, type InitArgs, naiveNames, statementsOf } from './settings.js';
import { bareRow, drive, type RunArgs, Workload } from './workload.js';

/** The naive producer: write the row, then publish its JSON and wait for the broker's confirm. */
export async function naivePublisherRole(init: InitArgs): Promise<Role> {
  const db = connectTo(init.db);
  const stats = statementsOf(db);
  const { exchange } = naiveNames(init.namespace);
  // The same socket setting as the runtime's transport: the baseline gets what it would gain.
  const connection: ChannelModel = await amqp.connect(services.amqpUrl, { noDelay: true });
  const channel: ConfirmChannel = await connection.createConfirmChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const publish = (message: Record<string, unknown>): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      channel.publish(
        exchange,
        'crowdtap.user',
        Buffer.from(JSON.stringify(message)),
        { persistent: true, contentType: 'application/json' },
        (error: unknown) => (error ? reject(new Error('not confirmed')) : resolve()),
      );
    });
  const sequence = new Map<string, number>();
  const published = new Stamps();
  const workload = new Workload(
    {
      create: async (user) => {
        await db.transaction(async (trx) => void (await trx('users').insert(bareRow(user))));
        const at = now();
        sequence.set(user.id, 1);
        const sent = now();
        published.note(`${user.id}:1`, sent);
        await publish({ ...user, seq: 1 });
        published.confirms.push([1, now() - sent]);
        return [`${user.id}:1`, at];
      },
      update: async (user, name) => {
        await db.transaction(async (trx) => void (await trx('users').where('id', user.id).update({ name })));
        const at = now();
        const seq = (sequence.get(user.id) ?? 1) + 1;
        sequence.set(user.id, seq);
        const sent = now();
        published.note(`${user.id}:${seq}`, sent);
        await publish({ ...user, seq });
        published.confirms.push([1, now() - sent]);
        return [`${user.id}:${seq}`, at];
      },
    },
    init.updateShare,
  );
  return {
    commands: {
      run: async (args: RunArgs) => {
        const result = await drive(workload, args, stats);
        return { ...result, published: published.take(), confirms: published.takeConfirms() };
      },
    },
    async close() {
      await connection.close().catch(() => {});
      await db.destroy();
    },
  };
}

/** The naive consumer: upsert the row by its foreign key, acknowledge. */
export async function naiveSubscriberRole(init: InitArgs): Promise<Role> {
  const db = connectTo(init.db);
  const stats = statementsOf(db);
  const log = new AppliedLog();
  const { exchange, queue } = naiveNames(init.namespace);
  // The same socket setting as the runtime's transport: the baseline gets what it would gain.
  const connection: ChannelModel = await amqp.connect(services.amqpUrl, { noDelay: true });
  const channel: Channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  // A classic queue of version 2, as the runtime declares its own.
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-version': 2 } });
  await channel.bindQueue(queue, exchange, '#');
  await channel.prefetch(init.prefetch ?? defaultPrefetch);
  const upsert = async (body: Buffer): Promise<void> => {
    const user = JSON.parse(body.toString('utf8')) as User & { seq: number };
    await db('members')
      .insert({ crowdtap_id: user.id, type: 'User', name: user.name, contact_email: user.email })
      .onConflict('crowdtap_id')
      .merge(['type', 'name', 'contact_email']);
    log.messages += 1;
    log.keys.add([`${user.id}:${user.seq}`], now());
  };
  await channel.consume(queue, (message) => {
    if (!message) return;
    const at = now();
    const { id, seq } = JSON.parse(message.content.toString('utf8')) as { id: string; seq: number };
    log.delivered.note(`${id}:${seq}`, at);
    upsert(message.content).then(
      () => channel.ack(message),
      (error: Error) => {
        log.noteError(error);
        channel.nack(message, false, true);
      },
    );
  });
  return {
    commands: log.commands(stats),
    async close() {
      await connection.close().catch(() => {});
      await db.destroy();
    },
  };
}
