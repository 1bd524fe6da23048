import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportBackend } from '../../../src/client/backend.js';
import type { ExportQuery, Feature } from '../../../src/client/geojson.js';
import type { SucceededEvent, TaskEvent } from '../../../src/core/events.js';
import { createEmbeddedBackend } from '../../../src/server/embedded/create-embedded-backend.js';
import { eventsUntilFinal, finalOf, gridFeatures, makeTempDir } from './helpers.js';

const features = gridFeatures(1000);
let backend: ExportBackend;
let dataDir: string;
let removeDir: () => Promise<void>;

beforeAll(async () => {
  ({ dir: dataDir, remove: removeDir } = await makeTempDir());
  backend = createEmbeddedBackend({ dataDir, concurrency: 2 });
  await backend.createProduct('grid', { title: 'Grid' });
  await backend.addFeatures('grid', features);
});

afterAll(async () => {
  await backend.close();
  await removeDir();
});

/** Runs an export to its end; answers its events and the exported file's text. */
async function runExport(productId: string, key: string, query: ExportQuery): Promise<{ events: TaskEvent[]; text: string }> {
  const { exportId } = await backend.startExport(productId, { key, query });
  const events = await eventsUntilFinal(backend, productId, exportId);
  const final = finalOf(events);
  if (final.type !== 'succeeded') throw new Error(`Expected the export to succeed, got ${JSON.stringify(final)}`);
  return { events, text: await readFile(join(dataDir, 'storage', key), 'utf8') };
}

function expectedText(selected: readonly Feature[]): string {
  return selected.map((f) => `${JSON.stringify(f)}\n`).join('');
}

/** The invariants of every export's history: gap-free seq, queued < started < ... < final. */
function expectWellFormed(events: readonly TaskEvent[]): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expect(events[0]?.type).toBe('queued');
  expect(events[1]?.type).toBe('started');
  const middle = events.slice(2, -1);
  expect(middle.every((e) => e.type === 'progress' || e.type === 'log')).toBe(true);
  const fractions = middle.flatMap((e) => (e.type === 'progress' ? [e.fraction] : []));
  expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
  expect(fractions.at(-1)).toBe(1);
  for (const e of events) expect(new Date(e.time).toISOString()).toBe(e.time);
}

