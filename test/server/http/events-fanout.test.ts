import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, gridFeatures, logOf, openEvents, startTestServer, waitFor } from './helpers.js';
import type { SseReader, TestServer } from './helpers.js';

/**
 * A buffer limit this small makes a caught-up stream leave its product's shared feed whenever
 * one turn's events fill half of it (512 bytes: a cancel's `cancel_requested` and `failed`,
 * appended in one turn, are about 540), and read on its own from its cursor until it joins
 * again: streams switch between the two on every cancel, while streams opened from recent
 * cursors join a feed that has members.
 */
const SMALL_LIMIT = 1024;

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ concurrency: 1, heartbeatMs: 2000, sseBufferLimit: SMALL_LIMIT });
});

afterAll(async () => {
  await t.dispose();
});

async function product(id: string): Promise<void> {
  expect((await call(t.url, 'POST', '/vector/v2/products', { body: { id } })).status).toBe(201);
  expect((await call(t.url, 'POST', `/vector/v2/products/${id}/features`, { body: gridFeatures(20) })).status).toBe(200);
}

/** Starts an export and cancels it at once: cancelled while queued (or stopped if it got the job slot), it appends three or four events. */
async function startAndCancel(productId: string, i: number): Promise<string> {
  const started = await call<{ export_id: string }>(t.url, 'POST', `/vector/v2/products/${productId}/search/export`, {
    body: { key: `${productId}/${i}.ndjson`, query: {} },
  });
  expect(started.status).toBe(200);
  const exportId = started.body.export_id;
  expect((await call(t.url, 'POST', `/vector/v2/products/${productId}/search/export/${exportId}/cancel`)).status).toBe(202);
  return exportId;
}

/** Appends in bursts of concurrent requests, of these sizes, so that a few or many events land in one event-loop turn. */
async function appendBursts(productId: string, sizes: readonly number[], offset: number): Promise<string[]> {
  const ids: string[] = [];
  for (const size of sizes) {
    ids.push(...(await Promise.all(Array.from({ length: size }, (_, j) => startAndCancel(productId, offset + ids.length + j)))));
  }
  return ids;
}

const BURSTS = [1, 2, 1, 8, 1, 3, 12, 1, 1, 30, 1, 2, 10, 1, 4, 1, 1, 40, 2, 1];

/** Whether every export of `ids` has its final event in the product's log. */
function allFinalInLog(productId: string, ids: readonly string[]): boolean {
  const finals = new Set(
    logOf(t.dataDir, productId)
      .filter(({ event }) => event.type === 'succeeded' || event.type === 'failed')
      .map(({ event }) => event.export_id),
  );
  return ids.every((id) => finals.has(id));
}

/** Each export's seqs in the order they came. */
function seqsByExport(events: readonly { readonly event: { readonly export_id: string; readonly seq: number } }[]): Map<string, number[]> {
  const byExport = new Map<string, number[]>();
  for (const { event } of events) {
    let seqs = byExport.get(event.export_id);
    if (seqs === undefined) byExport.set(event.export_id, (seqs = []));
    seqs.push(event.seq);
  }
  return byExport;
}

