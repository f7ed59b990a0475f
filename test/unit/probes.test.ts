import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listeningPort, Metrics, type ReadinessChecks, serveMetrics } from '../../src/runtime/index.js';

test('/healthz answers while the process serves; /readyz is 503 naming any check that fails', async () => {
  let checks: ReadinessChecks = { broker: true, database: true };
  const server = await serveMetrics(new Metrics(), 0, '127.0.0.1', async () => checks);
  const url = (path: string) => `http://127.0.0.1:${listeningPort(server)}${path}`;
  try {
    const alive = await fetch(url('/healthz'));
    assert.is(alive.status, 200);
    assert.is(await alive.text(), 'ok\n');
    const ready = await fetch(url('/readyz'));
    assert.is(ready.status, 200);
    assert.equal(await ready.json(), { ready: true, checks });
    checks = { broker: 'not connected to RabbitMQ', database: true };
    const unready = await fetch(url('/readyz'));
    assert.is(unready.status, 503);
    assert.equal(await unready.json(), { ready: false, checks });
    assert.is((await fetch(url('/healthz'))).status, 200, 'alive all the same: a restart would not help');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test.run();
