/**
 * The requests the Descartes Labs Python client sent (its `FeatureCollection.export`,
 * `ExportTask.get_result` polling, `list_exports` paging and `get_file`), sent as it sent them
 * with plain fetch, and the answers it expected.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, errorDetail, gridFeatures, slowFeatures, SLOW_QUERY, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

const TOKEN = 'dl-style-token';
/** What python-requests sent with every call of the DL client's session. */
const DL_HEADERS = {
  'user-agent': 'python-requests/2.31.0',
  accept: '*/*',
  'accept-encoding': 'gzip, deflate',
  authorization: `Bearer ${TOKEN}`,
};
const DL_ATTRIBUTES = ['created', 'status', 'failure_type', 'exception_name', 'stacktrace', 'peak_memory_usage', 'runtime', 'labels'];

/** DL's result resource, as its client read it. */
interface DlResult {
  readonly data: {
    readonly id: string;
    readonly type: string;
    readonly attributes: Record<string, unknown> & { readonly labels: string[]; readonly runtime: number; readonly peak_memory_usage: number };
  };
}

let t: TestServer;
let vector: string;
let storage: string;

beforeAll(async () => {
  t = await startTestServer({ token: TOKEN, concurrency: 1, pageSize: 2 });
  vector = `${t.url}/vector/v2`;
  storage = `${t.url}/storage/v1`;
  // The products are made with this service's own routes (DL's were a separate API).
  await call(vector, 'POST', '/products', { body: { id: 'roads' }, token: TOKEN });
  await call(vector, 'POST', '/products/roads/features', { body: gridFeatures(100), token: TOKEN });
  await call(vector, 'POST', '/products', { body: { id: 'slow' }, token: TOKEN });
  await call(vector, 'POST', '/products/slow/features', { body: slowFeatures(20_000), token: TOKEN });
});

afterAll(async () => {
  await t.dispose();
});

