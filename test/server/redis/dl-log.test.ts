/**
 * DL's `ExportTask.log` on the Redis mode: an API instance serves the log a worker process
 * appended, at the `result_key` the result attributes give, with its size in `log_size_bytes`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportServer } from '../../../src/server/index.js';
import { startApiInstances, startWorkerProcess, type WorkerProcess } from '../../support/redis-cluster.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { call, gridFeatures, makeTempDir } from '../http/helpers.js';

interface Result {
  readonly data: { readonly attributes: { readonly status: string; readonly log_size_bytes: number; readonly result_key: string } };
}

let redis: RedisServer;
let temp: { dir: string; remove: () => Promise<void> };
let server: ExportServer;
let worker: WorkerProcess;
let vector: string;

beforeAll(async () => {
  redis = await startRedisServer();
  temp = await makeTempDir();
  [server] = (await startApiInstances(redis, temp.dir, 1)) as [ExportServer];
  worker = await startWorkerProcess(redis, temp.dir);
  vector = `${server.url}/vector/v2`;
  await call(vector, 'POST', '/products', { body: { id: 'roads' } });
  await call(vector, 'POST', '/products/roads/features', { body: gridFeatures(50) });
});

afterAll(async () => {
  await worker?.stop();
  await server?.close();
  await redis?.stop();
  await temp?.remove();
});

/** DL's `get_result(wait=True)`: the result route until it is not 404, for at most 30 s. */
async function result(exportId: string): Promise<Result> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await call<Result>(vector, 'GET', `/products/roads/search/export/${exportId}`);
    if (answer.status === 200) return answer.body;
    expect(answer.status).toBe(404);
    if (Date.now() > deadline) throw new Error(`Export ${exportId} was not final within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function startExport(body: unknown): Promise<string> {
  const created = await call<{ export_id: string }>(vector, 'POST', '/products/roads/search/export', { body });
  expect(created.status).toBe(200);
  return created.body.export_id;
}

describe('the Storage log route on Redis', () => {
  it('serves the log the worker wrote at the result_key of the export, log_size_bytes long', async () => {
    const exportId = await startExport({ key: 'redis/log.ndjson', query: { query_limit: 5 } });
    const { attributes } = (await result(exportId)).data;
    const status = await call<{ data: { log: string[] } }>(vector, 'GET', `/products/roads/search/export/${exportId}/status`);
    const text = status.body.data.log.join('\n');
    expect(status.body.data.log.length).toBeGreaterThan(0);
    expect(attributes).toMatchObject({ status: 'SUCCESS', result_key: `roads/${exportId}`, log_size_bytes: Buffer.byteLength(text) });
    const log = await call(`${server.url}/storage/v1`, 'GET', `/logs/get/${attributes.result_key}`);
    expect(log.status).toBe(200);
    expect(log.text).toBe(text);
  });

  it('gives log_size_bytes 0 and a 404 from the route for a failed export that wrote no log', async () => {
    const exportId = await startExport({ key: 'redis/bad.ndjson', query: { query_expr: { range: { name: { gte: 1 } } } } });
    const { attributes } = (await result(exportId)).data;
    expect(attributes).toMatchObject({ status: 'FAILURE', log_size_bytes: 0, result_key: `roads/${exportId}` });
    expect((await call(`${server.url}/storage/v1`, 'GET', `/logs/get/${attributes.result_key}`)).status).toBe(404);
  });
});
