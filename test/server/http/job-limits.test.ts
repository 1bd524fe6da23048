import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotEvent } from '../../../src/core/events.js';
import { startServer } from '../../../src/server/index.js';
import { call, errorDetail, footprint, gridFeatures, startTestServer, waitFor } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
const EXPORTS = '/vector/v2/products/p/search/export';

beforeAll(async () => {
  // The service's default limit is tiny here, so that an export without its own is stopped by it.
  t = await startTestServer({ jobTimeoutMs: 1, maxJobTimeoutMs: 60_000, jobMemoryMb: 256, maxJobMemoryMb: 512 });
  await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
  await call(t.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(200_000, 1000) });
}, 60_000);

afterAll(async () => {
  await t.dispose();
});

async function untilFinal(exportId: string): Promise<SnapshotEvent> {
  let snapshot: SnapshotEvent | undefined;
  await waitFor(async () => {
    snapshot = (await call<{ data: SnapshotEvent }>(t.url, 'GET', `${EXPORTS}/${exportId}/status`)).body.data;
    return snapshot.phase === 'success' || snapshot.phase === 'failure';
  });
  return snapshot!;
}

describe('the service\'s job limits', () => {
  it('stop an export without limits of its own at the service\'s default time limit (issue 13: the default was unlimited)', async () => {
    const answer = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: 'default.ndjson', query: {} } });
    expect((await untilFinal(answer.body.export_id)).attributes).toMatchObject({ failure_type: 'timeout' });
  });

  it('let an export ask for more, within the maximum', async () => {
    const answer = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: 'own.ndjson', query: { query_limit: 10 }, limits: { timeout_ms: 60_000, memory_mb: 512 } } });
    expect((await untilFinal(answer.body.export_id)).phase).toBe('success');
  });

  it.each([
    [{ timeout_ms: 60_001 }, /time limit \(`limits\.timeout_ms`\) to be at most this service's maximum of 60000 ms, got 60001/],
    [{ memory_mb: 513 }, /memory limit \(`limits\.memory_mb`\) to be at most this service's maximum of 512 MiB, got 513/],
  ])('refuse an export asking for more than the maximum (%j) with 400, starting nothing', async (limits, message) => {
    const before = await footprint(t.dataDir);
    const answer = await call(t.url, 'POST', EXPORTS, { body: { key: 'over.ndjson', query: {}, limits } });
    expect(answer.status).toBe(400);
    expect(errorDetail(answer)).toMatch(message);
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('refuse a default above the maximum at start', async () => {
    await expect(startServer({ jobTimeoutMs: 2000, maxJobTimeoutMs: 1000 })).rejects.toThrow(
      /Expected `jobTimeoutMs` \(2000\) to be at most `maxJobTimeoutMs` \(1000\)/,
    );
    await expect(startServer({ jobMemoryMb: 2000, maxJobMemoryMb: 1000 })).rejects.toThrow(/Expected `jobMemoryMb` \(2000\) to be at most `maxJobMemoryMb` \(1000\)/);
    await expect(startServer({ fullStacktraces: 'yes' as unknown as boolean })).rejects.toThrow(/`fullStacktraces` to be a boolean/);
  });
});
