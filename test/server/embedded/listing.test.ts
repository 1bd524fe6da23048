import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportBackend } from '../../../src/client/backend.js';
import { BadRequestError, NotFoundError } from '../../../src/client/http-errors.js';
import type { SnapshotEvent } from '../../../src/core/events.js';
import { createEmbeddedBackend } from '../../../src/server/embedded/create-embedded-backend.js';
import { eventsUntilFinal, gridFeatures } from './helpers.js';

let backend: ExportBackend;
const finished: string[] = [];
let pending: string;

beforeAll(async () => {
  backend = createEmbeddedBackend({ pageSize: 2, concurrency: 1 });
  await backend.createProduct('p', {});
  await backend.addFeatures('p', gridFeatures(100));
  await backend.createProduct('big', {});
  await backend.addFeatures('big', gridFeatures(200_000, 1000));
  await backend.createProduct('other', {});
  for (let i = 0; i < 5; i++) {
    const { exportId } = await backend.startExport('p', { key: `list/${i}.ndjson`, query: { query_limit: i + 1 } });
    await eventsUntilFinal(backend, 'p', exportId);
    finished.push(exportId);
  }
  // Stays queued behind a long job (concurrency 1) while the tests run.
  await backend.startExport('big', { key: 'long.ndjson', query: {} });
  pending = (await backend.startExport('p', { key: 'pending.ndjson', query: {} })).exportId;
}, 60_000);

afterAll(async () => {
  await backend.close();
});

describe('status on the embedded backend', () => {
  it('answers one snapshot per id, in the order asked, with final attributes', async () => {
    const snapshots = await backend.status('p', [finished[1]!, pending, finished[0]!]);
    expect(snapshots.map((s) => s.export_id)).toEqual([finished[1], pending, finished[0]]);
    const [done, waiting] = snapshots as [SnapshotEvent, SnapshotEvent];
    const history = await eventsUntilFinal(backend, 'p', finished[1]!);
    expect(done).toMatchObject({
      type: 'snapshot',
      product_id: 'p',
      seq: history.length,
      phase: 'success',
      progress: 1,
      cancel_requested: false,
      created: history[0]!.time,
      attributes: {
        status: 'SUCCESS',
        created: history[0]!.time,
        failure_type: null,
        exception_name: null,
        stacktrace: null,
        key: 'list/1.ndjson',
        labels: ['p', finished[1], 'export', 'list/1.ndjson'],
      },
    });
    expect(done.attributes?.size_bytes).toBeGreaterThan(0);
    expect(done.attributes?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(done.log).toEqual(history.flatMap((e) => (e.type === 'log' ? [e.line] : [])));
    expect(done.message).toMatch(/^scanned 2 features, matched 2/);
    expect(waiting).toMatchObject({ phase: 'pending', seq: 1, progress: 0, attributes: null, log: [], message: null });
  });

  it('rejects with NotFoundError for an unknown export or one of another product', async () => {
    await expect(backend.status('p', ['nope'])).rejects.toBeInstanceOf(NotFoundError);
    await expect(backend.status('other', [finished[0]!])).rejects.toBeInstanceOf(NotFoundError);
    await expect(backend.status('nope', [finished[0]!])).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('listExports on the embedded backend', () => {
  it('pages through the completed exports in order of creation', async () => {
    const pages: SnapshotEvent[][] = [];
    let token: string | null = null;
    do {
      const page = await backend.listExports('p', token);
      pages.push([...page.data]);
      token = page.continuationToken;
    } while (token !== null);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((s) => s.export_id)).toEqual(finished);
    expect(pages.flat().every((s) => s.phase === 'success' && s.attributes !== null)).toBe(true);
  });

  it('answers an empty last page for a product without completed exports', async () => {
    expect(await backend.listExports('other')).toEqual({ data: [], continuationToken: null });
  });

  it.each(['garbage!', 'YWJj', '', 'x'.repeat(20)])('rejects the token %j with BadRequestError', async (token) => {
    await expect(backend.listExports('p', token)).rejects.toBeInstanceOf(BadRequestError);
  });

  it('rejects with NotFoundError for an unknown product', async () => {
    await expect(backend.listExports('nope')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('startExport idempotency on the embedded backend', () => {
  it('answers the same export for the same idempotency key, starting nothing new', async () => {
    const first = await backend.startExport('p', { key: 'idem.ndjson', query: {} }, { idempotencyKey: 'k1' });
    const again = await backend.startExport('p', { key: 'idem.ndjson', query: {} }, { idempotencyKey: 'k1' });
    const [a, b] = await Promise.all([
      backend.startExport('p', { key: 'idem2.ndjson', query: {} }, { idempotencyKey: 'k2' }),
      backend.startExport('p', { key: 'idem2.ndjson', query: {} }, { idempotencyKey: 'k2' }),
    ]);
    const other = await backend.startExport('other', { key: 'idem.ndjson', query: {} }, { idempotencyKey: 'k1' });
    expect(again.exportId).toBe(first.exportId);
    expect(b.exportId).toBe(a.exportId);
    expect(a.exportId).not.toBe(first.exportId);
    expect(other.exportId).not.toBe(first.exportId);
    const [snapshot] = await backend.status('p', [first.exportId]);
    expect(snapshot?.seq).toBe(1);
    await expect(backend.startExport('p', { key: 'x', query: {} }, { idempotencyKey: '' })).rejects.toBeInstanceOf(BadRequestError);
  });
});
