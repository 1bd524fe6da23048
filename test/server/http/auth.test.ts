import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, errorDetail, footprint, gridFeatures, openEvents, startTestServer, waitFor } from './helpers.js';
import type { Answer, TestServer } from './helpers.js';

const TOKEN = 'the-real-token_0123456789';
const WRONG = 'a-wrong-token_9876543210';

let t: TestServer;
let exportId: string;

beforeAll(async () => {
  t = await startTestServer({ token: TOKEN });
  await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'p' }, token: TOKEN });
  await call(t.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(10), token: TOKEN });
  exportId = (await call<{ export_id: string }>(t.url, 'POST', '/vector/v2/products/p/search/export', { body: { key: 'k.ndjson', query: {} }, token: TOKEN })).body
    .export_id;
  await waitFor(async () => (await call(t.url, 'GET', `/vector/v2/products/p/search/export/${exportId}`, { token: TOKEN })).status === 200);
});

afterAll(async () => {
  await t.dispose();
});

/** Every route, with a body that would succeed (or change something) if it were let through. */
function routes(): [string, string, unknown][] {
  return [
    ['POST', '/vector/v2/products', { id: 'intruder' }],
    ['GET', '/vector/v2/products/p', undefined],
    ['POST', '/vector/v2/products/p/features', gridFeatures(2)],
    ['POST', '/vector/v2/products/p/search/export', { key: 'intruder.ndjson', query: {} }],
    ['GET', '/vector/v2/products/p/search/export', undefined],
    ['GET', `/vector/v2/products/p/search/export/${exportId}`, undefined],
    ['GET', `/vector/v2/products/p/search/export/${exportId}/status`, undefined],
    ['POST', '/vector/v2/products/p/search/export/status', { export_ids: [exportId] }],
    ['POST', `/vector/v2/products/p/search/export/${exportId}/cancel`, undefined],
    ['GET', '/vector/v2/products/p/search/export/events', undefined],
    ['GET', '/storage/v1/data/get/k.ndjson', undefined],
    ['GET', '/no/such/route', undefined],
  ];
}

function expectUnauthorized(answer: Answer, what: string): void {
  expect(answer.status, what).toBe(401);
  expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="export-task"');
  errorDetail(answer);
  expect(answer.text).not.toContain(TOKEN);
  expect(answer.text).not.toContain(WRONG);
}

describe('the token of the HTTP server', () => {
  it('answers 401 to every route without a token, saying how to send one, and writes nothing', async () => {
    const before = await footprint(t.dataDir);
    for (const [method, path, body] of routes()) {
      const answer = await call(t.url, method, path, body === undefined ? {} : { body });
      expectUnauthorized(answer, `${method} ${path}`);
      expect(errorDetail(answer)).toContain('needs a token');
    }
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('answers 401 to every route with a wrong token or scheme, never echoing a token, and writes nothing', async () => {
    const before = await footprint(t.dataDir);
    for (const authorization of [`Bearer ${WRONG}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, 'Bearer', `Bearer ${TOKEN} ${WRONG}`]) {
      for (const [method, path, body] of routes()) {
        const answer = await call(t.url, method, path, { ...(body === undefined ? {} : { body }), headers: { authorization } });
        expectUnauthorized(answer, `${method} ${path} with ${authorization}`);
        expect(errorDetail(answer)).toContain('does not hold this service\'s token');
      }
    }
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('refuses an event stream without the token before any stream starts', async () => {
    const { response, reader } = await openEvents(t.url, 'p', { token: WRONG });
    expect(response.status).toBe(401);
    expect(reader).toBeUndefined();
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('lets every route through with the token (the scheme in any case)', async () => {
    expect((await call(t.url, 'GET', '/vector/v2/products/p', { token: TOKEN })).status).toBe(200);
    expect((await call(t.url, 'GET', '/vector/v2/products/p', { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
    expect((await call(t.url, 'GET', '/storage/v1/data/get/k.ndjson', { token: TOKEN })).status).toBe(200);
    expect((await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'welcome' }, token: TOKEN })).status).toBe(201);
    const { response, reader, close } = await openEvents(t.url, 'p', { token: TOKEN });
    expect(response.status).toBe(200);
    await reader!.until((r) => r.messages.length > 0);
    await close();
  });
});
