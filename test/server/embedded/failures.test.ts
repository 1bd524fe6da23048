import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filter, firstValueFrom } from 'rxjs';
import type { ExportBackend } from '../../../src/client/backend.js';
import type { FailedEvent, TaskEvent } from '../../../src/core/events.js';
import { createEmbeddedBackend } from '../../../src/server/embedded/create-embedded-backend.js';
import { eventsUntilFinal, finalOf, gridFeatures, makeTempDir } from './helpers.js';

/** Enough features that scanning them takes well over the tiny limits below. */
const BIG = 200_000;

let backend: ExportBackend;
let dataDir: string;
let removeDir: () => Promise<void>;

beforeAll(async () => {
  ({ dir: dataDir, remove: removeDir } = await makeTempDir());
  backend = createEmbeddedBackend({ dataDir, concurrency: 1 });
  await backend.createProduct('big', {});
  await backend.addFeatures('big', gridFeatures(BIG, 1000));
  await backend.createProduct('medium', {});
  await backend.addFeatures('medium', gridFeatures(20_000, 1000));
  await backend.createProduct('mixed', {});
  await backend.addFeatures('mixed', [
    { type: 'Feature', id: 'a', geometry: null, properties: { height: 3 } },
    { type: 'Feature', id: 'b', geometry: null, properties: { height: 'tall' } },
  ]);
}, 120_000);

afterAll(async () => {
  await backend.close();
  await removeDir();
});

async function storageFiles(): Promise<string[]> {
  return (await readdir(join(dataDir, 'storage'), { recursive: true })).sort();
}

function failed(events: readonly TaskEvent[]): FailedEvent {
  const final = finalOf(events);
  if (final.type !== 'failed') throw new Error(`Expected the export to fail, got ${JSON.stringify(final)}`);
  return final;
}

/** Resolves with the export's `started` event. */
function startedOf(productId: string, exportId: string): Promise<unknown> {
  return firstValueFrom(backend.events(productId).pipe(filter(({ event }) => event.export_id === exportId && event.type === 'started')));
}

