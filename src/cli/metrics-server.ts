import type { Server } from 'node:http';
import { collectDefaultMetrics } from 'prom-client';
import { listeningPort, type ReadinessChecks, serveMetrics } from '../runtime/observability/http.js';
import { defaultMetrics } from '../runtime/observability/metrics.js';
import type { Logger } from '../common/logger.js';

let processMetricsCollected = false;

/**
 * `--metrics-port <port>`: serves this process's metrics, with Node's own (CPU, memory, event
 * loop lag), at `http://<host>:<port>/metrics`. Resolves to a function that stops serving.
 */
export async function metricsServer(
  port: number | undefined,
  log: Logger,
  readiness?: () => Promise<ReadinessChecks>,
): Promise<() => Promise<void>> {
  if (port === undefined) return async () => {};
  const metrics = defaultMetrics();
  if (!processMetricsCollected) {
    collectDefaultMetrics({ register: metrics.registry });
    processMetricsCollected = true;
  }
  const server: Server = await serveMetrics(metrics, port, undefined, readiness);
  const served = listeningPort(server);
  log.info({ port: served, url: `http://localhost:${served}/metrics` }, 'serving metrics and probes');
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
