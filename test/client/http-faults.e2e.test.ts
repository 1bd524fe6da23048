/**
 * Every wait of the HTTP client ends, against a real service behind a real TCP proxy on
 * 127.0.0.1 that goes silent, refuses, or loses the product: a stream that stops sending is
 * dropped and resumed, requests time out, 401 and 403 end what depend on them, a vanished
 * product or export ends its tasks with ExportLostError, and close() leaves nothing open.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ClientClosedError,
  createClient,
  ExportLostError,
  ForbiddenError,
  RequestTimeoutError,
  UnauthorizedError,
  type ExportClient,
  type ExportTask,
  type ExportTaskSnapshot,
} from '../../src/index.js';
import { startServer, type ExportServer } from '../../src/server/index.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { call, gridFeatures, makeTempDir, slowFeatures, SLOW_QUERY, waitFor } from '../server/http/helpers.js';

/** The service's heartbeat in these tests: a stream is taken for dead after 3 of them, 600 ms. */
const HEARTBEAT_MS = 200;

const isFinal = (task: ExportTask): boolean => task.snapshot.phase === 'success' || task.snapshot.phase === 'failure';

const eventsRequests = (proxy: FaultProxy): number => proxy.requests.filter((r) => r.endsWith('/search/export/events')).length;

/** Resolves with how the promise settled, or 'pending' after `ms`: a bound on a wait without a timeout of its own. */
async function within<T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown } | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the HTTP client when the network or the service fails it', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let server: ExportServer;
  let proxy: FaultProxy;
  let client: ExportClient | undefined;

  beforeAll(async () => {
    temp = await makeTempDir();
    server = await startServer({ host: '127.0.0.1', port: 0, dataDir: temp.dir, concurrency: 2, heartbeatMs: HEARTBEAT_MS });
    proxy = await startFaultProxy(server.url);
    await call(server.url, 'POST', '/vector/v2/products', { body: { id: 'roads' } });
    await call(server.url, 'POST', '/vector/v2/products/roads/features', { body: gridFeatures(500) });
    await call(server.url, 'POST', '/vector/v2/products', { body: { id: 'slow' } });
    await call(server.url, 'POST', '/vector/v2/products/slow/features', { body: slowFeatures(40_000) });
  });

  afterAll(async () => {
    await proxy.close();
    await server.close();
    await temp.remove();
  });

  beforeEach(() => proxy.reset());

  afterEach(async () => {
    await client?.close();
    expect(client?.store.timerArmed ?? false).toBe(false);
    client = undefined;
  });

  async function expectAsOnServer(task: ExportTask): Promise<void> {
    const answer = await call<{ data: { phase: string; seq: number } }>(server.url, 'GET', `/vector/v2/products/${task.snapshot.productId}/search/export/${task.tuid}/status`);
    expect(task.snapshot.phase).toBe(answer.body.data.phase);
    expect(task.snapshot.seq).toBe(answer.body.data.seq);
  }

  it('advertises its heartbeat interval on every events response', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/vector/v2/products/roads/search/export/events?from=now`, { signal: controller.signal });
    expect(response.headers.get('x-heartbeat-interval')).toBe(String(HEARTBEAT_MS));
    controller.abort();
  });

  it('drops a stream that goes silent without closing, resumes it by cursor, and all 20 waits end without a timeout', async () => {
    client = createClient({ url: proxy.url, pollInterval: 100, maxPollInterval: 300 });
    // On the product of slow features, so that one export can outlast the 600 ms it takes to
    // find the stream silent; the 20 others take one feature each and may all end (by polling)
    // before that.
    const fc = client.featureCollection('slow');
    const quick = { query_limit: 1 };
    const warm = await fc.export('stall/warm.ndjson', { query: quick });
    await warm.getResult({ wait: true, timeout: 20_000 });
    expect(eventsRequests(proxy)).toBe(1);
    // The stream stays open and sends nothing more, not even heartbeats.
    proxy.stallOpenStreams();
    const slow = await fc.export('stall/slow.ndjson', { query: SLOW_QUERY });
    const tasks = await Promise.all(Array.from({ length: 20 }, (_, i) => fc.export(`stall/${i}.ndjson`, { query: quick })));
    const outcome = await within(Promise.all(tasks.map((task) => task.getResult({ wait: true }))), 20_000);
    expect(outcome).not.toBe('pending');
    expect((outcome as { error?: unknown }).error).toBeUndefined();
    // It reconnected (the new stream passes), resuming after its cursor.
    await waitFor(() => eventsRequests(proxy) >= 2 || isFinal(slow), 10_000, 'a second events request');
    expect(isFinal(slow)).toBe(false);
    expect(eventsRequests(proxy)).toBe(2);
    expect(await within(slow.getResult({ wait: true }), 20_000)).not.toBe('pending');
    for (const task of [slow, ...tasks]) await expectAsOnServer(task);
  });

  it('while every stream stays silent, polling ends the waits', async () => {
    client = createClient({ url: proxy.url, pollInterval: 100, maxPollInterval: 300 });
    proxy.faults.stallStreams = true;
    const fc = client.featureCollection('roads');
    // One export that runs for seconds (40,000 slow features), longer than a stream takes to be found silent (600 ms),
    // so the client is still following when it gives the first stream up; the 20 others may all
    // end (by polling) before that.
    const slow = await client.featureCollection('slow').export('silent/slow.ndjson', { query: SLOW_QUERY });
    const tasks = await Promise.all(Array.from({ length: 20 }, (_, i) => fc.export(`silent/${i}.ndjson`)));
    const outcome = await within(Promise.all(tasks.map((task) => task.getResult({ wait: true }))), 20_000);
    expect(outcome).not.toBe('pending');
    expect((outcome as { error?: unknown }).error).toBeUndefined();
    expect(proxy.requests.filter((r) => r === 'POST /vector/v2/products/roads/search/export/status').length).toBeGreaterThan(0);
    // It kept trying to get a live stream back while an export it follows was not final.
    await waitFor(() => eventsRequests(proxy) >= 2 || isFinal(slow), 10_000, 'a second events request');
    expect(isFinal(slow)).toBe(false);
    expect(eventsRequests(proxy)).toBeGreaterThanOrEqual(2);
    expect(await within(slow.getResult({ wait: true }), 20_000)).not.toBe('pending');
    for (const task of tasks) await expectAsOnServer(task);
    expect(slow.snapshot.phase).toBe('success');
  });

  it('while the events route does not answer at all, the product is polled and the waits end', async () => {
    client = createClient({ url: proxy.url, pollInterval: 100, maxPollInterval: 300 });
    proxy.faults.stallRequests = /\/events$/;
    const fc = client.featureCollection('roads');
    const tasks = await Promise.all(Array.from({ length: 5 }, (_, i) => fc.export(`unanswered/${i}.ndjson`)));
    const outcome = await within(Promise.all(tasks.map((task) => task.getResult({ wait: true }))), 20_000);
    expect(outcome).not.toBe('pending');
    expect((outcome as { error?: unknown }).error).toBeUndefined();
    for (const task of tasks) await expectAsOnServer(task);
  });

  it('a request that gets no answer fails with RequestTimeoutError after requestTimeout, and signals abort requests', async () => {
    client = createClient({ url: proxy.url, requestTimeout: 300, retry: { budgetMs: 0 } });
    proxy.faults.stallRequests = /\/search\/export$/;
    const fc = client.featureCollection('roads');
    const started = Date.now();
    const error = await fc.listExports().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect((error as RequestTimeoutError).code).toBe('EXPORT_TASK_REQUEST_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5_000);
    const reason = new Error('given up by the caller');
    const controller = new AbortController();
    const listing = fc.listExports({ signal: controller.signal });
    const starting = fc.export('never.ndjson', { signal: controller.signal });
    controller.abort(reason);
    await expect(listing).rejects.toBe(reason);
    await expect(starting).rejects.toBe(reason);
    await expect(fc.add(gridFeatures(1), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    proxy.faults.stallRequests = undefined;
    const task = await fc.export('after-timeouts.ndjson');
    await expect(task.refresh({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('retries a request that timed out within its budget', async () => {
    client = createClient({ url: proxy.url, requestTimeout: 200, retry: { budgetMs: 10_000, maxDelayMs: 50 } });
    proxy.faults.stallRequests = /\/search\/export$/;
    const listing = client.featureCollection('roads').listExports();
    await waitFor(() => proxy.requests.filter((r) => r === 'GET /vector/v2/products/roads/search/export').length >= 2, 5_000, 'a second attempt');
    proxy.faults.stallRequests = undefined;
    await expect(listing).resolves.toBeInstanceOf(Array);
  });

  it('an events route answering 403 is asked once, and every wait on the product rejects with ForbiddenError', async () => {
    client = createClient({ url: proxy.url, pollInterval: 50 });
    proxy.faults.status = { match: /\/events$/, code: 403 };
    const fc = client.featureCollection('roads');
    const tasks = await Promise.all([fc.export('forbidden/a.ndjson'), fc.export('forbidden/b.ndjson')]);
    const errors: unknown[] = [];
    tasks[0].state$.subscribe({ error: (e: unknown) => errors.push(e) });
    for (const task of tasks) {
      const outcome = await within(task.getResult({ wait: true }), 5_000);
      expect(outcome).not.toBe('pending');
      expect((outcome as { error?: unknown }).error).toBeInstanceOf(ForbiddenError);
      await expect(task.status).rejects.toBeInstanceOf(ForbiddenError);
    }
    expect(errors[0]).toBeInstanceOf(ForbiddenError);
    // A task of the product followed later ends the same way, without asking again.
    const later = await fc.export('forbidden/c.ndjson');
    await expect(later.getResult({ wait: true, timeout: 5_000 })).rejects.toBeInstanceOf(ForbiddenError);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(eventsRequests(proxy)).toBe(1);
  });

  it('a status route answering 401 while polling ends the waits with UnauthorizedError', async () => {
    client = createClient({ url: proxy.url, transport: 'poll', pollInterval: 50 });
    const task = await client.featureCollection('roads').export('unauthorized.ndjson');
    proxy.faults.status = { match: /\/status$/, code: 401 };
    const outcome = await within(task.getResult({ wait: true }), 5_000);
    expect((outcome as { error?: unknown }).error).toBeInstanceOf(UnauthorizedError);
  });

  it('close() ends the streams and requests in flight: no socket of the client to the service stays open, no timer', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const timersBefore = timers();
    client = createClient({ url: proxy.url, requestTimeout: 60_000, pollInterval: 50 });
    const fc = client.featureCollection('roads');
    const task = await fc.export('close/a.ndjson');
    proxy.faults.stallRequests = /\/search\/export$/;
    const listing = fc.listExports();
    const waiting = task.getResult({ wait: true });
    await waitFor(() => proxy.requests.includes('GET /vector/v2/products/roads/search/export'), 5_000, 'the stalled request');
    const closing = client;
    client = undefined;
    await closing.close();
    await expect(listing).rejects.toBeInstanceOf(ClientClosedError);
    await waiting.catch(() => undefined);
    const port = Number(new URL(proxy.url).port);
    await waitFor(
      () => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().every((h) => !(h as { remotePort?: number }).remotePort || (h as { remotePort?: number }).remotePort !== port),
      5_000,
      'the client sockets to the proxy to close',
    );
    // The proxy sees no request in flight: the stream and the stalled request were cut.
    await waitFor(() => proxy.inFlight() === 0, 5_000, 'the proxy to see every request end');
    // The request timeouts, the stall timer, backoff and polling timers are all gone.
    expect(timers()).toBeLessThanOrEqual(timersBefore);
  });
});

describe('exports the service no longer knows', () => {
  it('a service restarted on an empty data directory on the same port: the followed tasks end with ExportLostError, state$ errors with it', async () => {
    const first = await makeTempDir();
    const second = await makeTempDir();
    let server = await startServer({ host: '127.0.0.1', port: 0, dataDir: first.dir, concurrency: 1, heartbeatMs: HEARTBEAT_MS });
    const port = server.port;
    const client = createClient({ url: server.url, reconnect: { delayMs: 50, maxDelayMs: 200 } });
    try {
      const fc = await client.createFeatureCollection('slow');
      await fc.add(slowFeatures(4_000));
      // One export runs (and the shutdown fails it); the next waits in the queue, not final.
      const running = await fc.export('lost/running.ndjson', { query: SLOW_QUERY });
      const queued = await fc.export('lost/queued.ndjson');
      await waitFor(() => running.snapshot.phase === 'running', 10_000, 'the first export to run');
      let stateError: unknown;
      queued.state$.subscribe({ error: (e: unknown) => (stateError = e) });
      const waiting = queued.getResult({ wait: true });
      await server.close();
      server = await startServer({ host: '127.0.0.1', port, dataDir: second.dir, heartbeatMs: HEARTBEAT_MS });
      const outcome = await within(waiting, 10_000);
      expect(outcome).not.toBe('pending');
      const error = (outcome as { error?: unknown }).error;
      expect(error).toBeInstanceOf(ExportLostError);
      expect((error as ExportLostError).exportId).toBe(queued.tuid);
      // Its events route and its product route answer 404: the product is gone.
      expect((error as ExportLostError).message).toMatch(/Product slow is gone/);
      expect(stateError).toBe(error);
      await expect(queued.status).rejects.toBe(error);
    } finally {
      await client.close();
      await server.close();
      await first.remove();
      await second.remove();
    }
  });

  it('the product is still there but not the export: the reconnection reconciles it as missing', async () => {
    const first = await makeTempDir();
    const second = await makeTempDir();
    // The second service's data: the same product, none of the first one's exports.
    const prepared = await startServer({ host: '127.0.0.1', port: 0, dataDir: second.dir });
    await call(prepared.url, 'POST', '/vector/v2/products', { body: { id: 'slow' } });
    await prepared.close();
    let server = await startServer({ host: '127.0.0.1', port: 0, dataDir: first.dir, concurrency: 1, heartbeatMs: HEARTBEAT_MS });
    const port = server.port;
    const client = createClient({ url: server.url, reconnect: { delayMs: 50, maxDelayMs: 200 } });
    try {
      const fc = await client.createFeatureCollection('slow');
      await fc.add(slowFeatures(4_000));
      const running = await fc.export('missing/running.ndjson', { query: SLOW_QUERY });
      const queued = await fc.export('missing/queued.ndjson');
      await waitFor(() => running.snapshot.phase === 'running', 10_000, 'the first export to run');
      const snapshots: ExportTaskSnapshot[] = [];
      let stateError: unknown;
      queued.state$.subscribe({ next: (s) => snapshots.push(s), error: (e: unknown) => (stateError = e) });
      const waiting = queued.getResult({ wait: true });
      await server.close();
      server = await startServer({ host: '127.0.0.1', port, dataDir: second.dir, heartbeatMs: HEARTBEAT_MS });
      const outcome = await within(waiting, 10_000);
      expect(outcome).not.toBe('pending');
      const error = (outcome as { error?: unknown }).error;
      expect(error).toBeInstanceOf(ExportLostError);
      // The old cursor is refused, the stream starts again at the end, and the status request says `missing`.
      expect((error as ExportLostError).reason).toMatch(/no longer knows it/);
      expect(stateError).toBe(error);
      expect(queued.snapshot.phase).toBe('pending');
    } finally {
      await client.close();
      await server.close();
      await first.remove();
      await second.remove();
    }
  });
});

describe('a server that answers nothing at all', () => {
  let silent: Server;
  let url: string;

  beforeAll(async () => {
    // Accepts connections and requests, and never answers.
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('export() against a server that never answers ends with RequestTimeoutError, not a hang', async () => {
    const client = createClient({ url, requestTimeout: 200, retry: { budgetMs: 0 } });
    try {
      const fc = client.featureCollection('roads');
      const started = Date.now();
      await expect(fc.export('x.ndjson')).rejects.toBeInstanceOf(RequestTimeoutError);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await client.close();
    }
  });
});

describe('the HTTP options of createClient', () => {
  it('sends `headers` and what `onRequest` adds with every request, the token after the hook', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const capture = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: [], meta: { continuation_token: null } }));
    });
    await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
    const hooked: string[] = [];
    const client = createClient({
      url: `http://127.0.0.1:${(capture.address() as AddressInfo).port}`,
      token: 'secret-token',
      headers: { 'x-team': 'roads' },
      onRequest: (request) => {
        hooked.push(`${request.method} ${new URL(request.url).pathname} ${request.headers['authorization'] ?? 'no token'}`);
        request.headers['x-request-id'] = 'r-1';
      },
    });
    try {
      await client.featureCollection('roads').listExports();
      expect(hooked).toEqual(['GET /vector/v2/products/roads/search/export no token']);
      expect(seen[0]).toMatchObject({ 'x-team': 'roads', 'x-request-id': 'r-1', authorization: 'Bearer secret-token' });
    } finally {
      await client.close();
      capture.closeAllConnections();
      await new Promise((resolve) => capture.close(resolve));
    }
  });

  it('refuses bad values at once, saying what was expected', () => {
    const url = 'http://127.0.0.1:9';
    expect(() => createClient({ url, requestTimeout: -1 })).toThrow(/`requestTimeout`/);
    expect(() => createClient({ url, retry: { budgetMs: 'long' as unknown as number } })).toThrow(/`retry.budgetMs`/);
    expect(() => createClient({ url, retry: { tries: 3 } as never })).toThrow(/unknown.*tries|tries/);
    expect(() => createClient({ url, reconnect: { delayMs: 500, maxDelayMs: 100 } })).toThrow(/`reconnect.maxDelayMs` \(100\) to be at least `reconnect.delayMs` \(500\)/);
    expect(() => createClient({ url, stallTimeout: 0 })).toThrow(/`stallTimeout`/);
    expect(() => createClient({ url, headers: { 'x-n': 1 } as never })).toThrow(/`headers` to be an object of header names to string values/);
    expect(() => createClient({ url, onRequest: 'log' as never })).toThrow(/`onRequest` to be a function/);
    expect(() => createClient({ requestTimeout: 1_000 })).toThrow(/`requestTimeout` is for a server over HTTP; give `url` too/);
  });
});