describe('export failures on the embedded backend', () => {
  it('fails with "exception" and the error\'s name and stack when the query meets a property of the other type', async () => {
    const { exportId } = await backend.startExport('mixed', { key: 'mixed.ndjson', query: { query_expr: { range: { height: { gt: 1 } } } } });
    const events = await eventsUntilFinal(backend, 'mixed', exportId);
    const final = failed(events);
    expect(final).toMatchObject({
      failure_type: 'exception',
      exception_name: 'QueryTypeError',
      key: 'mixed.ndjson',
      labels: ['mixed', exportId, 'export', 'mixed.ndjson'],
    });
    expect(final.stacktrace).toMatch(/^QueryTypeError: Expected property "height" of feature "b" to be a number/);
    expect(final.runtime).toBeGreaterThanOrEqual(0);
    expect(final.peak_memory_usage).toBeGreaterThan(0);
    expect(events.map((e) => e.type).slice(0, 2)).toEqual(['queued', 'started']);
    expect(await storageFiles()).toEqual([]);
  });

  it('leaves an existing file untouched when a later export to its key fails', async () => {
    const first = await backend.startExport('mixed', { key: 'kept.ndjson', query: { query_expr: { eq: { height: 3 } } } });
    expect(finalOf(await eventsUntilFinal(backend, 'mixed', first.exportId)).type).toBe('succeeded');
    const before = await readFile(join(dataDir, 'storage', 'kept.ndjson'), 'utf8');
    const second = await backend.startExport('mixed', { key: 'kept.ndjson', query: { query_expr: { like: { height: '%' } } } });
    expect(failed(await eventsUntilFinal(backend, 'mixed', second.exportId)).exception_name).toBe('QueryTypeError');
    expect(await readFile(join(dataDir, 'storage', 'kept.ndjson'), 'utf8')).toBe(before);
    expect(await storageFiles()).toEqual(['kept.ndjson']);
  });

  it('fails with "timeout" when the job runs past limits.timeoutMs, and writes nothing', async () => {
    const { exportId } = await backend.startExport('big', { key: 'timeout/out.ndjson', query: {}, limits: { timeoutMs: 20 } });
    const final = failed(await eventsUntilFinal(backend, 'big', exportId));
    expect(final).toMatchObject({ failure_type: 'timeout', exception_name: null, stacktrace: null });
    expect((await storageFiles()).filter((f) => f.startsWith('timeout/') && f !== 'timeout')).toEqual([]);
  });

  it('fails with "timeout" when the job wrote everything but past its limit, while the service thread was too busy to stop it', async () => {
    const { exportId } = await backend.startExport('medium', { key: 'late/out.ndjson', query: {}, limits: { timeoutMs: 1 } });
    const started = firstValueFrom(backend.events('medium').pipe(filter(({ event }) => event.export_id === exportId && event.type === 'started')));
    const events = eventsUntilFinal(backend, 'medium', exportId);
    await started;
    // The service's thread is busy for 3 s, long enough for the job's thread to write the
    // 20,000 features (2.8 MB: well over the 1 ms limit) and tell so before the limit's timer can run.
    const until = performance.now() + 3_000;
    while (performance.now() < until);
    const final = failed(await events);
    expect(final).toMatchObject({ failure_type: 'timeout', exception_name: null, stacktrace: null });
    expect((await storageFiles()).filter((f) => f.startsWith('late/') && f !== 'late')).toEqual([]);
  });

  it('fails with "oom" when the job needs more heap than limits.memoryMb', async () => {
    await backend.createProduct('huge', {});
    // One feature holding a ~100 MB string: reading its line alone outgrows a 16 MiB heap.
    await backend.addFeatures('huge', [{ type: 'Feature', geometry: null, properties: { blob: 'x'.repeat(100_000_000) } }]);
    const { exportId } = await backend.startExport('huge', { key: 'oom.ndjson', query: {}, limits: { memoryMb: 16 } });
    const final = failed(await eventsUntilFinal(backend, 'huge', exportId));
    expect(final).toMatchObject({ failure_type: 'oom', exception_name: null });
    expect(await storageFiles()).not.toContain('oom.ndjson');
    expect((await storageFiles()).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);

  it('cancels a running export: cancel_requested, then failed "cancelled", and no file', async () => {
    const { exportId } = await backend.startExport('big', { key: 'cancel/running.ndjson', query: {} });
    await startedOf('big', exportId);
    const history = eventsUntilFinal(backend, 'big', exportId);
    await backend.cancel('big', exportId);
    const events = await history;
    const types = events.map((e) => e.type);
    expect(types.slice(0, 2)).toEqual(['queued', 'started']);
    expect(types.slice(-2)).toEqual(['cancel_requested', 'failed']);
    expect(failed(events)).toMatchObject({ failure_type: 'cancelled', exception_name: null });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect((await storageFiles()).filter((f) => f.startsWith('cancel/') && f !== 'cancel')).toEqual([]);
    // Cancelling a final export changes nothing.
    await backend.cancel('big', exportId);
    const [snapshot] = await backend.status('big', [exportId]);
    expect(snapshot).toMatchObject({ seq: events.length, phase: 'failure', cancel_requested: true });
  });

  it('cancels a queued export without starting it, and runs the queue in order', async () => {
    const running = await backend.startExport('big', { key: 'queue/first.ndjson', query: {}, limits: { timeoutMs: 60_000 } });
    const queued = await backend.startExport('big', { key: 'queue/second.ndjson', query: {} });
    const third = await backend.startExport('mixed', { key: 'queue/third.ndjson', query: { query_expr: { eq: { height: 3 } } } });
    await backend.cancel('big', queued.exportId);
    const [snapshot] = await backend.status('big', [queued.exportId]);
    expect(snapshot).toMatchObject({ phase: 'failure', seq: 3, attributes: { failure_type: 'cancelled' } });
    const events = await eventsUntilFinal(backend, 'big', queued.exportId);
    expect(events.map((e) => e.type)).toEqual(['queued', 'cancel_requested', 'failed']);
    // With concurrency 1, the third export starts only once the first is over.
    await backend.cancel('big', running.exportId);
    const thirdEvents = await eventsUntilFinal(backend, 'mixed', third.exportId);
    expect(finalOf(thirdEvents).type).toBe('succeeded');
    const firstFinal = finalOf(await eventsUntilFinal(backend, 'big', running.exportId));
    expect(Date.parse(thirdEvents[1]!.time)).toBeGreaterThanOrEqual(Date.parse(firstFinal.time));
  });
});
