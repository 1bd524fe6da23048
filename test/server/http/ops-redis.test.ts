import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../../src/cli/commands/worker.js';
import { startServer } from '../../../src/server/index.js';
import { captureOutput } from '../../cli/captured-output.js';
import { HAS_PROMTOOL, namingProblems, promtoolCheck, sample, scrape } from '../../support/prometheus.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { call, errorDetail, gridFeatures, makeTempDir, waitFor } from './helpers.js';

let redis: RedisServer;
let dataDir: string;
let removeDir: () => Promise<void>;

beforeAll(async () => {
  redis = await startRedisServer();
  ({ dir: dataDir, remove: removeDir } = await makeTempDir());
});

afterAll(async () => {
  await redis.stop();
  await removeDir();
});

/** `export-task worker` in this process, configured by environment variables only. */
async function startWorkerCommand(env: Record<string, string>): Promise<{ metricsUrl: string; out: () => string; stop: () => Promise<number> }> {
  const { stdout, stderr, out, err } = captureOutput();
  const controller = new AbortController();
  const code = runWorker([], { stdout, stderr, env, signal: controller.signal });
  await waitFor(() => out().includes('worker ready') || err() !== '', 20_000, 'the worker to start');
  const metricsUrl = /metrics on (http:\/\/\S+)\/metrics/.exec(out())?.[1];
  if (metricsUrl === undefined) throw new Error(`The worker printed no metrics URL: ${out()}${err()}`);
  return {
    metricsUrl,
    out,
    stop: () => {
      controller.abort();
      return code;
    },
  };
}

