import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, errorDetail, footprint, gridFeatures, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ bodyLimit: 64 * 1024 });
});

afterAll(async () => {
  await t.dispose();
});

describe('the product routes of the HTTP server', () => {
  it('creates a product (201), answers it, and refuses its id a second time (409)', async () => {
    const created = await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'roads', title: 'Roads' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ data: { id: 'roads', type: 'product', attributes: { title: 'Roads', feature_count: 0 } } });
    const got = await call(t.url, 'GET', '/vector/v2/products/roads');
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);
    const before = await footprint(t.dataDir);
    const again = await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'roads', title: 'Other' } });
    expect(again.status).toBe(409);
    expect(errorDetail(again)).toContain('"roads" exists already');
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('titles a product with its id when no title is given', async () => {
    const created = await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'untitled' } });
    expect(created.body).toMatchObject({ data: { attributes: { title: 'untitled', feature_count: 0 } } });
  });

  it('adds features from a FeatureCollection or an array, giving ids to those without', async () => {
    await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'adds' } });
    const features = gridFeatures(3);
    const first = await call(t.url, 'POST', '/vector/v2/products/adds/features', { body: { type: 'FeatureCollection', features } });
    expect(first).toMatchObject({ status: 200, body: { added: 3 } });
    const second = await call(t.url, 'POST', '/vector/v2/products/adds/features', {
      body: [{ type: 'Feature', geometry: null, properties: { n: 3 } }],
    });
    expect(second).toMatchObject({ status: 200, body: { added: 1 } });
    expect((await call(t.url, 'GET', '/vector/v2/products/adds')).body).toMatchObject({ data: { attributes: { feature_count: 4 } } });
  });

  it.each<[string, unknown, number, string]>([
    ['a body that is not an object', [1], 400, 'Expected the request body to be a JSON object, got an array'],
    ['no id', { title: 'x' }, 400, 'to have an `id`'],
    ['an unknown member', { id: 'x', colour: 'red' }, 400, 'got an unknown `colour`'],
    ['a bad id', { id: '../x' }, 400, 'Expected the product id to be 1 to 128 characters'],
    ['a numeric id', { id: 5 }, 400, 'Expected the product id to be 1 to 128 characters'],
    ['a title that is not a string', { id: 'x', title: 5 }, 400, "Expected the product's `title` to be a string, got 5"],
  ])('refuses to create a product with %s, writing nothing', async (_what, body, status, detail) => {
    const before = await footprint(t.dataDir);
    const answer = await call(t.url, 'POST', '/vector/v2/products', { body });
    expect(answer.status).toBe(status);
    expect(errorDetail(answer)).toContain(detail);
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('answers 404 for an unknown product, to reads and to writes', async () => {
    const before = await footprint(t.dataDir);
    for (const [method, path, body] of [
      ['GET', '/vector/v2/products/nope', undefined],
      ['POST', '/vector/v2/products/nope/features', [{ type: 'Feature', geometry: null, properties: {} }]],
      // Unknown first, whatever the body holds.
      ['POST', '/vector/v2/products/nope/features', { not: 'features' }],
    ] as const) {
      const answer = await call(t.url, method, path, body === undefined ? {} : { body });
      expect(answer.status).toBe(404);
      expect(errorDetail(answer)).toContain('No product "nope"');
    }
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it.each<[string, unknown, string]>([
    ['a body that is neither a collection nor an array', { type: 'Feature' }, 'Expected the request body to be a GeoJSON FeatureCollection or an array'],
    ['a collection without features', { type: 'FeatureCollection' }, "Expected the FeatureCollection's `features` to be an array"],
    ['a bad feature after good ones', [{ type: 'Feature', geometry: null, properties: {} }, { type: 'Feature', geometry: { type: 'Point', coordinates: ['x', 1] } }], 'Feature 1 was refused, nothing was added'],
    ['a feature of another type', [{ type: 'Polygon' }], 'Expected `features[0].type` to be "Feature"'],
  ])('refuses to add %s (400), adding nothing', async (_what, body, detail) => {
    await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'strict' } });
    const before = await footprint(t.dataDir);
    const answer = await call(t.url, 'POST', '/vector/v2/products/strict/features', { body });
    expect(answer.status).toBe(400);
    expect(errorDetail(answer)).toContain(detail);
    expect(await footprint(t.dataDir)).toEqual(before);
    expect((await call(t.url, 'GET', '/vector/v2/products/strict')).body).toMatchObject({ data: { attributes: { feature_count: 0 } } });
  });

  it('answers 400 for malformed JSON, saying where, and writes nothing', async () => {
    await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'json' } });
    const before = await footprint(t.dataDir);
    for (const [path, text] of [
      ['/vector/v2/products', '{"id": "j2",'],
      ['/vector/v2/products/json/features', '[{"type": "Feature"'],
      ['/vector/v2/products/json/search/export', "{'key': 'a'}"],
    ] as const) {
      const answer = await call(t.url, 'POST', path, { body: text });
      expect(answer.status).toBe(400);
      expect(errorDetail(answer)).toMatch(/^The request body is not valid JSON: .*JSON/);
    }
    const poisoned = await call(t.url, 'POST', '/vector/v2/products', { body: '{"id": "j3", "__proto__": {"admin": true}}' });
    expect(poisoned.status).toBe(400);
    expect(errorDetail(poisoned)).toContain('"__proto__"');
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('answers 413 for a body over the limit, and 415 for a body that is not JSON, writing nothing', async () => {
    await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'big' } });
    const before = await footprint(t.dataDir);
    const tooBig = await call(t.url, 'POST', '/vector/v2/products/big/features', { body: gridFeatures(1000) });
    expect(tooBig.status).toBe(413);
    expect(errorDetail(tooBig)).toContain('larger than this service\'s limit of 65536 bytes');
    const text = await call(t.url, 'POST', '/vector/v2/products/big/features', { body: 'x', headers: { 'content-type': 'text/csv' } });
    expect(text.status).toBe(415);
    expect(errorDetail(text)).toContain('application/json');
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('answers 404 in the error shape for an unknown route or method', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/vector/v2'],
      ['DELETE', '/vector/v2/products/roads'],
      ['PUT', '/vector/v2/products/roads/search/export'],
      ['GET', '/storage/v1/data/list'],
    ] as const) {
      const answer = await call(t.url, method, path);
      expect(answer.status).toBe(404);
      expect(errorDetail(answer)).toContain(`No route ${method} ${path}`);
    }
  });

  it('answers 400 for a malformed percent-encoding in the path', async () => {
    const answer = await call(t.url, 'GET', '/vector/v2/products/%zz');
    expect(answer.status).toBe(400);
    expect(errorDetail(answer)).toContain('malformed');
  });
});
