/**
 * The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core)
 * while crowdtap replicates to sniper: it shows both apps and their figures as they move, and
 * drops a parked message once the token is typed into the page.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser } from 'playwright-core';
import { artifact, launchChromium } from '../helpers/browser.js';
import { openDashboard, parkOne, type ReplicatingWorld, replicatingWorld } from '../helpers/dashboard-world.js';
import { newUser } from '../helpers/users-app.js';

interface Context {
  world: ReplicatingWorld;
  browser: Browser;
}

const test = suite<Context>('dashboard in Chromium', {} as Context);

test.before(async (context) => {
  context.browser = await launchChromium();
  context.world = await replicatingWorld();
});

test.after(async (context) => {
  await context.browser?.close();
  await context.world?.close();
});

/** Users created in rounds, a round a second, so that the chart has something to draw. */
async function replicate(world: ReplicatingWorld, rounds: number, perRound: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < perRound + round * 3; i++) {
      await world.publisher.transaction(async (tx) => void (await tx.User.create(newUser(`User${round}x${i}`))));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

test('shows both apps while they replicate, and drops a parked message with the token', async ({ world, browser }) => {
  await parkOne(world, 'unreadable');
  const dashboard = await openDashboard(world, 'page-token');
  const page = await browser.newPage({ viewport: { width: 1280, height: 560 } });
  try {
    const replicating = replicate(world, 12, 4);
    await page.goto(dashboard.url);
    const sniper = page.locator('#subscribers tr[data-app="sniper"]');
    const crowdtap = page.locator('#publishers tr[data-app="crowdtap"]');
    await sniper.waitFor();
    await crowdtap.waitFor();
    await replicating;
    // Applied operations reach the chart once their 5-second bucket is over.
    // Expressions run in the page, which the tests' types do not describe.
    await page.waitForFunction(
      `Number(document.querySelectorAll('#subscribers tr[data-app="sniper"] td')[8]?.textContent) > 0`,
      undefined,
      { timeout: 15_000 },
    );
    await page.waitForFunction(`document.querySelector('#live').classList.contains('on')`);
    // The relay empties the outbox a moment after the last commit: the page shows it on its next update.
    await page.waitForFunction(
      `document.querySelectorAll('#publishers tr[data-app="crowdtap"] td')[1]?.textContent === '0'`,
      undefined,
      { timeout: 15_000 },
    );
    const cells = await sniper.locator('td').allTextContents();
    assert.is(cells[0], 'sniper');
    assert.is(cells[4], '1', 'one parked message');
    assert.match(cells[10] ?? '', /^crowdtap: \d+ ms \/ \d+ ms$/);
    assert.is((await crowdtap.locator('td').allTextContents())[1], '0', 'an empty outbox');
    const shot = artifact('dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`  screenshot: ${shot}`);

    await sniper.locator('button.link').click();
    const row = page.locator('#parked tbody tr');
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /unreadable/);
    assert.ok(await row.locator('button', { hasText: 'drop' }).isDisabled(), 'no token typed yet');
    await page.fill('#token', 'page-token');
    await page.locator('#parked tbody tr button', { hasText: 'drop' }).click();
    await page.waitForFunction(`document.querySelectorAll('#parked tbody tr').length === 0`);
    assert.match((await page.textContent('#result')) ?? '', /"dropped":1/);
    assert.not.match(page.url(), /page-token/, 'the token is in no URL');
  } finally {
    await page.close();
    await dashboard.close();
  }
});

test.run();
