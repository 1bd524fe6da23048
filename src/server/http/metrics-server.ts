import { createServer, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readiness } from './ops-routes.js';
import type { ServiceOps } from './service-ops.js';

/** The operations server of a process that serves no API (a worker). @internal */
export interface MetricsServer {
  /** Where it listens: `http://127.0.0.1:9464`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves a worker's `GET /metrics` (Prometheus text), `GET /health` and `GET /ready` (its
 * Redis answers) on `host:port`, without a token: keep it on a loopback address, or where
 * only the Prometheus server reaches it.
 * @internal
 */
export async function startMetricsServer(ops: ServiceOps, port: number, host: string): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string): void => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    const json = (status: number, body: unknown): void => send(status, 'application/json; charset=utf-8', JSON.stringify(body));
    if (request.method !== 'GET') {
      json(405, { errors: [{ status: '405', title: STATUS_CODES[405], detail: 'Only GET is answered here' }] });
    } else if (path === '/metrics') {
      ops.metrics.text().then(
        (text) => send(200, ops.metrics.contentType, text),
        (error: unknown) => json(500, { errors: [{ status: '500', title: STATUS_CODES[500], detail: `The metrics could not be read: ${String(error)}` }] }),
      );
    } else if (path === '/health') {
      json(200, { status: 'ok' });
    } else if (path === '/ready') {
      void readiness(ops.checks).then(({ status, body }) => json(status, body));
    } else {
      json(404, { errors: [{ status: '404', title: STATUS_CODES[404], detail: `No route GET ${path}: this worker answers /metrics, /health and /ready` }] });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
