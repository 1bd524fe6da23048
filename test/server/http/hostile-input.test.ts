/**
 * Hostile input against the real service over 127.0.0.1 (issue 13): every refusal is a 4xx in
 * the protocol's `{"errors": [...]}` shape, checked before any work, leaving the service's
 * state as it was, and a pathological `like` pattern does not hold a job slot.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotEvent } from '../../../src/core/events.js';
import { call, errorDetail, footprint, gridFeatures, startTestServer, waitFor } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
const EXPORTS = '/vector/v2/products/p/search/export';

beforeAll(async () => {
  t = await startTestServer({ concurrency: 2 });
  await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
  await call(t.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(20) });
});

afterAll(async () => {
  await t.dispose();
});

// As JSON text: JSON.stringify itself recurses, and overflows on such values.
function nestedAnd(depth: number): string {
  return `${'{"and":['.repeat(depth - 1)}{"eq":{"kind":"odd"}}${']}'.repeat(depth - 1)}`;
}

function nestedCollection(depth: number): string {
  return `${'{"type":"GeometryCollection","geometries":['.repeat(depth - 1)}{"type":"Point","coordinates":[0,0]}${']}'.repeat(depth - 1)}`;
}

/** Sends raw bytes and reads the whole answer until the service closes the connection. */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('error', (error) => (answer === '' ? reject(error) : resolve(answer)));
    socket.on('close', () => resolve(answer));
    socket.write(request);
  });
}

async function untilFinal(exportId: string): Promise<SnapshotEvent> {
  let snapshot: SnapshotEvent | undefined;
  await waitFor(async () => {
    snapshot = (await call<{ data: SnapshotEvent }>(t.url, 'GET', `${EXPORTS}/${exportId}/status`)).body.data;
    return snapshot.phase === 'success' || snapshot.phase === 'failure';
  });
  return snapshot!;
}

