/**
 * What the service answers for a request its route's schema refuses (Fastify's Ajv, with
 * src/server/http/validation-errors.ts wording the error): 400 in the protocol's error shape,
 * naming where (a body member by its path, a parameter, a header), what was expected and what
 * came, before anything is done; nothing coerced, nothing dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, errorDetail, footprint, startTestServer, type TestServer } from './helpers.js';

const EXPORTS = '/vector/v2/products/v/search/export';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
  expect((await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'v' } })).status).toBe(201);
});

afterAll(async () => {
  await t.dispose();
});

describe('a request its schema refuses', () => {
  it.each<[string, string, string, { body?: unknown; headers?: Record<string, string> }, string]>([
    ['a member of the wrong type, by its path', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { query_limit: 1.5 } } }, 'Expected `query.query_limit` to be an integer, got 1.5'],
    ['a zero query_limit', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { query_limit: 0 } } }, 'Expected `query.query_limit` to be a number >= 1, got 0'],
    ['a key that is not a string', 'POST', EXPORTS, { body: { key: 7, query: {} } }, 'Expected `key` to be a string, got 7'],
    ['a geometry that is not an object', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { geometry: 'POINT(1 2)' } } }, 'Expected `query.geometry` to be a JSON object, got "POINT(1 2)"'],
    ['an unknown member of the query', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { limit: 1 } } }, 'Expected `query` to have only `geometry`, `query_expr`, `query_limit`, got an unknown `limit`: remove it'],
    ['a memory limit given as a string', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: {}, limits: { memory_mb: '64' } } }, "Expected `limits.memory_mb` to be a positive number of MiB, got \"64\": leave it out for the service's default (`--job-memory-mb`)"],
    ['an Idempotency-Key with a control character', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: {} }, headers: { 'idempotency-key': 'a\tb' } }, 'Expected the Idempotency-Key header to be 1 to 255 printable ASCII characters (a UUID, say), got "a\\tb"'],
    ['a product id in the path that no product can have', 'GET', '/vector/v2/products/.hidden', {}, 'Expected the product id to be 1 to 128 characters of letters, digits, ".", "_", ":" and "-", not starting with ".", got ".hidden"'],
    ['a continuation token given twice', 'GET', `${EXPORTS}?continuation_token=a&continuation_token=b`, {}, 'Expected one `continuation_token` query parameter, got 2'],
    ['an in-flight listing without in_flight', 'GET', `${EXPORTS}/status?in_flight=yes`, {}, 'Expected `in_flight` to be "true" (`in_flight=true`'],
    ['a body that is an array', 'POST', `${EXPORTS}/status`, { body: ['a'] }, 'Expected the request body to be a JSON object, got an array of 1'],
    ['a body with no export_ids', 'POST', `${EXPORTS}/status`, { body: {} }, 'Expected the request body to have an `export_ids`: an array of at most 10000 export ids in one request'],
  ])('answers %s with 400 saying where and what was expected, changing nothing', async (_what, method, path, options, detail) => {
    const before = await footprint(t.dataDir);
    const answer = await call(t.url, method, path, options);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ errors: [{ status: '400', title: 'Bad Request', detail: expect.any(String) as unknown }] });
    expect(errorDetail(answer)).toContain(detail);
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('coerces nothing: a numeric title stays refused, a string query_limit too', async () => {
    expect(errorDetail(await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'n', title: 12 } }))).toBe("Expected the product's `title` to be a string, got 12");
    expect(errorDetail(await call(t.url, 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { query_limit: '5' } } }))).toBe('Expected `query.query_limit` to be an integer, got "5"');
  });

  it('lets a good request through unchanged, both JSON media types', async () => {
    for (const type of ['application/json', 'application/vnd.api+json']) {
      const answer = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: `ok-${type.length}.ndjson`, query: { query_limit: 1 }, limits: { timeout_ms: 60_000 } }, headers: { 'content-type': type, 'idempotency-key': `k-${type}` } });
      expect(answer.status).toBe(200);
      expect(answer.body.export_id).toMatch(/\S/);
    }
  });
});
