import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ExportServer } from '../../../src/server/index.js';
import { startApiInstances } from '../../support/redis-cluster.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { readEventStream } from '../../support/event-stream.js';

let redis: RedisServer;
let dataDir: string;
let servers: ExportServer[];

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** The SSE frames a stream sends within `ms`, as [id, type] pairs. */
async function frames(url: string, headers: Record<string, string> = {}, ms = 500): Promise<[string, string][]> {
  const { status, text } = await readEventStream(url, { headers, withinMs: ms });
  expect(status).toBe(200);
  return [...text.matchAll(/^id: (.+)\nevent: (.+)$/gm)].map((m) => [m[1]!, m[2]!]);
}

beforeAll(async () => {
  redis = await startRedisServer();
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-redis-api-'));
  servers = await startApiInstances(redis, dataDir, 2);
  expect((await post(servers[0]!.url, '/vector/v2/products', { id: 'roads' })).status).toBe(201);
});

afterAll(async () => {
  await Promise.all((servers ?? []).map((server) => server.close()));
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('API instances on one Redis', () => {
  it('sees a product created at one instance from the other, and refuses the same id at either', async () => {
    const got = await fetch(`${servers[1]!.url}/vector/v2/products/roads`);
    expect(got.status).toBe(200);
    expect(((await got.json()) as { data: { id: string } }).data.id).toBe('roads');
    expect((await post(servers[1]!.url, '/vector/v2/products', { id: 'roads' })).status).toBe(409);
  });

  it('answers the same export for the same Idempotency-Key at either instance', async () => {
    const body = { key: 'idem.ndjson', query: {} };
    const first = (await (await post(servers[0]!.url, '/vector/v2/products/roads/search/export', body, { 'idempotency-key': 'k-1' })).json()) as {
      export_id: string;
    };
    const again = (await (await post(servers[1]!.url, '/vector/v2/products/roads/search/export', body, { 'idempotency-key': 'k-1' })).json()) as {
      export_id: string;
    };
    expect(again.export_id).toBe(first.export_id);
    const other = (await (await post(servers[1]!.url, '/vector/v2/products/roads/search/export', body, { 'idempotency-key': 'k-2' })).json()) as {
      export_id: string;
    };
    expect(other.export_id).not.toBe(first.export_id);
  });

  it('resumes an event stream at the other instance from a cursor of the first, with no repeat', async () => {
    const path = '/vector/v2/products/roads/search/export/events';
    await post(servers[0]!.url, '/vector/v2/products/roads/search/export', { key: 'a.ndjson', query: {} });
    await post(servers[0]!.url, '/vector/v2/products/roads/search/export', { key: 'b.ndjson', query: {} });
    const all = await frames(`${servers[0]!.url}${path}`);
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const [id] of all) expect(id).toMatch(/^\d+-\d+$/);
    const rest = await frames(`${servers[1]!.url}${path}`, { 'last-event-id': all[0]![0] });
    expect(rest).toEqual(all.slice(1));
  });

  it('refuses a malformed cursor with a 400 that says what a cursor is, before any stream starts', async () => {
    const path = '/vector/v2/products/roads/search/export/events';
    for (const cursor of ['12', 'abc', '1-2-3']) {
      const response = await fetch(`${servers[1]!.url}${path}?after=${cursor}`);
      expect(response.status).toBe(400);
      const body = (await response.json()) as { errors: { detail: string }[] };
      expect(body.errors[0]!.detail).toMatch(/Expected `after` to be a cursor this service gave \(a stream entry id/);
    }
  });

  it('refuses the job options beside `redis`, and `redis` without a shared directory, saying why', async () => {
    await expect(startServer({ redis: redis.url })).rejects.toThrow(/Expected `dataDir` with `redis`/);
    await expect(startServer({ redis: redis.url, dataDir, concurrency: 2 })).rejects.toThrow(/Unexpected `concurrency` with `redis`/);
    await expect(startServer({ redis: 'localhost:6379', dataDir })).rejects.toThrow(TypeError);
  });
});