describe('operations in Redis mode', () => {
  it('/ready names a missing worker, then Redis while its redis-server is down, and is 200 again once it is back; both processes count the export', async () => {
    const logs = new PassThrough();
    let logText = '';
    logs.setEncoding('utf8').on('data', (chunk: string) => (logText += chunk));
    const server = await startServer({ host: '127.0.0.1', port: 0, redis: redis.url, dataDir, logger: { destination: logs } });
    let worker: Awaited<ReturnType<typeof startWorkerCommand>> | undefined;
    try {
      const lonely = await call<{ checks: Record<string, string> }>(server.url, 'GET', '/ready');
      expect(lonely.status).toBe(503);
      expect(lonely.body.checks).toEqual({ redis: 'ok', jobs: 'no worker is connected to the export queue: start `export-task worker`' });

      worker = await startWorkerCommand({
        EXPORT_TASK_REDIS: redis.url,
        EXPORT_TASK_DATA_DIR: dataDir,
        EXPORT_TASK_CONCURRENCY: '1',
        EXPORT_TASK_METRICS_PORT: '0',
        EXPORT_TASK_LOG_LEVEL: 'info',
      });
      await waitFor(async () => (await call(server.url, 'GET', '/ready')).status === 200, 10_000, '/ready to see the worker');
      expect((await call(server.url, 'GET', '/ready')).body).toEqual({ status: 'ready', checks: { redis: 'ok', jobs: 'ok' } });
      expect((await call(worker.metricsUrl, 'GET', '/ready')).body).toEqual({ status: 'ready', checks: { redis: 'ok' } });
      expect((await call(worker.metricsUrl, 'GET', '/health')).body).toEqual({ status: 'ok' });
      const elsewhere = await call(worker.metricsUrl, 'GET', '/vector/v2/products');
      expect(elsewhere.status).toBe(404);
      expect(errorDetail(elsewhere)).toBe('No route GET /vector/v2/products: this worker answers /metrics, /health and /ready');
      expect((await call(worker.metricsUrl, 'POST', '/metrics')).status).toBe(405);

      expect((await call(server.url, 'POST', '/vector/v2/products', { body: { id: 'roads' } })).status).toBe(201);
      expect((await call(server.url, 'POST', '/vector/v2/products/roads/features', { body: gridFeatures(200) })).status).toBe(200);
      const started = await call<{ export_id: string }>(server.url, 'POST', '/vector/v2/products/roads/search/export', {
        body: { key: 'out/odd.ndjson', query: { query_expr: { eq: { kind: 'odd' } } } },
      });
      const exportId = started.body.export_id;
      await waitFor(
        async () => (await call<{ data: { phase: string } }>(server.url, 'GET', `/vector/v2/products/roads/search/export/${exportId}/status`)).body.data.phase === 'success',
        30_000,
        'the export to succeed',
      );

      const api = await scrape(server.url);
      expect(sample(api.samples, 'export_task_exports_started_total')).toBe(1);
      expect(sample(api.samples, 'export_task_redis_up')).toBe(1);
      expect(sample(api.samples, 'export_task_exports_queued')).toBe(0);
      expect(sample(api.samples, 'export_task_exports_running')).toBe(0);
      const work = await scrape(worker.metricsUrl);
      expect(sample(work.samples, 'export_task_jobs_started_total')).toBe(1);
      expect(sample(work.samples, 'export_task_exports_ended_total', { outcome: 'succeeded', failure_type: 'none' })).toBe(1);
      expect(sample(work.samples, 'export_task_job_duration_seconds_count', { outcome: 'succeeded' })).toBe(1);
      expect(sample(work.samples, 'export_task_events_appended_total', { type: 'started' })).toBe(1);
      expect(sample(work.samples, 'export_task_worker_jobs_running')).toBe(0);
      expect(sample(work.samples, 'export_task_redis_up')).toBe(1);
      for (const { families, text } of [api, work]) {
        expect(namingProblems(families, 'export_task_')).toEqual([]);
        if (HAS_PROMTOOL) expect(await promtoolCheck(text)).toBe('');
      }
      expect(worker.out()).toContain('"event":"export_ended"');

      await redis.down();
      await waitFor(async () => (await call(server.url, 'GET', '/ready')).status === 503, 10_000, '/ready to see Redis gone');
      const away = await call<{ errors: { detail: string }[]; checks: Record<string, string> }>(server.url, 'GET', '/ready');
      expect(away.headers.get('retry-after')).toBe('1');
      expect(away.body.checks['redis']).toMatch(/^unreachable at redis:\/\/127\.0\.0\.1:\d+ \(connection \w+\)$/);
      expect(away.body.errors[0]!.detail).toMatch(/^Not ready: redis unreachable/);
      const down = await scrape(server.url);
      expect(sample(down.samples, 'export_task_redis_up')).toBe(0);
      expect(Number.isNaN(sample(down.samples, 'export_task_exports_queued'))).toBe(true);
      expect((await call(worker.metricsUrl, 'GET', '/ready')).status).toBe(503);
      expect(logText).toContain('"event":"redis_unavailable"');

      await redis.up();
      await waitFor(async () => (await call(server.url, 'GET', '/ready')).status === 200, 15_000, '/ready to see Redis back');
      expect(sample((await scrape(server.url)).samples, 'export_task_redis_up')).toBe(1);
      expect(logText).toContain('"event":"redis_available"');

      // A Redis that keeps its connections but answers nothing: /ready and /metrics still answer, in bounded time.
      redis.freeze();
      try {
        const silent = await call<{ checks: Record<string, string> }>(server.url, 'GET', '/ready');
        expect(silent.status).toBe(503);
        expect(silent.body.checks['redis']).toBe('no answer: Redis did not answer within 1000 ms');
        expect(Number.isNaN(sample((await scrape(server.url)).samples, 'export_task_exports_queued'))).toBe(true);
      } finally {
        redis.thaw();
      }
      await waitFor(async () => (await call(server.url, 'GET', '/ready')).status === 200, 15_000, '/ready once Redis answers again');
    } finally {
      if (worker !== undefined) expect(await worker.stop()).toBe(0);
      await server.close();
    }
  }, 90_000);
});
