/**
 * The generated AsyncAPI documents against what RabbitMQ really delivers: crowdtap's
 * transactions, a frame, a sync to one app and a re-sync request, read raw from the queues the
 * transport declares, fit the channels, headers and payloads that crowdtap's and sniper's
 * documents describe.
 */
import { readFileSync } from 'node:fs';
import type { AsyncAPIDocumentInterface } from '@asyncapi/parser';
import amqp, { type GetMessage } from 'amqplib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { topicMatches } from '../../src/common/topic.js';
import { silentLogger } from '../../src/runtime/index.js';
import type { SubscriberObserver } from '../../src/runtime/observability/subscriber-observer.js';
import { ResyncRequests } from '../../src/runtime/subscriber/resync-requests.js';
import { unframe } from '../../src/transport/amqp/frames.js';
import { messageValidator, parseValid, schemaValidator } from '../helpers/asyncapi.js';
import { repoPath } from '../helpers/corpus.js';
import { amqpUrl, eventually } from '../helpers/services.js';
import { newUser } from '../helpers/users-app.js';
import { closeWorld, deliver, manualPublisher, openWorld, removeNamespace, takeOutbox } from '../helpers/world.js';

function usersDocument(app: string): Promise<AsyncAPIDocumentInterface> {
  const path = repoPath('examples', 'users', 'generated', app, 'asyncapi.json');
  return parseValid(readFileSync(path, 'utf8'), app);
}

/** The queue an operation's channel names in its AMQP binding, in the test's namespace. */
function queueOf(document: AsyncAPIDocumentInterface, operation: string, namespace: string): string {
  const binding = document.operations().get(operation)?.channels().all()[0]?.bindings().get('amqp')?.value();
  const name = (binding?.queue as { name?: string } | undefined)?.name ?? '';
  assert.match(name, /^promiscuous\./, `${operation} reads a queue of the default namespace`);
  return `${namespace}${name.slice('promiscuous'.length)}`;
}

/** Every routing key crowdtap's document says it sends under: its channels' addresses, their parameters filled in. */
function sentUnder(document: AsyncAPIDocumentInterface, key: string): boolean {
  return document
    .operations()
    .filter((o) => o.action() === 'send')
    .some((operation) => {
      const channel = operation.channels().all()[0];
      const address = channel?.address() ?? '';
      const [, name = ''] = /\{(\w+)\}/.exec(address) ?? [];
      const values = (channel?.parameters().get(name)?.schema()?.enum() as string[] | undefined) ?? ['*'];
      return values.some((value) => topicMatches(address.replace(`{${name}}`, value), key));
    });
}

async function drain(channel: amqp.Channel, queue: string, count: number): Promise<GetMessage[]> {
  const got: GetMessage[] = [];
  await eventually(async () => {
    for (let m = await channel.get(queue, { noAck: true }); m; m = await channel.get(queue, { noAck: true }))
      got.push(m);
    return got.length >= count ? true : undefined;
  });
  return got;
}