describe('hostile input to the HTTP service', () => {
  it.each<[string, string, string, unknown, RegExp]>([
    // Issue 13: 3,000 nested `and`s and 5,000 nested collections answered 500 (a stack overflow).
    ['an `and` nested 3,000 deep', 'POST', EXPORTS, `{"key":"a.ndjson","query":{"query_expr":${nestedAnd(3000)}}}`, /nested at most 64 deep, got `query\.query_expr(\.and\[0\]){64}` deeper still/],
    ['a GeometryCollection nested 5,000 deep in a query', 'POST', EXPORTS, `{"key":"a.ndjson","query":{"geometry":${nestedCollection(5000)}}}`, /nested at most 64 deep, got `query\.geometry(\.geometries\[0\]){64}`/],
    ['a GeometryCollection nested 5,000 deep in a feature', 'POST', '/vector/v2/products/p/features', `[{"type":"Feature","geometry":${nestedCollection(5000)},"properties":null}]`, /Feature 0 was refused, nothing was added: .*nested at most 64 deep, got `features\[0\]\.geometry(\.geometries\[0\]){64}`/],
    // Deep data in a property is no stack overflow either: it cannot be stored as a line of JSON.
    ['a property nested 100,000 deep', 'POST', '/vector/v2/products/p/features', `[{"type":"Feature","geometry":null,"properties":{"deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}}]`, /Feature 0 was refused, nothing was added: it cannot be written as JSON/],
    ['a __proto__ key in a feature upload', 'POST', '/vector/v2/products/p/features', '[{"type":"Feature","geometry":null,"properties":{"__proto__":{"x":1}}}]', /"__proto__" or "constructor.prototype" key/],
    ['a constructor.prototype key in a feature upload', 'POST', '/vector/v2/products/p/features', '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"constructor":{"prototype":{}}}}]}', /"__proto__" or "constructor.prototype" key/],
    ['a LIKE pattern too long', 'POST', EXPORTS, { key: 'a.ndjson', query: { query_expr: { like: { name: '%'.repeat(1025) } } } }, /`query\.query_expr\.like\.name` to be a LIKE pattern of at most 1024 characters, got 1025/],
    // Issue 13: a 300-character segment was accepted, then the export failed with ENAMETOOLONG.
    ['a key segment of 300 characters', 'POST', EXPORTS, { key: `out/${'x'.repeat(300)}`, query: {} }, /segment of the storage key to be at most 255 bytes long \(UTF-8\), got 300 bytes at position 2/],
    ['a key over 1024 bytes', 'POST', EXPORTS, { key: Array<string>(10).fill('é'.repeat(60)).join('/'), query: {} }, /storage key to be at most 1024 bytes long \(UTF-8\), got 1209 bytes/],
    ['a product id over 128 characters', 'POST', '/vector/v2/products', { id: 'p'.repeat(129) }, /product id to be 1 to 128 characters/],
    ['a title over 1024 characters', 'POST', '/vector/v2/products', { id: 'q', title: 't'.repeat(1025) }, /`title` to be at most 1024 characters, got 1025/],
    ['a feature id over 1024 characters', 'POST', '/vector/v2/products/p/features', [{ type: 'Feature', id: 'i'.repeat(1025), geometry: null, properties: null }], /`features\[0\]\.id` to be at most 1024 characters, got 1025/],
    ['an export id over 256 characters', 'POST', `${EXPORTS}/status`, { export_ids: ['e', 'e'.repeat(257)] }, /`export_ids\[1\]` to be an export id of at most 256 characters, got 257/],
  ])('refuses %s with 400 naming the field, changing nothing', async (_what, method, path, body, message) => {
    const before = await footprint(t.dataDir);
    const answer = await call(t.url, method, path, { body, headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    expect(errorDetail(answer)).toMatch(message);
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('refuses a non-JSON body with 415 in the protocol shape (issue 13: text/plain answered 400)', async () => {
    const before = await footprint(t.dataDir);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'application/jsonx', 'multipart/form-data; boundary=x']) {
      const answer = await call(t.url, 'POST', EXPORTS, { body: JSON.stringify({ key: 'a.ndjson', query: {} }), headers: { 'content-type': type } });
      expect(answer.status, type).toBe(415);
      expect(errorDetail(answer)).toMatch(/`Content-Type: application\/json` or `application\/vnd\.api\+json`/);
    }
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('reads application/vnd.api+json and JSON types with parameters as JSON (what DL\'s Python client sends)', async () => {
    for (const type of ['application/vnd.api+json', 'application/vnd.api+json; charset=utf-8', 'application/json; charset=utf-8', 'Application/JSON']) {
      const answer = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: 'types.ndjson', query: { query_limit: 1 } }, headers: { 'content-type': type } });
      expect(answer.status, type).toBe(200);
      expect((await untilFinal(answer.body.export_id)).phase).toBe('success');
    }
    const bad = await call(t.url, 'POST', EXPORTS, { body: '{"key":', headers: { 'content-type': 'application/vnd.api+json' } });
    expect(bad.status).toBe(400);
    expect(errorDetail(bad)).toMatch(/not valid JSON/);
  });

  it('answers oversized headers 431 in the protocol shape (issue 13: it was Fastify\'s own shape)', async () => {
    const answer = await rawRequest(t.server.port, `GET /vector/v2/products/p HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'x'.repeat(100_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as unknown;
    expect(body).toEqual({ errors: [{ status: '431', title: 'Request Header Fields Too Large', detail: expect.stringMatching(/headers are larger than/) as unknown }] });
    const malformed = await rawRequest(t.server.port, 'NOT HTTP\r\n\r\n');
    expect(malformed).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(malformed.slice(malformed.indexOf('\r\n\r\n') + 4))).toMatchObject({ errors: [{ status: '400' }] });
    // The service goes on answering.
    expect((await call(t.url, 'GET', '/vector/v2/products/p')).status).toBe(200);
  });

  it('answers Fastify\'s own refusals in the protocol shape', async () => {
    const cases: [number, Promise<Awaited<ReturnType<typeof call>>>][] = [
      [404, call(t.url, 'GET', '/nowhere')],
      [400, call(t.url, 'GET', '/vector/v2/products/%E0%A4%A')],
      [400, call(t.url, 'POST', EXPORTS, { body: '{"__proto__": {"x": 1}}' })],
      [413, call(t.url, 'POST', '/vector/v2/products/p/features', { body: `[${' '.repeat(70 * 1024 * 1024)}]` })],
    ];
    for (const [status, pending] of cases) {
      const answer = await pending;
      expect(answer.status).toBe(status);
      expect(errorDetail(answer)).not.toBe('');
    }
  });

  it('runs an export whose LIKE pattern made the RegExp backtrack for ever, and another meanwhile (issue 13: ReDoS)', async () => {
    await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'long' } });
    const long = Array.from({ length: 200 }, (_, i) => ({ type: 'Feature', id: i, geometry: null, properties: { name: 'a'.repeat(5_000) } }));
    expect((await call(t.url, 'POST', '/vector/v2/products/long/features', { body: long })).status).toBe(200);
    const pattern = `${'%'.repeat(24)}x`;
    const ids: string[] = [];
    for (const key of ['redos1.ndjson', 'redos2.ndjson']) {
      const answer = await call<{ export_id: string }>(t.url, 'POST', '/vector/v2/products/long/search/export', { body: { key, query: { query_expr: { like: { name: pattern } } } } });
      ids.push(answer.body.export_id);
    }
    const ordinary = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: 'ordinary.ndjson', query: {} } });
    expect((await untilFinal(ordinary.body.export_id)).phase).toBe('success');
    // No time limit here: before the fix these never ended. Bounded only by the test's timeout.
    for (const id of ids) {
      const status = async (): Promise<SnapshotEvent> =>
        (await call<{ data: SnapshotEvent }>(t.url, 'GET', `/vector/v2/products/long/search/export/${id}/status`)).body.data;
      await waitFor(async () => (await status()).phase !== 'pending' && (await status()).phase !== 'running', 25_000);
      expect(await status()).toMatchObject({ phase: 'success', progress: 1, log: ['scanned 200 features, matched 0', expect.any(String)] });
    }
  });
});
