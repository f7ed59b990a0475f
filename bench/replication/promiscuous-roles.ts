/**
 * Figures 2 and 3's runtime pipeline: a `Publisher` with its relay in one process, a `Subscriber`
 * in another; with signing on, the publisher signs and the subscriber trusts and requires.
 */
import { schema as crowdtap, type Hooks, type Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import { schema as sniper } from '../../examples/users/generated/sniper/subscriber.js';
import { AmqpTransport, Publisher, Subscriber } from '../../src/runtime/index.js';
import { now, type Role, services, virtuals } from '../lib/index.js';
import { AppliedLog, recording, Stamps, stamping } from './observe.js';
import { ErrorLog } from './overhead-role.js';
import { connectTo, type InitArgs, settings, signatureOptions, statementsOf } from './settings.js';
import { drive, type RunArgs, Workload } from './workload.js';

export async function promiscuousPublisherRole(init: InitArgs): Promise<Role> {
  const db = connectTo(init.db);
  const stats = statementsOf(db);
  const transport = await AmqpTransport.connect({
    url: services.amqpUrl,
    namespace: init.namespace,
    frameSize: settings.frameSize,
  });
  const errors = new ErrorLog();
  const published = new Stamps();
  const publisher = new Publisher<Hooks, Virtuals>({
    schema: crowdtap,
    knex: db,
    transport: stamping(transport, published),
    virtuals,
    errorNotifier: errors.note,
    ...signatureOptions(init),
  });
  const workload = new Workload(
    {
      create: async (user) => {
        await publisher.transaction(async (tx) => void (await tx.User.create(user)));
        return [`${user.id}:1`, now()];
      },
      update: async (user, name) => {
        const row = await publisher.transaction(async (tx) => tx.User.update(user.id, { name }));
        return [`${user.id}:${Number(row?._v)}`, now()];
      },
    },
    init.updateShare,
  );
  return {
    commands: {
      run: async (args: RunArgs) => {
        errors.take();
        const result = await drive(workload, args, stats);
        // Rows committed at the end are still on their way to the broker: wait for the relay.
        await publisher.relay?.flush();
        const { runtimeErrors, firstRuntimeError } = errors.take();
        return {
          ...result,
          published: published.take(),
          confirms: published.takeConfirms(),
          errors: result.errors + runtimeErrors,
          ...((result.firstError ?? firstRuntimeError) ? { firstError: result.firstError ?? firstRuntimeError } : {}),
        };
      },
    },
    async close() {
      await publisher.close();
      await transport.close();
      await db.destroy();
    },
  };
}

export async function promiscuousSubscriberRole(init: InitArgs): Promise<Role> {
  const db = connectTo(init.db);
  const stats = statementsOf(db);
  const log = new AppliedLog();
  const transport = await AmqpTransport.connect({
    url: services.amqpUrl,
    namespace: init.namespace,
    frameSize: settings.frameSize,
  });
  const subscriber = new Subscriber({
    schema: sniper,
    knex: db,
    transport: recording(
      transport,
      (keys) => {
        const at = now();
        for (const key of keys) log.delivered.note(key, at);
      },
      (keys) => {
        log.messages += 1;
        log.keys.add(keys, now());
      },
      () => {
        log.deferred += 1;
      },
    ),
    ...(init.prefetch ? { prefetch: init.prefetch } : {}),
    errorNotifier: log.noteError,
    ...signatureOptions(init),
  });
  await subscriber.start();
  return {
    commands: log.commands(stats),
    async close() {
      await subscriber.stop();
      await transport.close();
      await db.destroy();
    },
  };
}
