import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotEvent } from '../../../src/core/events.js';
import { call, countRows, errorDetail, footprint, gridFeatures, slowFeatures, SLOW_QUERY, startTestServer, waitFor } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
const EXPORTS = '/vector/v2/products/p/search/export';

beforeAll(async () => {
  t = await startTestServer({ concurrency: 1, pageSize: 2 });
  await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
  await call(t.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(50) });
  await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'slow' } });
  await call(t.url, 'POST', '/vector/v2/products/slow/features', { body: slowFeatures(20_000) });
  await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'other' } });
});

afterAll(async () => {
  await t.dispose();
});

async function startExport(body: unknown, headers: Record<string, string> = {}, productId = 'p'): Promise<string> {
  const answer = await call<{ export_id: string }>(t.url, 'POST', `/vector/v2/products/${productId}/search/export`, { body, headers });
  expect(answer.status).toBe(200);
  expect(Object.keys(answer.body)).toEqual(['export_id']);
  return answer.body.export_id;
}

async function statusOf(exportId: string, productId = 'p'): Promise<SnapshotEvent> {
  const answer = await call<{ data: SnapshotEvent }>(t.url, 'GET', `/vector/v2/products/${productId}/search/export/${exportId}/status`);
  expect(answer.status).toBe(200);
  return answer.body.data;
}

async function untilFinal(exportId: string, productId = 'p'): Promise<SnapshotEvent> {
  let snapshot: SnapshotEvent | undefined;
  await waitFor(async () => {
    snapshot = await statusOf(exportId, productId);
    return snapshot.phase === 'success' || snapshot.phase === 'failure';
  });
  return snapshot!;
}