/** `requests.post(url, json=body)` with the session's headers. */
async function dlPost(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { ...DL_HEADERS, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function dlGet(url: string): Promise<Response> {
  return fetch(url, { headers: DL_HEADERS });
}

/** `ExportTask.get_result(wait=True)`: GET the result until it is not 404 (DL slept 3 s; 50 ms here). */
async function dlWaitForResult(productId: string, exportId: string): Promise<{ readonly pending404s: number; readonly body: DlResult }> {
  let pending404s = 0;
  for (;;) {
    const response = await dlGet(`${vector}/products/${productId}/search/export/${exportId}`);
    if (response.status === 200) return { pending404s, body: (await response.json()) as DlResult };
    expect(response.status).toBe(404);
    const answer = { status: 404, headers: response.headers, body: (await response.json()) as unknown, text: '' };
    expect(errorDetail(answer)).toContain('its result is not ready yet');
    pending404s++;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('DL compatibility of the HTTP server', () => {
  it('creates an export as DL did, answers 404 while it is pending, then its result; the file downloads', async () => {
    // A slow export holds the only job slot, so the next one is pending for a while.
    const blocker = await dlPost(`${vector}/products/slow/search/export`, { key: 'blocker.ndjson', query: SLOW_QUERY, limits: { timeout_ms: 400 } });
    expect(blocker.status).toBe(200);

    const key = 'exports/roads.ndjson';
    const query = { query_expr: { and: [{ range: { n: { gte: 10, lt: 60 } } }, { like: { name: 'feature 1%' } }] }, query_limit: 100 };
    const created = await dlPost(`${vector}/products/roads/search/export`, { key, query });
    expect(created.status).toBe(200);
    const { export_id: exportId } = (await created.json()) as { export_id: string };
    expect(typeof exportId).toBe('string');

    const { pending404s, body } = await dlWaitForResult('roads', exportId);
    expect(pending404s).toBeGreaterThan(0);
    expect(Object.keys(body)).toEqual(['data']);
    expect(body.data.id).toBe(exportId);
    expect(body.data.type).toBe('export');
    for (const name of DL_ATTRIBUTES) expect(body.data.attributes).toHaveProperty(name);
    expect(body.data.attributes).toMatchObject({ status: 'SUCCESS', failure_type: null, exception_name: null, stacktrace: null, key });
    expect(body.data.attributes.labels[3]).toBe(key);
    expect(Date.parse(body.data.attributes['created'] as string)).not.toBeNaN();
    expect(body.data.attributes.runtime).toBeGreaterThanOrEqual(0);
    expect(body.data.attributes.peak_memory_usage).toBeGreaterThan(0);

    // get_file: GET {storage}/data/get/{key}, the key in the path as it is.
    const file = await dlGet(`${storage}/data/get/${key}`);
    expect(file.status).toBe(200);
    const bytes = Buffer.from(await file.arrayBuffer());
    expect(Number(file.headers.get('content-length'))).toBe(bytes.length);
    expect(bytes.length).toBe(body.data.attributes.size_bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(body.data.attributes.sha256);
    const names = bytes
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { properties: { n: number } }).properties.n);
    expect(names).toEqual([...Array.from({ length: 10 }, (_, i) => 10 + i)]);
  });

  it('answers a failed export with every DL attribute, the absent ones null', async () => {
    await call(vector, 'POST', '/products', { body: { id: 'mixed' }, token: TOKEN });
    await call(vector, 'POST', '/products/mixed/features', {
      body: [
        { type: 'Feature', geometry: null, properties: { height: 3 } },
        { type: 'Feature', geometry: null, properties: { height: 'tall' } },
      ],
      token: TOKEN,
    });
    const created = await dlPost(`${vector}/products/mixed/search/export`, { key: 'mixed.ndjson', query: { query_expr: { range: { height: { gt: 1 } } } } });
    const { export_id: exportId } = (await created.json()) as { export_id: string };
    const { body } = await dlWaitForResult('mixed', exportId);
    expect(body.data.attributes).toMatchObject({
      status: 'FAILURE',
      failure_type: 'exception',
      exception_name: 'QueryTypeError',
      key: 'mixed.ndjson',
      size_bytes: null,
      sha256: null,
    });
    expect(body.data.attributes.stacktrace).toMatch(/^QueryTypeError: /);
    expect(Object.keys(body.data.attributes).sort()).toEqual([...DL_ATTRIBUTES, 'key', 'size_bytes', 'sha256', 'log_size_bytes', 'result_key'].sort());
    // Its job wrote no log: `log_size_bytes` 0 makes the client's `log` None without asking Storage.
    expect(body.data.attributes).toMatchObject({ log_size_bytes: 0, result_key: `mixed/${exportId}` });
    const log = await dlGet(`${storage}/logs/get/mixed/${exportId}`);
    expect(log.status).toBe(404);
    expect(((await log.json()) as { errors: { detail: string }[] }).errors[0]!.detail).toContain('wrote no log');
    expect(Object.values(body.data.attributes)).not.toContain('None');
    expect(Object.values(body.data.attributes)).not.toContain(undefined);
  });

  it('lists completed exports a page at a time as list_exports did, following continuation_token', async () => {
    await call(vector, 'POST', '/products', { body: { id: 'listed' }, token: TOKEN });
    await call(vector, 'POST', '/products/listed/features', { body: gridFeatures(5), token: TOKEN });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await dlPost(`${vector}/products/listed/search/export`, { key: `listed/${i}.ndjson`, query: {} });
      ids.push(((await created.json()) as { export_id: string }).export_id);
    }
    for (const id of ids) await dlWaitForResult('listed', id);

    const seen: string[] = [];
    let url = `${vector}/products/listed/search/export`;
    let pages = 0;
    for (;;) {
      const response = await dlGet(url);
      expect(response.status).toBe(200);
      const page = (await response.json()) as { data: { id: string; type: string; attributes: Record<string, unknown> }[]; meta: { continuation_token: string | null } };
      expect(Object.keys(page).sort()).toEqual(['data', 'meta']);
      pages++;
      for (const item of page.data) {
        expect(item.type).toBe('export');
        for (const name of DL_ATTRIBUTES) expect(item.attributes).toHaveProperty(name);
        seen.push(item.id);
      }
      const token = page.meta.continuation_token;
      if (token === null) break;
      expect(typeof token).toBe('string');
      url = `${vector}/products/listed/search/export?continuation_token=${token}`;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
  });

  it('accepts the JSON:API media type every request of the DL client is sent with', async () => {
    const created = await fetch(`${vector}/products/roads/search/export`, {
      method: 'POST',
      headers: { ...DL_HEADERS, 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json' },
      body: JSON.stringify({ key: 'jsonapi.ndjson', query: { query_limit: 1 } }),
    });
    expect(created.status).toBe(200);
    const { export_id: exportId } = (await created.json()) as { export_id: string };
    expect((await dlWaitForResult('roads', exportId)).body.data.attributes.status).toBe('SUCCESS');
  });

  it('serves a final export\'s log from Storage at its result_key, its size in log_size_bytes, as ExportTask.log read them', async () => {
    // A key with non-ASCII letters: the log's last line names it, so its size in bytes is not its length.
    const key = 'exports/straße-östlich.ndjson';
    const created = await dlPost(`${vector}/products/roads/search/export`, { key, query: { query_limit: 3 } });
    const { export_id: exportId } = (await created.json()) as { export_id: string };
    const { body } = await dlWaitForResult('roads', exportId);
    const status = await call<{ data: { log: string[] } }>(vector, 'GET', `/products/roads/search/export/${exportId}/status`, { token: TOKEN });
    const text = status.body.data.log.join('\n');
    expect(status.body.data.log).toHaveLength(2);
    expect(text).toContain(key);
    expect(body.data.attributes).toMatchObject({ result_key: `roads/${exportId}`, log_size_bytes: Buffer.byteLength(text) });
    expect(body.data.attributes['log_size_bytes']).toBeGreaterThan(text.length);

    // FutureTask.log: Storage().get(result_key, storage_type="logs"), the key in the path as it is.
    const log = await dlGet(`${storage}/logs/get/${body.data.attributes['result_key'] as string}`);
    expect(log.status).toBe(200);
    expect(log.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const bytes = Buffer.from(await log.arrayBuffer());
    expect(bytes.toString('utf8')).toBe(text);
    expect(bytes.byteLength).toBe(body.data.attributes['log_size_bytes']);
  });

  it('answers 404 for the log of an export that is not final, of an unknown export, and for a key that is no result_key', async () => {
    const created = await dlPost(`${vector}/products/slow/search/export`, { key: 'unfinished.ndjson', query: SLOW_QUERY, limits: { timeout_ms: 300 } });
    const { export_id: exportId } = (await created.json()) as { export_id: string };
    const unfinished = await dlGet(`${storage}/logs/get/slow/${exportId}`);
    expect(unfinished.status).toBe(404);
    expect(((await unfinished.json()) as { errors: { detail: string }[] }).errors[0]!.detail).toMatch(/is (pending|running): its log is served once it is final/);
    const unknown = await dlGet(`${storage}/logs/get/roads/00000000-0000-0000-0000-000000000000`);
    expect(unknown.status).toBe(404);
    for (const key of ['roads', `roads/${exportId}/more`, `/roads/${exportId}`]) {
      const answer = await call(storage, 'GET', `/logs/get/${key}`, { token: TOKEN });
      expect(answer.status).toBe(404);
      expect(errorDetail(answer)).toContain('`result_key`');
    }
    await dlWaitForResult('slow', exportId);
  });

  it('answers HEAD of a stored file with its size and no body, and 404 for none (Storage.exists)', async () => {
    const created = await dlPost(`${vector}/products/roads/search/export`, { key: 'head/exists.ndjson', query: { query_limit: 4 } });
    const { export_id: exportId } = (await created.json()) as { export_id: string };
    const { body } = await dlWaitForResult('roads', exportId);
    const head = await fetch(`${storage}/data/get/head/exists.ndjson`, { method: 'HEAD', headers: DL_HEADERS });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(body.data.attributes['size_bytes']);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const missing = await fetch(`${storage}/data/get/head/missing.ndjson`, { method: 'HEAD', headers: DL_HEADERS });
    expect(missing.status).toBe(404);
  });

  it('answers 404 to the result route for an unknown export, as DL did (it could not tell it from pending)', async () => {
    const response = await dlGet(`${vector}/products/roads/search/export/00000000-0000-0000-0000-000000000000`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { errors: unknown[] }).errors).toHaveLength(1);
  });
});