describe('startExport on the embedded backend', () => {
  it('exports the whole product for {} as NDJSON whose size and sha256 match the succeeded event', async () => {
    const { events, text } = await runExport('grid', 'exports/all.ndjson', {});
    expectWellFormed(events);
    expect(text).toBe(expectedText(features));
    const final = finalOf(events) as SucceededEvent;
    const bytes = Buffer.from(text, 'utf8');
    expect(final.size_bytes).toBe(bytes.length);
    expect(final.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(final.key).toBe('exports/all.ndjson');
    expect(final.labels).toEqual(['grid', final.export_id, 'export', 'exports/all.ndjson']);
    expect(final.runtime).toBeGreaterThanOrEqual(0);
    expect(final.peak_memory_usage).toBeGreaterThan(0);
    const lines = events.flatMap((e) => (e.type === 'log' ? [e.line] : []));
    expect(lines).toContain('scanned 1000 features, matched 1000');
    expect(lines).toContain(`wrote exports/all.ndjson (${bytes.length} bytes)`);
  });

  it.each<[string, ExportQuery, (f: Feature) => boolean]>([
    ['eq', { query_expr: { eq: { kind: 'odd' } } }, (f) => f.properties?.['kind'] === 'odd'],
    ['ne', { query_expr: { ne: { kind: 'odd' } } }, (f) => f.properties?.['kind'] !== 'odd'],
    ['range', { query_expr: { range: { n: { gte: 100, lt: 250 } } } }, (f) => (f.properties?.['n'] as number) >= 100 && (f.properties?.['n'] as number) < 250],
    ['string range', { query_expr: { range: { name: { gt: 'feature 99' } } } }, (f) => (f.properties?.['name'] as string) > 'feature 99'],
    ['like', { query_expr: { like: { name: 'feature 1_' } } }, (f) => /^feature 1.$/.test(f.properties?.['name'] as string)],
    [
      'and / or',
      { query_expr: { and: [{ eq: { kind: 'even' } }, { or: [{ range: { n: { lt: 10 } } }, { range: { n: { gte: 990 } } }] }] } },
      (f) => f.properties?.['kind'] === 'even' && ((f.properties['n'] as number) < 10 || (f.properties['n'] as number) >= 990),
    ],
    [
      'geometry',
      { geometry: { type: 'Polygon', coordinates: [[[10, 2], [20, 2], [20, 4], [10, 4], [10, 2]]] } },
      (f) => {
        const [x, y] = (f.geometry as unknown as { coordinates: number[] }).coordinates as [number, number];
        return x >= 10 && x <= 20 && y >= 2 && y <= 4;
      },
    ],
  ])('exports exactly the features a %s query selects', async (form, query, keep) => {
    const { events, text } = await runExport('grid', `forms/${form.replace(/\W+/g, '-')}.ndjson`, query);
    expectWellFormed(events);
    const selected = features.filter(keep);
    expect(selected.length).toBeGreaterThan(0);
    expect(selected.length).toBeLessThan(features.length);
    expect(text).toBe(expectedText(selected));
  });

  it('keeps at most query_limit features, the first ones', async () => {
    const { events, text } = await runExport('grid', 'limited.ndjson', { query_expr: { eq: { kind: 'odd' } }, query_limit: 7 });
    expect(text).toBe(expectedText(features.filter((f) => f.properties?.['kind'] === 'odd').slice(0, 7)));
    expect(events.some((e) => e.type === 'log' && e.line.includes('query_limit 7 reached'))).toBe(true);
  });

  it('exports features of every geometry type whose geometry intersects the query geometry', async () => {
    const shapes: Feature[] = [
      { type: 'Feature', geometry: { type: 'LineString', coordinates: [[-5, 5], [15, 5]] }, properties: { name: 'crossing line' } },
      { type: 'Feature', geometry: { type: 'LineString', coordinates: [[20, 20], [30, 30]] }, properties: { name: 'far line' } },
      { type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[-10, -10], [20, -10], [20, 20], [-10, 20], [-10, -10]]] }, properties: { name: 'around' } },
      {
        type: 'Feature',
        geometry: { type: 'Polygon', coordinates: [[[-10, -10], [20, -10], [20, 20], [-10, 20], [-10, -10]], [[-1, -1], [11, -1], [11, 11], [-1, 11], [-1, -1]]] },
        properties: { name: 'hole around' },
      },
      { type: 'Feature', geometry: { type: 'MultiPoint', coordinates: [[100, 100], [1, 1]] }, properties: { name: 'multipoint' } },
      { type: 'Feature', geometry: null, properties: { name: 'no geometry' } },
      { type: 'Feature', geometry: { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [50, 50] }] }, properties: { name: 'far collection' } },
    ];
    await backend.createProduct('shapes', {});
    await backend.addFeatures('shapes', shapes);
    const { text } = await runExport('shapes', 'shapes.ndjson', {
      geometry: { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]] },
    });
    const names = text
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as Feature).properties?.['name']);
    expect(names).toEqual(['crossing line', 'around', 'multipoint']);
    // Features without id were numbered by their rank in the product.
    expect(text.split('\n').map((line) => (line === '' ? null : (JSON.parse(line) as Feature).id))).toEqual([1, 3, 5, null]);
  });

  it('exports an empty file from an empty product', async () => {
    await backend.createProduct('empty', {});
    const { events, text } = await runExport('empty', 'empty.ndjson', {});
    expect(text).toBe('');
    expect(finalOf(events)).toMatchObject({ size_bytes: 0, sha256: createHash('sha256').digest('hex') });
  });

  it('replaces the file at an existing key', async () => {
    await runExport('grid', 'replaced.ndjson', {});
    const { text } = await runExport('grid', 'replaced.ndjson', { query_limit: 1 });
    expect(text).toBe(expectedText(features.slice(0, 1)));
  });

  it('leaves no temporary file in storage', async () => {
    const { readdir } = await import('node:fs/promises');
    const files = await readdir(join(dataDir, 'storage'), { recursive: true });
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
