import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExportBackend } from '../../../src/client/backend.js';
import type { Feature } from '../../../src/client/geojson.js';
import { BadRequestError, ConflictError, NotFoundError } from '../../../src/client/http-errors.js';
import { createEmbeddedBackend } from '../../../src/server/embedded/create-embedded-backend.js';
import { gridFeatures, listTree, makeTempDir } from './helpers.js';

let backend: ExportBackend;
let dataDir: string;
let removeDir: () => Promise<void>;

beforeEach(async () => {
  ({ dir: dataDir, remove: removeDir } = await makeTempDir());
  backend = createEmbeddedBackend({ dataDir });
});

afterEach(async () => {
  await backend.close();
  await removeDir();
});

async function storedLines(productId: string): Promise<string[]> {
  const text = await readFile(join(dataDir, 'products', productId, 'features.ndjson'), 'utf8');
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

describe('createProduct on the embedded backend', () => {
  it('creates an empty product, its title defaulting to its id', async () => {
    expect(await backend.createProduct('roads', { title: 'Roads' })).toEqual({ id: 'roads', title: 'Roads', featureCount: 0 });
    expect(await backend.createProduct('a.b:c-d_9', {})).toEqual({ id: 'a.b:c-d_9', title: 'a.b:c-d_9', featureCount: 0 });
    expect(await storedLines('roads')).toEqual([]);
  });

  it('rejects a taken id with ConflictError, even when asked twice at once', async () => {
    await backend.createProduct('roads', {});
    await expect(backend.createProduct('roads', {})).rejects.toBeInstanceOf(ConflictError);
    const results = await Promise.allSettled([backend.createProduct('twice', {}), backend.createProduct('twice', {})]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it.each(['', '.hidden', '../x', 'a/b', 'a b', 'x'.repeat(129), 'é'])('rejects the id %j with BadRequestError, creating nothing', async (id) => {
    await backend.createProduct('first', {});
    const before = await listTree(dataDir);
    const error = await backend.createProduct(id, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toMatch(/Expected the product id to be 1 to 128 characters/);
    expect(await listTree(dataDir)).toEqual(before);
  });

  it('keeps products across a reopening of the same data directory', async () => {
    await backend.createProduct('roads', { title: 'Roads' });
    await backend.addFeatures('roads', gridFeatures(3));
    await backend.close();
    backend = createEmbeddedBackend({ dataDir });
    await expect(backend.createProduct('roads', {})).rejects.toBeInstanceOf(ConflictError);
    expect(await backend.addFeatures('roads', gridFeatures(2))).toEqual({ added: 2 });
    expect(await storedLines('roads')).toHaveLength(5);
  });
});

describe('addFeatures on the embedded backend', () => {
  it('appends features as NDJSON, numbering those without id by their rank', async () => {
    await backend.createProduct('p', {});
    const given: Feature = { type: 'Feature', id: 'x', geometry: { type: 'Point', coordinates: [1, 2] }, properties: { a: 1 } };
    expect(await backend.addFeatures('p', [given, { type: 'Feature', geometry: null, properties: null }])).toEqual({ added: 2 });
    expect(await backend.addFeatures('p', [{ type: 'Feature', geometry: null, properties: { b: 2 } }])).toEqual({ added: 1 });
    const lines = (await storedLines('p')).map((line) => JSON.parse(line) as Feature);
    expect(lines).toEqual([given, { type: 'Feature', id: 2, geometry: null, properties: null }, { type: 'Feature', id: 3, geometry: null, properties: { b: 2 } }]);
  });

  it('rejects with NotFoundError for an unknown product', async () => {
    await expect(backend.addFeatures('nope', gridFeatures(1))).rejects.toBeInstanceOf(NotFoundError);
  });

  it.each<[string, unknown, RegExp]>([
    ['not a Feature', { type: 'Point', coordinates: [0, 0] }, /`features\[2\].type` to be "Feature", got "Point"/],
    ['a bad geometry type', { type: 'Feature', geometry: { type: 'Circle' }, properties: null }, /`features\[2\].geometry.type` to be one of/],
    ['a bad position', { type: 'Feature', geometry: { type: 'LineString', coordinates: [[0, 0], [1, 'a']] }, properties: null }, /`features\[2\].geometry.coordinates\[1\]\[1\]` to be a finite number, got "a"/],
    ['an open ring', { type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] }, properties: null }, /closed ring/],
    ['array properties', { type: 'Feature', geometry: null, properties: [1] }, /`features\[2\].properties` to be an object or null, got an array of 1/],
    ['an object id', { type: 'Feature', id: {}, geometry: null, properties: null }, /`features\[2\].id` to be a string, a finite number or absent/],
    ['a null id', { type: 'Feature', id: null, geometry: null, properties: null }, /`features\[2\].id`/],
    ['a value JSON cannot hold', { type: 'Feature', geometry: null, properties: { big: 1n } }, /Feature 2 was refused.*cannot be written as JSON/],
  ])('rejects a batch holding %s with BadRequestError naming its index, writing nothing', async (_what, bad, message) => {
    await backend.createProduct('p', {});
    await backend.addFeatures('p', gridFeatures(1));
    const before = await readFile(join(dataDir, 'products', 'p', 'features.ndjson'));
    const tree = await listTree(dataDir);
    const error = await backend.addFeatures('p', [...gridFeatures(2), bad as Feature]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toMatch(message);
    expect(await readFile(join(dataDir, 'products', 'p', 'features.ndjson'))).toEqual(before);
    expect(await listTree(dataDir)).toEqual(tree);
  });

  it('rejects a non-array with BadRequestError', async () => {
    await backend.createProduct('p', {});
    await expect(backend.addFeatures('p', 'x' as unknown as Feature[])).rejects.toBeInstanceOf(BadRequestError);
  });

  it('adds hundreds of thousands of features in one call', async () => {
    await backend.createProduct('big', {});
    const features = gridFeatures(300_000, 1000);
    expect(await backend.addFeatures('big', features)).toEqual({ added: 300_000 });
    const lines = await storedLines('big');
    expect(lines).toHaveLength(300_000);
    expect(lines[299_999]).toBe(JSON.stringify(features[299_999]));
  }, 60_000);

  it('keeps concurrent appends whole', async () => {
    await backend.createProduct('p', {});
    await Promise.all(Array.from({ length: 10 }, () => backend.addFeatures('p', gridFeatures(500))));
    const lines = await storedLines('p');
    expect(lines).toHaveLength(5000);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });
});