describe('fan-out of the Server-Sent Events route: caught-up streams share one read of a product', () => {
  it('loses, repeats and reorders nothing for streams that fall behind and catch up while events are appended', async () => {
    await product('fan');
    await appendBursts('fan', [5, 5], 0);
    const early = logOf(t.dataDir, 'fan');
    const before = { ...t.server.streamStats };

    // From the start and from an early cursor; then, while the bursts land, more from cursors
    // near the log's end, which catch up on their own and join a feed that has members.
    type Subscriber = { readonly reader: SseReader; readonly close: () => Promise<void>; readonly after: string | undefined };
    const subscribers: Subscriber[] = [];
    const subscribe = async (after: string | undefined): Promise<void> => {
      const opened = await openEvents(t.url, 'fan', after === undefined ? {} : { lastEventId: after });
      expect(opened.response.status).toBe(200);
      subscribers.push({ reader: opened.reader!, close: opened.close, after });
    };
    await Promise.all([subscribe(undefined), subscribe(undefined), subscribe(early[3]!.id), subscribe(undefined)]);
    const appending = appendBursts('fan', [...BURSTS, ...BURSTS], 100);
    for (let i = 0; i < 12; i++) {
      const now = logOf(t.dataDir, 'fan');
      await subscribe(now.at(-1 - (i % 4))!.id);
    }
    const exports = await appending;
    await waitFor(() => allFinalInLog('fan', exports), 30_000, 'every export to be final');

    const log = logOf(t.dataDir, 'fan');
    for (const s of subscribers) await s.reader.until((r) => r.messages.at(-1)?.id === log.at(-1)!.id);
    for (const s of subscribers) {
      const expected = s.after === undefined ? log : log.slice(log.findIndex((e) => e.id === s.after) + 1);
      const got = s.reader.events();
      expect(seqsByExport(got)).toEqual(seqsByExport(expected));
      expect(got).toEqual(expected);
    }
    // The switches this test is about happened, and every stream ends in the shared feed: each
    // joined once, and once more after each time it left; none was dropped.
    const stats = (): typeof before => t.server.streamStats;
    await waitFor(() => stats().joins - before.joins === subscribers.length + stats().leaves - before.leaves, 5_000, 'every stream to join the feed');
    expect(stats().leaves - before.leaves).toBeGreaterThan(subscribers.length);
    expect(stats().sharedFeeds).toBe(1);
    expect(stats().sharedReads - before.sharedReads).toBeGreaterThan(0);
    expect(stats().dropped).toBe(before.dropped);
    for (const s of subscribers) await s.close();
    await waitFor(() => t.server.streamStats.open === 0, 5_000, 'the streams to close');
  }, 60_000);

  it('reads each batch of appends once for all the caught-up streams, and stops (no listener, no read) once the last stream closes', async () => {
    const big = await startTestServer({ concurrency: 1, heartbeatMs: 2000 });
    try {
      const url = big.url;
      expect((await call(url, 'POST', '/vector/v2/products', { body: { id: 'quiet' } })).status).toBe(201);
      const readers = await Promise.all(Array.from({ length: 5 }, () => openEvents(url, 'quiet')));
      await waitFor(() => big.server.streamStats.sharedFeeds === 1 && big.server.streamStats.joins === 5, 5_000, 'the streams to join the feed');
      const ownReads = big.server.streamStats.ownReads;
      const startExport = async (key: string): Promise<string> => {
        const answer = await call<{ export_id: string }>(url, 'POST', '/vector/v2/products/quiet/search/export', { body: { key, query: {} } });
        expect(answer.status).toBe(200);
        return answer.body.export_id;
      };
      const first = await startExport('quiet/1.ndjson');
      for (const { reader } of readers) {
        await reader!.until((r) => r.events().some(({ event }) => event.export_id === first && event.type === 'succeeded'));
      }
      const log = logOf(big.dataDir, 'quiet');
      for (const { reader } of readers) expect(reader!.events()).toEqual(log);
      // The five caught-up streams read nothing on their own: the feed read for them, at most once per event.
      expect(big.server.streamStats.ownReads).toBe(ownReads);
      const reads = big.server.streamStats.sharedReads;
      expect(reads).toBeGreaterThan(0);
      expect(reads).toBeLessThanOrEqual(log.length);

      for (const { close } of readers) await close();
      await waitFor(() => big.server.streamStats.open === 0, 5_000, 'the streams to close');
      expect(big.server.streamStats.sharedFeeds).toBe(0);
      // Appends after the last stream closed: the stopped feed no longer listens, so it reads nothing.
      const second = await startExport('quiet/2.ndjson');
      await waitFor(
        () => logOf(big.dataDir, 'quiet').some(({ event }) => event.export_id === second && event.type === 'succeeded'),
        20_000,
        'the second export to succeed',
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(big.server.streamStats.sharedReads).toBe(reads);
      expect(big.server.streamStats.sharedFeeds).toBe(0);
    } finally {
      await big.dispose();
    }
  }, 60_000);
});
