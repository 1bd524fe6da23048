import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../../src/core/events.js';
import { allFinal, call, errorDetail, gridFeatures, logOf, openEvents, startTestServer, waitFor } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ concurrency: 2, heartbeatMs: 100 });
});

afterAll(async () => {
  await t.dispose();
});

async function product(id: string, features = 2000, server: TestServer = t): Promise<void> {
  await call(server.url, 'POST', '/vector/v2/products', { body: { id } });
  if (features > 0) await call(server.url, 'POST', `/vector/v2/products/${id}/features`, { body: gridFeatures(features) });
}

async function startExport(productId: string, body: unknown = { key: `${productId}/${Math.random()}.ndjson`, query: {} }, server: TestServer = t): Promise<string> {
  const answer = await call<{ export_id: string }>(server.url, 'POST', `/vector/v2/products/${productId}/search/export`, { body });
  expect(answer.status).toBe(200);
  return answer.body.export_id;
}

const ids = (events: readonly { readonly id: string }[]): string[] => events.map((e) => e.id);

describe('the Server-Sent Events route of the HTTP server', () => {
  it('streams every event of the product in log order: id the cursor, event the type, data the event on one line', async () => {
    await product('order');
    const { reader, response, close } = await openEvents(t.url, 'order');
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toContain('no-cache');
    const exports = await Promise.all([startExport('order'), startExport('order'), startExport('order', { key: 'order/limited.ndjson', query: { query_limit: 3 } })]);
    await reader!.until((r) => allFinal(r, exports));
    await close();
    const log = logOf(t.dataDir, 'order');
    expect(reader!.events()).toEqual(log);
    for (const message of reader!.messages) {
      expect(message.event).toBe((JSON.parse(message.data) as TaskEvent).type);
      expect(message.data).not.toContain('\n');
    }
    const cursors = ids(log).map(Number);
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    expect(new Set(cursors).size).toBe(cursors.length);
    for (const exportId of exports) {
      const own = log.filter((e) => e.event.export_id === exportId).map((e) => e.event);
      expect(own.map((e) => e.seq)).toEqual(own.map((_, i) => i + 1));
      expect(own[0]!.type).toBe('queued');
      expect(own.at(-1)!.type).toBe('succeeded');
    }
  });

  it('resumes after Last-Event-ID, or ?after=, with no loss and no repeat', async () => {
    await product('resume');
    const first = [await startExport('resume'), await startExport('resume')];
    const a = await openEvents(t.url, 'resume');
    await a.reader!.until((r) => r.messages.length >= 5);
    await a.close();
    const cut = a.reader!.lastId!;
    // Events appended while no one listens.
    const later = await startExport('resume');
    const b = await openEvents(t.url, 'resume', { lastEventId: cut });
    await b.reader!.until((r) => allFinal(r, [...first, later].filter((id) => !a.reader!.events().some((e) => e.event.export_id === id && ['succeeded', 'failed'].includes(e.event.type)))));
    await b.close();
    const log = logOf(t.dataDir, 'resume');
    expect([...ids(a.reader!.events()), ...ids(b.reader!.events())]).toEqual(ids(log));
    expect([...a.reader!.events(), ...b.reader!.events()]).toEqual(log);

    for (const at of [0, 1, 7, log.length - 1, log.length]) {
      const after = at === 0 ? '0' : log[at - 1]!.id;
      const c = await openEvents(t.url, 'resume', { query: `?after=${after}` });
      if (at < log.length) await c.reader!.until((r) => r.messages.length === log.length - at);
      else await c.reader!.until((r) => r.comments.includes('connected'));
      await c.close();
      expect(c.reader!.events()).toEqual(log.slice(at));
    }
    // A reconnecting EventSource keeps its first URL and sends the newer cursor in the header: the header wins.
    const d = await openEvents(t.url, 'resume', { query: '?after=0', lastEventId: log[log.length - 2]!.id });
    await d.reader!.until((r) => r.messages.length === 1);
    await d.close();
    expect(d.reader!.events()).toEqual(log.slice(-1));
  });

  it('narrows the stream to one export with ?export_id=, and resumes it by cursor', async () => {
    await product('narrow');
    const [one, two] = [await startExport('narrow'), await startExport('narrow')];
    const { reader, close } = await openEvents(t.url, 'narrow', { query: `?export_id=${two}` });
    await reader!.until((r) => allFinal(r, [two]));
    await waitFor(async () => (await call(t.url, 'GET', `/vector/v2/products/narrow/search/export/${one}`)).status === 200);
    await close();
    const own = logOf(t.dataDir, 'narrow').filter((e) => e.event.export_id === two);
    expect(reader!.events()).toEqual(own);
    const rest = await openEvents(t.url, 'narrow', { query: `?export_id=${two}`, lastEventId: own[2]!.id });
    await rest.reader!.until((r) => r.messages.length === own.length - 3);
    await rest.close();
    expect(rest.reader!.events()).toEqual(own.slice(3));
  });

  it('sends heartbeat comments while nothing happens', async () => {
    await product('quiet', 0);
    const { reader, close } = await openEvents(t.url, 'quiet');
    const started = Date.now();
    await reader!.until((r) => r.comments.filter((c) => c === 'heartbeat').length >= 3, 5_000);
    await close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(reader!.messages).toEqual([]);
  });

  it('answers 404 or 400 as JSON before any stream for an unknown product or export, or a bad cursor', async () => {
    await product('errors', 10);
    const exportId = await startExport('errors');
    const last = logOf(t.dataDir, 'errors').at(-1)!.id;
    const lastOfAll = String(Math.max(...logOf(t.dataDir, 'order').map((e) => Number(e.id)), Number(last)));
    for (const [productId, options, status, detail] of [
      ['nope', {}, 404, 'No product "nope"'],
      ['errors', { query: '?export_id=nope' }, 404, 'No export "nope"'],
      ['errors', { lastEventId: 'x' }, 400, 'Expected `after` to be a cursor this service gave'],
      ['errors', { lastEventId: '-1' }, 400, 'Expected `after` to be a cursor'],
      ['errors', { lastEventId: String(Number(lastOfAll) + 1000) }, 400, 'Expected `after` to be a cursor'],
      ['errors', { query: '?after=1.5' }, 400, 'Expected `after` to be a cursor'],
      ['errors', { query: '?after=1&after=2' }, 400, 'Expected one `after` query parameter'],
      ['errors', { query: `?export_id=${exportId}&export_id=${exportId}` }, 400, 'Expected one `export_id` query parameter'],
    ] as const) {
      const { response, reader } = await openEvents(t.url, productId, options);
      expect(response.status).toBe(status);
      expect(reader).toBeUndefined();
      expect(errorDetail({ status, headers: response.headers, body: await response.json(), text: '' })).toContain(detail);
    }
  });
});
