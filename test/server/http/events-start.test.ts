/**
 * Where an event stream starts and what it says about itself: `X-Heartbeat-Interval`, a bare
 * `id:` with the cursor it starts after, `from=now`; and the in-flight status route that
 * `export-task watch PRODUCT` learns from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotEvent } from '../../../src/core/events.js';
import { readEventStream } from '../../support/event-stream.js';
import { allFinal, call, errorDetail, gridFeatures, logOf, openEvents, slowFeatures, SLOW_QUERY, startTestServer, waitFor } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ concurrency: 1, heartbeatMs: 150 });
});

afterAll(async () => {
  await t.dispose();
});

const eventsUrl = (productId: string, query = ''): string => `${t.url}/vector/v2/products/${productId}/search/export/events${query}`;

async function product(id: string, features: unknown[] = gridFeatures(50)): Promise<void> {
  await call(t.url, 'POST', '/vector/v2/products', { body: { id } });
  await call(t.url, 'POST', `/vector/v2/products/${id}/features`, { body: features });
}

async function startExport(productId: string, body: unknown = { key: `${productId}/${Math.random()}.ndjson`, query: {} }): Promise<string> {
  const answer = await call<{ export_id: string }>(t.url, 'POST', `/vector/v2/products/${productId}/search/export`, { body });
  expect(answer.status).toBe(200);
  return answer.body.export_id;
}

async function finished(productId: string, exportId: string): Promise<void> {
  await waitFor(async () => (await call(t.url, 'GET', `/vector/v2/products/${productId}/search/export/${exportId}`)).status === 200, 20_000, `export ${exportId} to end`);
}

describe('the start of an event stream', () => {
  it('advertises the heartbeat interval, then sends the cursor it starts after as a bare id: line', async () => {
    await product('start');
    const first = await startExport('start');
    await finished('start', first);
    const last = logOf(t.dataDir, 'start').at(-1)!.id;
    const fromStart = await readEventStream(eventsUrl('start'), { withinMs: 300 });
    expect(fromStart.text.startsWith(': connected\n\nid: 0\n\n')).toBe(true);
    const resumed = await readEventStream(eventsUrl('start'), { headers: { 'last-event-id': last }, withinMs: 300 });
    expect(resumed.text.startsWith(`: connected\n\nid: ${last}\n\n`)).toBe(true);
    const { response, close } = await openEvents(t.url, 'start', { query: '?from=now' });
    expect(response.headers.get('x-heartbeat-interval')).toBe('150');
    await close();
  });

  it('?from=now starts at the current end: only what is appended later, and its cursor first', async () => {
    await product('now');
    const old = [await startExport('now'), await startExport('now')];
    for (const id of old) await finished('now', id);
    const end = logOf(t.dataDir, 'now').at(-1)!.id;
    const { reader, close } = await openEvents(t.url, 'now', { query: '?from=now' });
    await reader!.until((r) => r.lastId !== undefined);
    // As an EventSource would: the bare id is its last event id, and nothing was dispatched.
    expect(reader!.lastId).toBe(end);
    expect(reader!.messages).toEqual([]);
    const fresh = await startExport('now');
    await reader!.until((r) => allFinal(r, [fresh]));
    await close();
    const log = logOf(t.dataDir, 'now');
    expect(reader!.events()).toEqual(log.filter((e) => Number(e.id) > Number(end)));
    expect(reader!.events().every((e) => e.event.export_id === fresh)).toBe(true);
  });

  it('a cursor wins over from=now (an EventSource reconnecting keeps its URL), and from takes only "now"', async () => {
    await product('wins');
    const id = await startExport('wins');
    await finished('wins', id);
    const log = logOf(t.dataDir, 'wins');
    const { reader, close } = await openEvents(t.url, 'wins', { query: '?from=now', lastEventId: log[1]!.id });
    await reader!.until((r) => r.messages.length === log.length - 2);
    await close();
    expect(reader!.events()).toEqual(log.slice(2));
    const bad = await openEvents(t.url, 'wins', { query: '?from=start' });
    expect(bad.response.status).toBe(400);
    expect(errorDetail({ status: 400, headers: bad.response.headers, body: await bad.response.json(), text: '' })).toContain('Expected `from` to be "now"');
  });
});

describe('GET .../search/export/status?in_flight=true', () => {
  it("answers a snapshot of each of the product's exports not final, and none of the final ones", async () => {
    await product('flight', slowFeatures(3_000));
    const done = await startExport('flight', { key: 'flight/done.ndjson', query: { query_limit: 1 } });
    await finished('flight', done);
    // With one job at a time: the slow one runs, the next is queued.
    const running = await startExport('flight', { key: 'flight/slow.ndjson', query: SLOW_QUERY });
    const queued = await startExport('flight');
    const answer = await call<{ data: SnapshotEvent[] }>(t.url, 'GET', '/vector/v2/products/flight/search/export/status?in_flight=true');
    expect(answer.status).toBe(200);
    expect(answer.body.data.map((s) => s.export_id)).toEqual([running, queued]);
    for (const snapshot of answer.body.data) {
      expect(snapshot.type).toBe('snapshot');
      expect(['pending', 'running']).toContain(snapshot.phase);
    }
    await call(t.url, 'POST', `/vector/v2/products/flight/search/export/${running}/cancel`);
    for (const id of [running, queued]) await finished('flight', id);
    const after = await call<{ data: SnapshotEvent[] }>(t.url, 'GET', '/vector/v2/products/flight/search/export/status?in_flight=true');
    expect(after.body.data).toEqual([]);
  });

  it('answers 400 without in_flight=true and 404 for an unknown product', async () => {
    const missing = await call(t.url, 'GET', '/vector/v2/products/flight/search/export/status');
    expect(missing.status).toBe(400);
    expect(errorDetail(missing)).toContain('in_flight=true');
    const unknown = await call(t.url, 'GET', '/vector/v2/products/nope/search/export/status?in_flight=true');
    expect(unknown.status).toBe(404);
  });
});
