/**
 * `liveChanges` in a real browser: a page's own `EventSource` receives a change as sniper
 * applies it, and when the server restarts, reconnects by itself and receives what it missed,
 * once each.
 */
import { createServer, type Server } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { type LiveChangesHandler, liveChanges, listeningPort } from '../../src/runtime/index.js';
import { launchChromium } from '../helpers/browser.js';
import { type ReplicatingWorld, replicatingWorld } from '../helpers/dashboard-world.js';
import { eventually, redisUrl } from '../helpers/services.js';
import { newUser } from '../helpers/users-app.js';
import { member } from '../helpers/world.js';

interface Context {
  world: ReplicatingWorld;
  browser: Browser;
}

const test = suite<Context>('live changes in Chromium', {} as Context);

test.before(async (context) => {
  context.browser = await launchChromium();
  context.world = await replicatingWorld();
});

test.after(async (context) => {
  await context.browser?.close();
  await context.world?.close();
});

const page = `<!doctype html>
<title>live</title>
<ul id="changes"></ul>
<script>
  window.received = [];
  const changes = new EventSource('/live?type=User');
  changes.onmessage = (event) => {
    const change = JSON.parse(event.data);
    window.received.push(change.attributes.name);
    const item = document.createElement('li');
    item.textContent = change.operation + ' ' + change.attributes.name;
    document.getElementById('changes').appendChild(item);
  };
</script>`;

/** A user's own server: its page, and the handler under /live. */
async function serve(world: ReplicatingWorld, port: number): Promise<{ server: Server; handler: LiveChangesHandler }> {
  const handler = await liveChanges({ app: 'sniper', redisUrl, namespace: world.namespace });
  const server = createServer((request, response) => {
    if (request.url?.startsWith('/live')) return handler(request, response);
    response.writeHead(200, { 'content-type': 'text/html' }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, handler };
}

async function stop({ server, handler }: { server: Server; handler: LiveChangesHandler }): Promise<void> {
  await handler.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

async function create(world: ReplicatingWorld, name: string): Promise<void> {
  const user = newUser(name);
  await world.publisher.transaction(async (tx) => void (await tx.User.create(user)));
  await eventually(() => member(world, user.id), 10_000, `${name} applied`);
}

test('a page receives a change live, and what it missed while the server restarted', async ({ world, browser }) => {
  let running = await serve(world, 0);
  const port = listeningPort(running.server);
  const tab = await browser.newPage();
  // Expressions run in the page, which the tests' types do not describe.
  const received = () => tab.evaluate('window.received') as Promise<string[]>;
  try {
    await tab.goto(`http://127.0.0.1:${port}/`);
    await eventually(async () => (running.handler.connections === 1 ? true : undefined), 10_000, 'the page connected');
    await create(world, 'Anakin');
    await tab.waitForFunction('window.received.length === 1');

    await stop(running);
    await create(world, 'Padme');
    await create(world, 'Obiwan');
    running = await serve(world, port);
    await eventually(async () => ((await received()).length === 3 ? true : undefined), 15_000, 'the page caught up');
    await create(world, 'Luke');
    await tab.waitForFunction('window.received.length === 4');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await received(), ['Anakin', 'Padme', 'Obiwan', 'Luke']);
    assert.equal(await tab.locator('#changes li').allTextContents(), [
      'create Anakin',
      'create Padme',
      'create Obiwan',
      'create Luke',
    ]);
  } finally {
    await tab.close();
    await stop(running);
  }
});

test.run();
