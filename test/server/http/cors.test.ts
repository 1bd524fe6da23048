/**
 * CORS on the real service: preflights answered for the configured origins only, with the
 * headers the client sends (Authorization, Last-Event-ID, Idempotency-Key), `Content-Length`
 * readable by the page, the 401 of a refused token readable too, never a wildcard, no
 * credentials mode, and nothing at all without configured origins. (The dashboard's Chromium
 * test runs a page of another origin against it.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../../src/server/index.js';
import { call, gridFeatures, startTestServer, waitFor } from './helpers.js';
import type { TestServer } from './helpers.js';

const PAGE = 'http://127.0.0.1:4173';
const TOKEN = 'the-master-token_0123456789';

let t: TestServer;
let plain: TestServer;

beforeAll(async () => {
  [t, plain] = await Promise.all([startTestServer({ token: TOKEN, cors: { origins: [PAGE, 'https://app.example.com'] } }), startTestServer({ token: TOKEN })]);
});

afterAll(async () => {
  await Promise.all([t.dispose(), plain.dispose()]);
});

function preflight(base: string, origin: string, method = 'POST'): Promise<Response> {
  return fetch(`${base}/vector/v2/products/p/search/export`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type,idempotency-key,last-event-id' },
  });
}

describe('CORS', () => {
  it('answers a preflight of a configured origin with that origin, the methods and the headers the client sends', async () => {
    const answer = await preflight(t.url, PAGE);
    expect(answer.status).toBe(204);
    expect(answer.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(answer.headers.get('access-control-allow-methods')?.split(/, */)).toEqual(expect.arrayContaining(['GET', 'POST']));
    const allowed = answer.headers.get('access-control-allow-headers')?.toLowerCase().split(/, */);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'last-event-id', 'idempotency-key']));
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
    expect(answer.headers.get('vary')?.toLowerCase()).toContain('origin');
  });

  it('names the origin on answers (downloads expose Content-Length), and on a 401 too, so the page can read why', async () => {
    await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'p' }, token: TOKEN });
    await call(t.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(3), token: TOKEN });
    const { body } = await call<{ export_id: string }>(t.url, 'POST', '/vector/v2/products/p/search/export', { body: { key: 'k.ndjson', query: {} }, token: TOKEN });
    await waitFor(async () => (await call(t.url, 'GET', `/vector/v2/products/p/search/export/${body.export_id}`, { token: TOKEN })).status === 200);
    const download = await call(t.url, 'GET', '/storage/v1/data/get/k.ndjson', { token: TOKEN, headers: { origin: 'https://app.example.com' } });
    expect(download.status).toBe(200);
    expect(download.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(download.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('content-length');
    // The event stream, written raw, names the origin too.
    const controller = new AbortController();
    const stream = await fetch(`${t.url}/vector/v2/products/p/search/export/events`, { headers: { origin: PAGE, authorization: `Bearer ${TOKEN}` }, signal: controller.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('access-control-allow-origin')).toBe(PAGE);
    controller.abort();
    await stream.body?.cancel().catch(() => undefined);
    const refused = await call(t.url, 'GET', '/vector/v2/products/p', { headers: { origin: PAGE } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(PAGE);
  });

  it('allows no other origin, and none at all unless configured', async () => {
    for (const origin of ['http://127.0.0.1:4174', 'https://evil.example.com', 'null']) {
      const answer = await preflight(t.url, origin);
      expect(answer.headers.get('access-control-allow-origin'), origin).toBeNull();
      const get = await call(t.url, 'GET', '/vector/v2/products/p', { token: TOKEN, headers: { origin } });
      expect(get.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
    const none = await preflight(plain.url, PAGE);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
    expect((await call(plain.url, 'GET', '/vector/v2/products/p', { token: TOKEN, headers: { origin: PAGE } })).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a wildcard, a path or anything but an origin, before anything starts', async () => {
    for (const origins of [['*'], ['http://127.0.0.1:4173/'], ['http://127.0.0.1:4173/app'], ['127.0.0.1:4173'], ['ftp://example.com'], [42]]) {
      await expect(startServer({ cors: { origins: origins as string[] } })).rejects.toThrow(/expected each CORS origin to be a page's origin/);
    }
    await expect(startServer({ cors: ['http://127.0.0.1:4173'] as never })).rejects.toThrow(/expected `cors` to be \{ origins: \[\.\.\.\] \}/);
  });
});