describe('the export routes of the HTTP server', () => {
  it('starts an export, answers 404 from the result route until it is final, then its DL resource', async () => {
    // With one job at a time, an export behind a slow one stays pending as long as needed.
    const blocker = await startExport({ key: 'blocker.ndjson', query: SLOW_QUERY }, {}, 'slow');
    const exportId = await startExport({ key: 'out/a.ndjson', query: { query_expr: { eq: { kind: 'odd' } }, query_limit: 10 } });
    const pending = await call(t.url, 'GET', `${EXPORTS}/${exportId}`);
    expect(pending.status).toBe(404);
    expect(errorDetail(pending)).toContain('is pending: its result is not ready yet');
    expect(await statusOf(exportId)).toMatchObject({ phase: 'pending', seq: 1, attributes: null, progress: 0 });
    await call(t.url, 'POST', `/vector/v2/products/slow/search/export/${blocker}/cancel`);
    const final = await untilFinal(exportId);
    expect(final).toMatchObject({ type: 'snapshot', product_id: 'p', export_id: exportId, phase: 'success', progress: 1, cancel_requested: false });
    expect(final.log![0]).toBe('scanned 20 features, matched 10 (query_limit 10 reached)');
    expect(final.log![1]).toMatch(/^wrote out\/a\.ndjson \(\d+ bytes\)$/);
    const result = await call(t.url, 'GET', `${EXPORTS}/${exportId}`);
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      data: {
        id: exportId,
        type: 'export',
        attributes: {
          created: final.created,
          status: 'SUCCESS',
          failure_type: null,
          exception_name: null,
          stacktrace: null,
          peak_memory_usage: final.attributes!.peak_memory_usage,
          runtime: final.attributes!.runtime,
          labels: ['p', exportId, 'export', 'out/a.ndjson'],
          key: 'out/a.ndjson',
          size_bytes: final.attributes!.size_bytes,
          sha256: final.attributes!.sha256,
          log_size_bytes: Buffer.byteLength(final.log!.join('\n')),
          result_key: `p/${exportId}`,
        },
      },
    });
    expect(final.attributes!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers the same export for the same Idempotency-Key, and another for another key or product', async () => {
    const rowsBefore = countRows(t.dataDir);
    const body = { key: 'idem.ndjson', query: {} };
    const first = await startExport(body, { 'idempotency-key': 'key-1' });
    const again = await Promise.all([1, 2, 3].map(() => startExport(body, { 'idempotency-key': 'key-1' })));
    expect(again).toEqual([first, first, first]);
    // The key names the export, whatever the body says the second time.
    expect(await startExport({ key: 'other.ndjson', query: {} }, { 'idempotency-key': 'key-1' })).toBe(first);
    const second = await startExport(body, { 'idempotency-key': 'key-2' });
    const elsewhere = await startExport(body, { 'idempotency-key': 'key-1' }, 'other');
    expect(new Set([first, second, elsewhere]).size).toBe(3);
    const rows = countRows(t.dataDir);
    expect(rows.exports - rowsBefore.exports).toBe(3);
    expect(rows.idempotency_keys - rowsBefore.idempotency_keys).toBe(3);
    await Promise.all([untilFinal(first), untilFinal(second), untilFinal(elsewhere, 'other')]);
  });

  it.each<[string, unknown, Record<string, string>, string]>([
    ['no body', undefined, {}, 'Expected the export request to be a JSON object, got no body'],
    ['an unsafe key', { key: '../escape.ndjson', query: {} }, {}, 'a ".." segment'],
    ['an absolute key', { key: '/etc/x', query: {} }, {}, 'absolute path'],
    ['no query', { key: 'k.ndjson' }, {}, 'query'],
    ['a bad query_expr', { key: 'k.ndjson', query: { query_expr: { near: { a: 1 } } } }, {}, 'query.query_expr'],
    ['an unknown member', { key: 'k.ndjson', query: {}, priority: 1 }, {}, 'got an unknown `priority`'],
    ['camelCase limits', { key: 'k.ndjson', query: {}, limits: { timeoutMs: 5 } }, {}, 'got an unknown `timeoutMs`'],
    ['a negative time limit', { key: 'k.ndjson', query: {}, limits: { timeout_ms: -1 } }, {}, 'Expected `limits.timeout_ms` to be a positive number'],
    ['an empty Idempotency-Key', { key: 'k.ndjson', query: {} }, { 'idempotency-key': '' }, 'Expected the Idempotency-Key header'],
    ['a long Idempotency-Key', { key: 'k.ndjson', query: {} }, { 'idempotency-key': 'k'.repeat(256) }, 'Expected the Idempotency-Key header'],
  ])('refuses an export with %s (400), writing nothing', async (_what, body, headers, detail) => {
    const before = await footprint(t.dataDir);
    const answer = await call(t.url, 'POST', EXPORTS, { ...(body === undefined ? {} : { body }), headers });
    expect(answer.status).toBe(400);
    expect(errorDetail(answer)).toContain(detail);
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('answers 404 for an unknown product or export on every export route, writing nothing', async () => {
    const before = await footprint(t.dataDir);
    const known = await call<{ data: { id: string }[] }>(t.url, 'GET', EXPORTS);
    const someExport = known.body.data[0]!.id;
    for (const [method, path, body] of [
      ['POST', '/vector/v2/products/nope/search/export', { key: 'x.ndjson', query: {} }],
      ['GET', '/vector/v2/products/nope/search/export', undefined],
      ['GET', `/vector/v2/products/nope/search/export/${someExport}`, undefined],
      ['GET', `/vector/v2/products/nope/search/export/${someExport}/status`, undefined],
      ['POST', '/vector/v2/products/nope/search/export/status', { export_ids: [someExport] }],
      ['POST', `/vector/v2/products/nope/search/export/${someExport}/cancel`, undefined],
      ['GET', `${EXPORTS}/nope`, undefined],
      ['GET', `${EXPORTS}/nope/status`, undefined],
      ['POST', `${EXPORTS}/nope/cancel`, undefined],
      // An export of another product is unknown here.
      ['GET', `/vector/v2/products/other/search/export/${someExport}/status`, undefined],
    ] as const) {
      const answer = await call(t.url, method, path, body === undefined ? {} : { body });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(errorDetail(answer)).toMatch(/^No (product|export) /);
    }
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('answers many statuses in one request, in the order asked, with the ids it does not know', async () => {
    const a = await startExport({ key: 'batch/a.ndjson', query: {} });
    const b = await startExport({ key: 'batch/b.ndjson', query: { query_limit: 1 } });
    const answer = await call<{ data: SnapshotEvent[]; missing: string[] }>(t.url, 'POST', `${EXPORTS}/status`, {
      body: { export_ids: [b, 'ghost', a, b] },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.data.map((s) => s.export_id)).toEqual([b, a, b]);
    expect(answer.body.missing).toEqual(['ghost']);
    for (const snapshot of answer.body.data) {
      expect(Object.keys(snapshot).sort()).toEqual(
        ['type', 'product_id', 'export_id', 'seq', 'time', 'phase', 'progress', 'attributes', 'log', 'message', 'cancel_requested', 'created'].sort(),
      );
    }
    const empty = await call(t.url, 'POST', `${EXPORTS}/status`, { body: { export_ids: [] } });
    expect(empty.body).toEqual({ data: [], missing: [] });
    await Promise.all([untilFinal(a), untilFinal(b)]);
  });

  it.each<[string, unknown, string]>([
    ['more than 10,000 ids', { export_ids: Array.from({ length: 10_001 }, (_, i) => `id-${i}`) }, 'at most 10000 export ids in one request, got 10001'],
    ['ids that are not an array', { export_ids: 'a,b' }, 'Expected `export_ids` to be an array'],
    ['an id that is not a string', { export_ids: ['a', 5] }, 'Expected `export_ids[1]` to be an export id'],
    ['an unknown member', { export_ids: [], all: true }, 'got an unknown `all`'],
  ])('refuses a batch status request with %s (400)', async (_what, body, detail) => {
    const answer = await call(t.url, 'POST', `${EXPORTS}/status`, { body });
    expect(answer.status).toBe(400);
    expect(errorDetail(answer)).toContain(detail);
  });

  it('lists completed exports a page at a time with continuation tokens, in creation order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await startExport({ key: `list/${i}.ndjson`, query: { query_limit: 1 } }));
    await Promise.all(ids.map((id) => untilFinal(id)));
    const listed: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const path: string = token === null ? EXPORTS : `${EXPORTS}?continuation_token=${encodeURIComponent(token)}`;
      const page = await call<{ data: { id: string; type: string; attributes: Record<string, unknown> }[]; meta: { continuation_token: string | null } }>(
        t.url,
        'GET',
        path,
      );
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      for (const item of page.body.data) expect(item.type).toBe('export');
      listed.push(...page.body.data.map((item) => item.id));
      token = page.body.meta.continuation_token;
      pages++;
    } while (token !== null);
    expect(pages).toBeGreaterThan(1);
    expect(listed.slice(-3)).toEqual(ids);
    expect(new Set(listed).size).toBe(listed.length);
    const bad = await call(t.url, 'GET', `${EXPORTS}?continuation_token=forged`);
    expect(bad.status).toBe(400);
    expect(errorDetail(bad)).toContain('continuationToken');
  });

  it('cancels a running export (202), which then fails "cancelled"; cancelling a final one changes nothing', async () => {
    const exportId = await startExport({ key: 'cancel/slow.ndjson', query: SLOW_QUERY }, {}, 'slow');
    await waitFor(async () => (await statusOf(exportId, 'slow')).phase === 'running');
    const answer = await call(t.url, 'POST', `/vector/v2/products/slow/search/export/${exportId}/cancel`);
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ export_id: exportId, cancel_requested: true });
    const final = await untilFinal(exportId, 'slow');
    expect(final).toMatchObject({ phase: 'failure', cancel_requested: true, attributes: { failure_type: 'cancelled', status: 'FAILURE' } });
    const rows = countRows(t.dataDir);
    const again = await call(t.url, 'POST', `/vector/v2/products/slow/search/export/${exportId}/cancel`);
    expect(again).toMatchObject({ status: 202, body: { export_id: exportId, cancel_requested: true } });
    expect(countRows(t.dataDir)).toEqual(rows);
    const done = await startExport({ key: 'cancel/done.ndjson', query: { query_limit: 1 } });
    await untilFinal(done);
    const late = await call(t.url, 'POST', `${EXPORTS}/${done}/cancel`);
    expect(late).toMatchObject({ status: 202, body: { export_id: done, cancel_requested: false } });
    expect((await statusOf(done)).phase).toBe('success');
  });

  it('cancels a queued export at once: it never starts', async () => {
    const running = await startExport({ key: 'queue/running.ndjson', query: SLOW_QUERY }, {}, 'slow');
    const queued = await startExport({ key: 'queue/queued.ndjson', query: {} }, {}, 'slow');
    const answer = await call(t.url, 'POST', `/vector/v2/products/slow/search/export/${queued}/cancel`);
    expect(answer.status).toBe(202);
    expect(await statusOf(queued, 'slow')).toMatchObject({ phase: 'failure', seq: 3, attributes: { failure_type: 'cancelled' } });
    await call(t.url, 'POST', `/vector/v2/products/slow/search/export/${running}/cancel`);
    await untilFinal(running, 'slow');
  });
});