describe('event: reset', () => {
  it('drops the cursor, subscribes again from now, and ends the exports the status reports missing with ExportLostError', async () => {
    // A service playing the protocol's reset (the Redis service sends it when its log vanished).
    const streams: { url: string; lastEventId: string | undefined }[] = [];
    const open = new Set<ServerResponse>();
    const service = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/vector/v2/products/p/search/export') {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ export_id: 'e1' }));
      } else if (path === '/vector/v2/products/p/search/export/events') {
        streams.push({ url: req.url ?? '', lastEventId: req.headers['last-event-id'] as string | undefined });
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-heartbeat-interval': '1000' });
        open.add(res);
        res.on('close', () => open.delete(res));
        if (streams.length === 1) {
          const queued = { type: 'queued', product_id: 'p', export_id: 'e1', seq: 1, time: '2026-01-01T00:00:00Z' };
          res.end(`: connected\n\nid: 5\n\nid: 6\nevent: queued\ndata: ${JSON.stringify(queued)}\n\nevent: reset\ndata: {"reason": "the log was replaced"}\n\n`);
        } else {
          res.write(': connected\n\nid: 0\n\n');
        }
      } else if (req.method === 'POST' && path === '/vector/v2/products/p/search/export/status') {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: [], missing: ['e1'] }));
      } else {
        req.resume();
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ status: '404', title: 'Not Found', detail: 'no such route' }] }));
      }
    });
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    const client = createClient({ url: `http://127.0.0.1:${(service.address() as AddressInfo).port}`, reconnect: { delayMs: 20 } });
    try {
      const task = await client.featureCollection('p').export('k.ndjson');
      const outcome = await within(task.getResult({ wait: true }), 5_000);
      expect((outcome as { error?: unknown }).error).toBeInstanceOf(ExportLostError);
      expect(streams[0]!.url).toContain('from=now');
      // After the reset: from the end again, without the dropped cursor.
      expect(streams[1]).toEqual({ url: '/vector/v2/products/p/search/export/events?from=now', lastEventId: undefined });
    } finally {
      await client.close();
      for (const res of open) res.destroy();
      service.closeAllConnections();
      await new Promise((resolve) => service.close(resolve));
    }
  });
});
