/**
 * The Redis coordinator against the real Redis: locks are all or none, and a release that
 * says so tells every worker which objects moved on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisCoordinator } from '../../src/runtime/index.js';
import { eventually, randomName, redisUrl } from '../helpers/services.js';

test('locks are taken all or none, and a release wakes the other workers', async () => {
  const namespace = randomName('prom');
  const [first, second] = await Promise.all([
    RedisCoordinator.connect(redisUrl, namespace),
    RedisCoordinator.connect(redisUrl, namespace),
  ]);
  const heard: string[] = [];
  second.onApplied((object) => void heard.push(object));
  try {
    assert.ok(await first.lockAll(['x', 'y'], 10_000));
    assert.not.ok(await second.lockAll(['z', 'y'], 10_000), 'y is held');
    assert.ok(await second.lockAll(['z'], 10_000), 'z was given back when y could not be taken');
    await second.release(['z']);
    await first.release(['x', 'y'], true);
    await eventually(async () => (heard.length === 2 ? true : undefined));
    assert.equal(heard.sort(), ['x', 'y']);
    assert.ok(await second.lockAll(['x', 'y', 'z'], 10_000), 'everything is free again');
    await second.release(['x', 'y', 'z']);
  } finally {
    await first.close();
    await second.close();
  }
});

test.run();
