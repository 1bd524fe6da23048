import { Agent, request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../../src/core/events.js';
import { call, logOf, openEvents, slowFeatures, SLOW_QUERY, startTestServer, waitFor } from './helpers.js';
import type { TestServer } from './helpers.js';

const LIMIT = 64 * 1024;
/** Enough events (about 9 MB) to fill any loopback connection's socket buffers (about 4 MB on Linux) twice over. */
const MAX_EXPORTS = 4000;

let s: TestServer;
let blocker: string;

/** Keeps connections open between the flood's requests: cheaper than fetch for thousands of small requests. */
const agent = new Agent({ keepAlive: true, maxSockets: 50 });

/** A POST with node:http over {@link agent}; answers the status and the JSON body. */
function post<T>(path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const url = new URL(s.url);
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        headers: data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as T }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function startExport(productId: string, body: unknown): Promise<string> {
  const answer = await post<{ export_id: string }>(`/vector/v2/products/${productId}/search/export`, body);
  expect(answer.status).toBe(200);
  return answer.body.export_id;
}

/**
 * Appends about 2.3 KB of events per export: `queued`, `cancel_requested`, and a `failed`
 * event naming a long key twice (in `key` and `labels`). The exports stay queued behind the
 * blocker until cancelled, so no job runs.
 */
async function flood(count: number): Promise<void> {
  const segment = 'abcdefghij'.repeat(20);
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async (_, j) => {
        const exportId = await startExport('flood', { key: `${segment}/${segment}/${segment}/${segment}/${i + j}.ndjson`, query: {} });
        expect((await post(`/vector/v2/products/flood/search/export/${exportId}/cancel`)).status).toBe(202);
      }),
    );
  }
}

beforeAll(async () => {
  // A client is dropped after a heartbeat interval without taking its bytes: long enough that a
  // busy test machine never stalls the steady reader below that long.
  s = await startTestServer({ concurrency: 1, sseBufferLimit: LIMIT, heartbeatMs: 2000 });
  await call(s.url, 'POST', '/vector/v2/products', { body: { id: 'slow' } });
  await call(s.url, 'POST', '/vector/v2/products/slow/features', { body: slowFeatures(100_000) });
  // A slow export holds the only job slot while the flood is made.
  blocker = await startExport('slow', { key: 'blocker.ndjson', query: SLOW_QUERY });
  await call(s.url, 'POST', '/vector/v2/products', { body: { id: 'flood' } });
}, 60_000);

afterAll(async () => {
  await call(s.url, 'POST', `/vector/v2/products/slow/search/export/${blocker}/cancel`);
  agent.destroy();
  await s.dispose();
});

/** The product's event stream read with node:http, and paused at once: a client that stops reading. */
function openPaused(lastEventId?: string): Promise<{ readonly res: IncomingMessage; readonly drain: () => Promise<string> }> {
  const url = new URL(s.url);
  const headers = lastEventId === undefined ? {} : { 'last-event-id': lastEventId };
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/vector/v2/products/flood/search/export/events', headers }, (res) => {
      res.pause();
      resolve({
        res,
        // Reads what reached this side, until the connection is gone.
        drain: () =>
          new Promise((done) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('error', () => undefined);
            res.once('close', () => done(text));
            res.resume();
          }),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The complete messages of a cut stream (a frame cut in the middle is left out). */
function parse(text: string): { id: string; event: TaskEvent }[] {
  const events: { id: string; event: TaskEvent }[] = [];
  for (const frame of text.split('\n\n').slice(0, -1)) {
    const id = /^id: (.*)$/m.exec(frame)?.[1];
    const data = /^data: (.*)$/m.exec(frame)?.[1];
    if (id !== undefined && data !== undefined) events.push({ id, event: JSON.parse(data) as TaskEvent });
  }
  return events;
}

/** Resumes after the last of `got` and reads to the end of the log: together they must be the log, nothing lost or repeated. */
async function resumeAndCheck(got: readonly { id: string; event: TaskEvent }[]): Promise<void> {
  const log = logOf(s.dataDir, 'flood');
  const rest = await openEvents(s.url, 'flood', got.length === 0 ? {} : { lastEventId: got.at(-1)!.id });
  await rest.reader!.until((r) => r.lastId === log.at(-1)!.id);
  await rest.close();
  expect([...got, ...rest.reader!.events()]).toEqual(log);
}

describe('backpressure on the Server-Sent Events route', () => {
  it('drops a client that stops reading while events pour in, keeping what waits for it under the limit; it resumes by cursor', async () => {
    const paused = await openPaused();
    // Events go out until the socket buffers are full, then wait for the client: it is dropped
    // a heartbeat interval later.
    let exports = 0;
    while (s.server.streamStats.dropped === 0 && exports < MAX_EXPORTS) {
      await flood(100);
      exports += 100;
    }
    await waitFor(() => s.server.streamStats.dropped === 1, 5_000, 'the slow client to be dropped');
    expect(s.server.streamStats.peakBuffered).toBeLessThanOrEqual(LIMIT);
    expect(s.server.streamStats.open).toBe(0);

    const log = logOf(s.dataDir, 'flood');
    const got = parse(await paused.drain());
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(log.length);
    expect(got).toEqual(log.slice(0, got.length));
    await resumeAndCheck(got);
  }, 120_000);

  it('drops a client that stops reading a backlog larger than the socket buffers; it resumes by cursor', async () => {
    const log = logOf(s.dataDir, 'flood');
    const paused = await openPaused(log[5]!.id);
    await waitFor(() => s.server.streamStats.dropped === 2, 10_000, 'the slow client to be dropped');
    expect(s.server.streamStats.peakBuffered).toBeLessThanOrEqual(LIMIT);
    const got = parse(await paused.drain());
    expect(got).toEqual(log.slice(6, 6 + got.length));
    expect(got.length).toBeLessThan(log.length - 6);
    await resumeAndCheck([...log.slice(0, 6), ...got]);
  });

  it('keeps a client that reads slowly but steadily through the whole backlog', async () => {
    const log = logOf(s.dataDir, 'flood');
    const droppedBefore = s.server.streamStats.dropped;
    const response = await fetch(`${s.url}/vector/v2/products/flood/search/export/events`);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const lastFrame = `id: ${log.at(-1)!.id}\n`;
    let text = '';
    let reads = 0;
    while (!text.slice(-16_384).includes(lastFrame) || !text.endsWith('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      // A pause now and then: slower than the server writes, never stalled for a heartbeat.
      if (++reads % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await reader.cancel();
    expect(s.server.streamStats.dropped).toBe(droppedBefore);
    expect(parse(text)).toEqual(log);
  });
});