test("crowdtap's messages on RabbitMQ fit crowdtap's document and sniper's", async () => {
  const [crowdtap, sniper] = await Promise.all([usersDocument('crowdtap'), usersDocument('sniper')]);
  const world = await openWorld({ pub: 'sqlite', sub: 'sqlite' });
  const publisher = manualPublisher(world);
  const connection = await amqp.connect(amqpUrl);
  try {
    // sniper's queue, bound as its document says.
    const receives = sniper.operations().filter((o) => o.action() === 'receive');
    const bindings = receives.map((o) => o.channels().all()[0]?.address() ?? '');
    assert.ok(bindings.includes('*.user.*') && bindings.includes('sync.sniper'), bindings.join(', '));
    await world.transport.declare('sniper', bindings);
    const queue = queueOf(sniper, 'receive.ANY.user.ANY', world.namespace);
    for (const o of receives) assert.is(queueOf(sniper, o.id() ?? '', world.namespace), queue);

    const yoda = newUser('Yoda');
    const luke = newUser('Luke', { points: 10 });
    await publisher.transaction(async (tx) => {
      await tx.Organization.create({ id: 1, name: 'Jedi Order' });
      await tx.User.create({ ...yoda, org_id: 1 });
      await tx.Member.create(luke);
      await tx.UserEvent.create({ user_id: yoda.id, event: 'registered' });
    });
    await publisher.transaction(async (tx) => void (await tx.User.update(yoda.id, { name: 'Master Yoda' })));
    await publisher.transaction(async (tx) => void (await tx.Member.update(luke.id, { points: 42 })));
    // Published together: the first under four keys (CC), the two updates in one frame.
    await deliver(world, ...(await takeOutbox(world)));
    await publisher.sync('User', [yoda.id], { to: 'sniper' });

    const channel = await connection.createChannel();
    const delivered = await drain(channel, queue, 3);
    assert.is(delivered.length, 3);
    const checks = {
      published: messageValidator(crowdtap, 'published'),
      publishedHeaders: messageValidator(crowdtap, 'published', 'headers'),
      received: messageValidator(sniper, 'received'),
      receivedHeaders: messageValidator(sniper, 'received', 'headers'),
    };
    let framed = 0;
    let copied = 0;
    for (const message of delivered) {
      const headers = message.properties.headers ?? {};
      const keys = [message.fields.routingKey, ...((headers.CC as string[] | undefined) ?? [])];
      for (const key of keys) assert.ok(sentUnder(crowdtap, key), `crowdtap's document sends under ${key}`);
      assert.ok(bindings.some((b) => topicMatches(b, message.fields.routingKey)));
      assert.ok(checks.publishedHeaders(headers), JSON.stringify(checks.publishedHeaders.errors));
      assert.ok(checks.receivedHeaders(headers), JSON.stringify(checks.receivedHeaders.errors));
      assert.is(message.properties.contentType, crowdtap.components().messages().get('published')?.contentType());
      assert.is(message.properties.deliveryMode, 2);
      const parts = unframe(message);
      if (parts.length > 1) framed += 1;
      if (keys.length > 1) copied += 1;
      for (const { body } of parts) {
        const envelope = JSON.parse(body.toString()) as unknown;
        assert.ok(checks.published(envelope), JSON.stringify(checks.published.errors));
        assert.ok(checks.received(envelope), JSON.stringify(checks.received.errors));
      }
    }
    assert.is(framed, 1, 'a frame was delivered');
    assert.is(copied, 1, 'a message routed under several keys was delivered');

    // The schemas are not vacuous: the same envelope with a wrong attribute fails both.
    const [first] = unframe(delivered[0] as GetMessage);
    const wrong = JSON.parse((first?.body ?? '').toString()) as { operations: { attributes: unknown }[] };
    for (const op of wrong.operations) if (op.attributes) op.attributes = { ...op.attributes, name: 42 };
    assert.not.ok(checks.published(wrong));
    assert.not.ok(checks.received(wrong));
  } finally {
    await connection.close();
    await closeWorld(world, publisher);
    await removeNamespace(world.namespace, 'sniper');
  }
});

test("sniper's re-sync request on RabbitMQ fits both documents, in the queue crowdtap's names", async () => {
  const [crowdtap, sniper] = await Promise.all([usersDocument('crowdtap'), usersDocument('sniper')]);
  const world = await openWorld({ pub: 'sqlite', sub: 'sqlite' });
  const connection = await amqp.connect(amqpUrl);
  try {
    const answering = crowdtap.operations().get('receive.resync.crowdtap');
    const address = answering?.channels().all()[0]?.address() ?? '';
    await world.transport.declare('crowdtap.resync', [address]);
    const queue = queueOf(crowdtap, 'receive.resync.crowdtap', world.namespace);

    const observer = { resyncRequested: () => {} } as unknown as SubscriberObserver;
    const requests = new ResyncRequests({
      app: 'sniper',
      transport: world.transport,
      timeoutMs: 1,
      observer,
      log: silentLogger,
      report: (error) => assert.unreachable(error.message),
    });
    const object = { endpoint: 'crowdtap/user', id: newUser('Yoda').id, version: 3 };
    await requests.request([{ key: `crowdtap ${object.endpoint} ${object.id}`, publisher: 'crowdtap', ...object }]);

    const channel = await connection.createChannel();
    const [message] = await drain(channel, queue, 1);
    assert.ok(message);
    const asked = sniper.operations().get('send.resync.PUBLISHER')?.channels().all()[0]?.address() ?? '';
    assert.ok(topicMatches(asked.replace('{publisher}', '*'), message.fields.routingKey), message.fields.routingKey);
    const request = JSON.parse(message.content.toString()) as unknown;
    for (const document of [crowdtap, sniper]) {
      const valid = schemaValidator(document, 'resync-request');
      assert.ok(valid(request), JSON.stringify(valid.errors));
    }
  } finally {
    await connection.close();
    await closeWorld(world);
    await removeNamespace(world.namespace, 'crowdtap.resync');
  }
});

test.run();
