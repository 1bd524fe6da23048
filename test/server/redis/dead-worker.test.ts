import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ExportClient, type Feature } from '../../../src/index.js';
import type { ExportServer } from '../../../src/server/index.js';
import { DEFAULT_LOCK_DURATION_MS, WORKER_LOST_STACKTRACE } from '../../../src/server/redis/start-worker.js';
import { startApiInstances, startWorkerProcess, type WorkerProcess } from '../../support/redis-cluster.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';

/** What the worker's docs promise: a dead worker's started exports end within 1.5 lock durations once another worker runs. */
const DOCUMENTED_MS = 1.5 * DEFAULT_LOCK_DURATION_MS;
/** What the machine may add (the surviving worker's process picking the job, a busy CI machine). */
const SLACK_MS = 2_500;

let redis: RedisServer;
let dataDir: string;
let server: ExportServer;
let client: ExportClient;
const workers: WorkerProcess[] = [];

/** Seconds of work: long enough to SIGKILL its worker while it runs. */
const points = (n: number): Feature[] =>
  Array.from({ length: n }, (_, i) => ({ type: 'Feature', id: i, geometry: { type: 'Point', coordinates: [((i * 37) % 360) - 180, ((i * 11) % 170) - 85] }, properties: {} }));
const ring = Array.from({ length: 4_000 }, (_, i) => [60 * Math.cos((2 * Math.PI * i) / 4_000), 60 * Math.sin((2 * Math.PI * i) / 4_000)]);
const SLOW_QUERY = { geometry: { type: 'Polygon' as const, coordinates: [[...ring, ring[0]!]] } };

beforeAll(async () => {
  redis = await startRedisServer();
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-redis-dead-worker-'));
  [server] = (await startApiInstances(redis, dataDir, 1)) as [ExportServer];
  client = createClient({ url: server.url });
  await (await client.createFeatureCollection('slow')).add(points(40_000));
});

afterAll(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.kill()));
  await client?.close();
  await server?.close();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a worker killed mid-job, at the default lock duration', () => {
  it(`ends its running export internal within the documented ${DOCUMENTED_MS} ms, and the other worker goes on`, async () => {
    // Default lock duration: no --lock-duration-ms.
    workers.push(await startWorkerProcess(redis, dataDir, { concurrency: 1, lockDurationMs: null }));
    const task = await client.featureCollection('slow').export('killed.ndjson', { query: SLOW_QUERY });
    await expect.poll(() => task.snapshot.phase, { timeout: 20_000, interval: 20 }).toBe('running');
    await workers[0]!.kill();
    workers.push(await startWorkerProcess(redis, dataDir, { concurrency: 1, lockDurationMs: null }));
    // From the moment another worker runs, the wait's own bound is the documented time: it rejects with a TimeoutError past it.
    await task.getResult({ wait: true, timeout: DOCUMENTED_MS + SLACK_MS });
    await expect(task.failureType).resolves.toBe('internal');
    await expect(task.stacktrace).resolves.toBe(WORKER_LOST_STACKTRACE);
    const next = await client.featureCollection('slow').export('next.ndjson', { query: { query_limit: 3 } });
    await next.getResult({ wait: true, timeout: 20_000 });
    await expect(next.status).resolves.toBe('SUCCESS');
  }, 60_000);
});
