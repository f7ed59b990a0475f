import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

/** Each thing a process needs to do its work, and whether it has it now (or why not). */
export type ReadinessChecks = Readonly<Record<string, true | string>>;

/**
 * Serves, on a port of its own (what `--metrics-port` runs): `GET /metrics`; `GET /healthz`,
 * 200 while the process serves at all (a liveness probe); and `GET /readyz`, 200 when every
 * check of `readiness` passes, else 503, with the checks as JSON either way (a readiness
 * probe). Resolves once listening. Port 0 picks a free one: read it from `server.address()`.
 */
export function serveMetrics(
  metrics: Metrics,
  port: number,
  host?: string,
  readiness: () => Promise<ReadinessChecks> = async () => ({}),
): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (error: unknown) => failed(response, error),
      );
    } else if (request.method === 'GET' && path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (request.method === 'GET' && path === '/readyz') {
      readiness().then(
        (checks) => {
          const ready = Object.values(checks).every((check) => check === true);
          response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
          response.end(`${JSON.stringify({ ready, checks })}\n`);
        },
        (error: unknown) => failed(response, error),
      );
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics, /healthz or /readyz\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function failed(response: ServerResponse, error: unknown): void {
  response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`);
}

/** The port a server listens on. */
export function listeningPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
