import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, NotFoundError, type ClientOptions, type ExportClient, type Feature, type FeatureCollection } from '../../src/index.js';

const KINDS = ['highway', 'primary', 'residential', 'track'] as const;

function road(i: number): Feature {
  const x = -122.5 + (i % 100) * 0.01;
  const y = 37.5 + Math.floor(i / 100) * 0.01;
  return {
    type: 'Feature',
    id: `road-${i}`,
    geometry: { type: 'Point', coordinates: [x, y] },
    properties: { name: `Road ${i}`, kind: KINDS[i % 4], lanes: 1 + (i % 6), speed_kmh: 20 + (i % 11) * 10 },
  };
}

async function lines(dir: string, task: { getFile(target: string): Promise<void> }): Promise<Feature[]> {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.ndjson`);
  await task.getFile(path);
  const text = await readFile(path, 'utf8');
  return text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as Feature);
}

/** Where a scenario runs: a data directory and a way to make clients of one service on it. */
export interface ScenarioTarget {
  readonly dataDir: string;
  /** A client of the service (the scenarios close it). */
  client(options?: Pick<ClientOptions, 'waitTimeout'>): ExportClient;
  /** Stops the service. */
  close(): Promise<void>;
}

/**
 * The end-to-end scenarios every way of reaching the service must pass: success with queries,
 * each failure type, cancel, listExports, bad input. `start` makes a service on a new dataDir.
 */
export function exportScenarios(name: string, start: (dataDir: string) => Promise<ScenarioTarget>): void {
describe(name, () => {
  let target: ScenarioTarget;
  let client: ExportClient;
  let fc: FeatureCollection;
  let dataDir: string;
  let downloads: string;
  const N = 2_000;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'export-task-e2e-'));
    downloads = await mkdtemp(join(tmpdir(), 'export-task-dl-'));
    target = await start(dataDir);
    client = target.client();
    fc = await client.createFeatureCollection('roads', { title: 'Roads' });
    await fc.add(Array.from({ length: N }, (_, i) => road(i)));
  });

  afterAll(async () => {
    await client.close();
    expect(client.store.pendingWaits).toBe(0);
    expect(client.store.timerArmed).toBe(false);
    await target.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(downloads, { recursive: true, force: true });
  });

  it('exports the whole product and the file matches the reported size and hash', async () => {
    const task = await fc.export('all/roads.ndjson');
    await task.getResult({ wait: true, timeout: 60_000 });
    await expect(task.status).resolves.toBe('SUCCESS');
    const snapshot = task.snapshot;
    expect(snapshot.phase).toBe('success');
    expect(snapshot.progress).toBe(1);
    expect(snapshot.attributes?.labels?.[3]).toBe('all/roads.ndjson');
    expect(snapshot.attributes?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await task.runtime).toBeGreaterThanOrEqual(0);
    expect(await task.peakMemoryUsage).toBeGreaterThan(0);
    expect(await task.log).toMatch(/\S/);
    const features = await lines(downloads, task);
    expect(features).toHaveLength(N);
    expect(features[0]).toEqual(road(0));
  });

  it('exports only what the query selects', async () => {
    const task = await fc.export('q/highways.ndjson', {
      query: { query_expr: { and: [{ eq: { kind: 'highway' } }, { range: { lanes: { gte: 3 } } }] }, query_limit: 50 },
    });
    await task.getResult({ wait: true, timeout: 60_000 });
    const features = await lines(downloads, task);
    expect(features).toHaveLength(50);
    for (const f of features) {
      expect(f.properties?.['kind']).toBe('highway');
      expect(f.properties?.['lanes']).toBeGreaterThanOrEqual(3);
    }
  });

  it('exports the features that intersect a geometry', async () => {
    const task = await fc.export('q/box.ndjson', {
      query: {
        geometry: {
          type: 'Polygon',
          coordinates: [
            [
              [-122.505, 37.495],
              [-122.455, 37.495],
              [-122.455, 37.525],
              [-122.505, 37.525],
              [-122.505, 37.495],
            ],
          ],
        },
      },
    });
    await task.getResult({ wait: true, timeout: 60_000 });
    const ids = (await lines(downloads, task)).map((f) => f.id).sort();
    const expected = Array.from({ length: N }, (_, i) => road(i))
      .filter((f) => {
        const [x, y] = (f.geometry as unknown as { coordinates: [number, number] }).coordinates;
        return x >= -122.505 && x <= -122.455 && y >= 37.495 && y <= 37.525;
      })
      .map((f) => f.id)
      .sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(ids).toEqual(expected);
  });

  it('fails with failure_type exception, the exception name and its stack when the job throws', async () => {
    const task = await fc.export('q/bad.ndjson', { query: { query_expr: { range: { name: { gt: 5 } } } } });
    await task.getResult({ wait: true, timeout: 60_000 });
    await expect(task.status).resolves.toBe('FAILURE');
    await expect(task.failureType).resolves.toBe('exception');
    await expect(task.exceptionName).resolves.toBe('QueryTypeError');
    await expect(task.stacktrace).resolves.toMatch(/QueryTypeError/);
    await expect(task.getFile(join(downloads, 'none'))).rejects.toThrow(/failed \(exception: QueryTypeError\)/);
  });

  it('fails with failure_type timeout past its time limit', async () => {
    const big = await client.createFeatureCollection('big');
    await big.add(Array.from({ length: 200_000 }, (_, i) => road(i)));
    const task = await big.export('slow.ndjson', { limits: { timeoutMs: 50 } });
    await task.getResult({ wait: true, timeout: 60_000 });
    await expect(task.failureType).resolves.toBe('timeout');
    expect(await readdir(join(dataDir, 'storage')).catch(() => [])).not.toContain('slow.ndjson');
  });

  it('fails with failure_type cancelled when cancelled while running', async () => {
    const big = client.featureCollection('big');
    const task = await big.export('cancelled.ndjson');
    await new Promise<void>((resolve) => {
      const s = task.state$.subscribe((snap) => {
        if (snap.phase === 'running') {
          s.unsubscribe();
          resolve();
        }
      });
    });
    await task.cancel();
    await task.getResult({ wait: true, timeout: 60_000 });
    await expect(task.failureType).resolves.toBe('cancelled');
    expect(task.snapshot.cancelRequested).toBe(true);
  });

  it('fails with failure_type oom past its memory limit', async () => {
    const heavy = await client.createFeatureCollection('heavy');
    await heavy.add([
      { type: 'Feature', geometry: null, properties: { blob: 'x'.repeat(40 * 1024 * 1024) } },
    ]);
    const task = await heavy.export('heavy.ndjson', { limits: { memoryMb: 16 } });
    await task.getResult({ wait: true, timeout: 60_000 });
    await expect(task.failureType).resolves.toBe('oom');
  });

  it('lists every completed export, with its key, from a second client', async () => {
    const other = target.client();
    try {
      const listed = await other.featureCollection('roads').listExports();
      const keys = listed.map((t) => t.key).sort();
      expect(keys).toEqual(['all/roads.ndjson', 'q/bad.ndjson', 'q/box.ndjson', 'q/highways.ndjson']);
      for (const task of listed) {
        expect(task.ready).toBe(true);
        // The first client may have let its own tasks go (none of them is held any more): it asks again.
        const original = await client.featureCollection('roads').getExport(task.tuid);
        expect(task.snapshot.attributes).toEqual(original.snapshot.attributes);
      }
    } finally {
      await other.close();
    }
  });

  it('rejects unknown products and unsafe keys with clear errors and writes nothing', async () => {
    const before = await readdir(dataDir, { recursive: true });
    await expect(client.featureCollection('nope').export('x.ndjson')).rejects.toThrow(NotFoundError);
    await expect(fc.export('a\\b.ndjson')).rejects.toThrow(TypeError);
    await expect(fc.export('a/../../b.ndjson')).rejects.toThrow(TypeError);
    await expect(fc.export('x.ndjson', { query: { query_expr: { eq: 5 } } as never })).rejects.toThrow(BadRequestError);
    await expect(fc.add([{ type: 'Feature', geometry: { type: 'Point', coordinates: ['x'] }, properties: {} } as never])).rejects.toThrow(
      BadRequestError,
    );
    expect(await readdir(dataDir, { recursive: true })).toEqual(before);
  });
});
}
