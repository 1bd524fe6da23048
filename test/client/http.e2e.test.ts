import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  asCompleted,
  BadRequestError,
  createClient,
  NotFoundError,
  replay,
  UnauthorizedError,
  type ExportClient,
  type ExportTask,
  type Feature,
  type TaskEvent,
} from '../../src/index.node.js';
import { startServer, type ExportServer } from '../../src/server/index.js';
import { exportScenarios } from '../support/export-scenarios.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { readEventStream } from '../support/event-stream.js';

exportScenarios('ExportTask over HTTP with Server-Sent Events', async (dataDir) => {
  const server = await startServer({ port: 0, dataDir, concurrency: 2 });
  return { dataDir, client: (options) => createClient({ ...options, url: server.url }), close: () => server.close() };
});

exportScenarios('ExportTask over HTTP with polling', async (dataDir) => {
  const server = await startServer({ port: 0, dataDir, concurrency: 2 });
  return {
    dataDir,
    client: (options) => createClient({ ...options, url: server.url, transport: 'poll', pollInterval: 25, maxPollInterval: 200 }),
    close: () => server.close(),
  };
});

const features = (n: number): Feature[] =>
  Array.from({ length: n }, (_, i) => ({
    type: 'Feature',
    id: i,
    geometry: { type: 'Point', coordinates: [(i % 360) - 180, ((i * 7) % 180) - 90] },
    properties: { kind: ['highway', 'primary', 'residential'][i % 3], n: i },
  }));

/** Every event the server has for a product, read from its events route to the end of what exists. */
async function serverLog(url: string, productId: string, token?: string): Promise<TaskEvent[]> {
  const { text } = await readEventStream(`${url}/vector/v2/products/${productId}/search/export/events`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    idleMs: 300,
  });
  return text
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => JSON.parse(line.slice(5)) as TaskEvent);
}

describe('the HTTP client against a real server', () => {
  let dataDir: string;
  let server: ExportServer;
  let proxy: FaultProxy;
  let client: ExportClient;
  const TOKEN = 'secret-token-123';

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'export-task-http-'));
    server = await startServer({ port: 0, dataDir, token: TOKEN, concurrency: 2 });
    proxy = await startFaultProxy(server.url);
    const setup = createClient({ url: server.url, token: TOKEN });
    const fc = await setup.createFeatureCollection('roads');
    await fc.add(features(3_000));
    const big = await setup.createFeatureCollection('big');
    await big.add(features(150_000));
    await setup.close();
  });

  afterAll(async () => {
    await proxy.close();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => proxy.reset());

  afterEach(async () => {
    await client.close();
    expect(client.store.pendingWaits).toBe(0);
    expect(client.store.timerArmed).toBe(false);
  });

  async function expectEqualToServer(task: ExportTask): Promise<void> {
    const status = (await (
      await fetch(`${server.url}/vector/v2/products/${task.guid}/search/export/${task.tuid}/status`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as { data: unknown };
    const fromServer = replay([status.data]);
    const { seq: _a, ...mine } = task.snapshot;
    const { seq: _b, ...theirs } = fromServer;
    expect(mine).toEqual(theirs);
    const log = (await serverLog(server.url, task.guid, TOKEN)).filter((e) => e.export_id === task.tuid);
    expect(task.snapshot).toEqual(replay(log));
  }

  it('rejects a wrong token at once with UnauthorizedError that does not contain the token', async () => {
    client = createClient({ url: server.url, token: 'wrong-token-456' });
    const started = Date.now();
    const error = await client.featureCollection('roads').export('x.ndjson').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(String((error as Error).message)).not.toContain('wrong-token-456');
    expect(JSON.stringify(error)).not.toContain('wrong-token-456');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fails at once on bad input: unknown product, bad query', async () => {
    client = createClient({ url: server.url, token: TOKEN });
    await expect(client.featureCollection('nope').export('x.ndjson')).rejects.toThrow(NotFoundError);
    await expect(client.featureCollection('roads').export('x.ndjson', { query: { query_limit: -1 } })).rejects.toThrow(BadRequestError);
  });

  it('retries 503 bursts and 429 with Retry-After, and an export still starts only once', async () => {
    client = createClient({ url: proxy.url, token: TOKEN });
    proxy.faults.serviceUnavailable = 3;
    proxy.faults.match = /search\/export$/;
    const fc = client.featureCollection('roads');
    const task = await fc.export('retried.ndjson');
    proxy.faults.rateLimited = 1;
    proxy.faults.retryAfterSeconds = 0;
    await task.getResult({ wait: true, timeout: 60_000 });
    expect(proxy.requests.filter((r) => r === 'POST /vector/v2/products/roads/search/export')).toHaveLength(4);
    const listed = await fc.listExports();
    expect(listed.filter((t) => t.key === 'retried.ndjson')).toHaveLength(1);
    await expectEqualToServer(task);
  });

  it('folds duplicated and reordered events to the server state', async () => {
    client = createClient({ url: proxy.url, token: TOKEN });
    proxy.faults.duplicateEvents = true;
    proxy.faults.reorderEvents = true;
    const task = await client.featureCollection('big').export('dup.ndjson');
    await task.getResult({ wait: true, timeout: 60_000 });
    await expectEqualToServer(task);
  });

  it('resumes by cursor after the event stream is cut mid-export, losing nothing', async () => {
    client = createClient({ url: proxy.url, token: TOKEN });
    proxy.faults.cutStreamAfter = 3;
    const task = await client.featureCollection('big').export('cut.ndjson');
    await task.getResult({ wait: true, timeout: 60_000 });
    expect(proxy.requests.filter((r) => r.endsWith('/search/export/events')).length).toBeGreaterThanOrEqual(2);
    await expectEqualToServer(task);
  });

  it('polls with one batch request per interval for all pending tasks, never one per task', async () => {
    client = createClient({ url: proxy.url, token: TOKEN, transport: 'poll', pollInterval: 20, maxPollInterval: 100 });
    const fc = client.featureCollection('roads');
    const tasks = await Promise.all(Array.from({ length: 12 }, (_, i) => fc.export(`poll/${i}.ndjson`)));
    for await (const _task of asCompleted(tasks, { timeout: 60_000 })) {
      // drain
    }
    const batch = proxy.requests.filter((r) => r === 'POST /vector/v2/products/roads/search/export/status').length;
    const perTask = proxy.requests.filter((r) => /\/search\/export\/[^/]+(\/status)?$/.test(r) && r.startsWith('GET')).length;
    expect(batch).toBeGreaterThan(0);
    expect(perTask).toBe(0);
    expect(proxy.requests.some((r) => r.endsWith('/events'))).toBe(false);
    for (const task of tasks) await expectEqualToServer(task);
  });

  it('falls back to DL polling (404 while pending) where the server has no status or events routes', async () => {
    client = createClient({ url: proxy.url, token: TOKEN, pollInterval: 20, maxPollInterval: 100 });
    proxy.faults.notFound = /\/(status|events)$/;
    const task = await client.featureCollection('roads').export('dl.ndjson');
    await task.getResult({ wait: true, timeout: 60_000 });
    await expect(task.status).resolves.toBe('SUCCESS');
    expect(proxy.requests.some((r) => r === `GET /vector/v2/products/roads/search/export/${task.tuid}`)).toBe(true);
    expect(task.snapshot.attributes?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
