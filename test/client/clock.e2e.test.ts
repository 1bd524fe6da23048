/**
 * `createClient({ clock })` over HTTP: every timer of the client runs on the clock it is given,
 * against a real service behind a real TCP proxy on 127.0.0.1. With a `ManualClock`, a request
 * that gets no answer, a stream that goes silent, a reconnect or retry backoff, a poll and a
 * token function that never answers all wait, however long the real time they are given, until
 * the clock is advanced past their delay; then each ends as it would on the system clock.
 *
 * Each test lets real time pass well beyond the delays it configures (tens of ms) before it
 * advances the clock: a timer armed on the globals would have fired by then.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient, RequestTimeoutError, ServerError, TimeoutError, type ExportClient } from '../../src/index.js';
import { TaskStore } from '../../src/core/task-store.js';
import { startServer, type ExportServer } from '../../src/server/index.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { call, gridFeatures, makeTempDir, waitFor } from '../server/http/helpers.js';

/** The real time each test lets pass to show that nothing moves without the clock, ms. */
const REAL_WAIT_MS = 250;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How a promise settled so far: read it at any time without awaiting. */
function track<T>(promise: Promise<T>): { readonly state: () => 'pending' | 'resolved' | 'rejected'; readonly value: () => T | undefined; readonly error: () => unknown } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let value: T | undefined;
  let error: unknown;
  promise.then(
    (v) => ((state = 'resolved'), (value = v)),
    (e: unknown) => ((state = 'rejected'), (error = e)),
  );
  return { state: () => state, value: () => value, error: () => error };
}

/** Advances the clock by `step` until `test` holds, letting real I/O run between steps; answers the clock time it took. */
async function advanceUntil(clock: ManualClock, step: number, test: () => boolean, what: string, maxSteps = 400): Promise<number> {
  const start = clock.now();
  for (let i = 0; !test(); i++) {
    if (i >= maxSteps) throw new Error(`${what}: not after ${maxSteps} steps of ${step} ms on the clock`);
    await clock.advance(step);
    await sleep(5);
  }
  return clock.now() - start;
}

describe('createClient({ clock }) over HTTP: every timer of the client waits for its clock', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let server: ExportServer;
  let proxy: FaultProxy;
  let client: ExportClient | undefined;
  let clock: ManualClock;

  const seen = (pattern: RegExp): number => proxy.requests.filter((r) => pattern.test(r)).length;
  const EVENTS = /^GET \/vector\/v2\/products\/roads\/search\/export\/events$/;
  const STATUS = /^POST \/vector\/v2\/products\/roads\/search\/export\/status$/;
  const LIST = /^GET \/vector\/v2\/products\/roads\/search\/export$/;

  beforeAll(async () => {
    temp = await makeTempDir();
    server = await startServer({ host: '127.0.0.1', port: 0, dataDir: temp.dir, concurrency: 2, heartbeatMs: 100 });
    proxy = await startFaultProxy(server.url);
    await call(server.url, 'POST', '/vector/v2/products', { body: { id: 'roads' } });
    await call(server.url, 'POST', '/vector/v2/products/roads/features', { body: gridFeatures(50) });
  });

  afterAll(async () => {
    await proxy.close();
    await server.close();
    await temp.remove();
  });

  beforeEach(() => {
    proxy.reset();
    clock = new ManualClock(Date.UTC(2026, 0, 1));
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
    // Every timer the client armed on its clock is cleared by close(), and every connection ends.
    await waitFor(() => clock.pending === 0, 5_000, 'no timer left on the clock');
    await waitFor(() => proxy.inFlight() === 0, 5_000, 'no request left open');
  });

  it('a request without an answer times out when the clock passes requestTimeout, not before', async () => {
    proxy.faults.stallRequests = /^\/vector\/v2\/products$/;
    client = createClient({ url: proxy.url, clock, requestTimeout: 20 });
    const creating = track(client.createFeatureCollection('never-answered'));
    await waitFor(() => seen(/^POST \/vector\/v2\/products$/) === 1, 5_000, 'the request at the proxy');
    await sleep(REAL_WAIT_MS);
    expect(creating.state()).toBe('pending');
    await clock.advance(19);
    await sleep(20);
    expect(creating.state()).toBe('pending');
    await clock.advance(1);
    await waitFor(() => creating.state() !== 'pending', 5_000, 'the request to end');
    expect(creating.error()).toBeInstanceOf(RequestTimeoutError);
    expect((creating.error() as RequestTimeoutError).message).toMatch(/POST \/vector\/v2\/products: no answer within 20 ms/);
    // Not retried: creating a product is not idempotent.
    expect(seen(/^POST \/vector\/v2\/products$/)).toBe(1);
  });

  it('a stream that goes silent is dropped when the clock passes stallTimeout, then reconnects after its delay on the clock', async () => {
    client = createClient({ url: proxy.url, clock, stallTimeout: 300, reconnect: { delayMs: 50, maxDelayMs: 50 }, pollInterval: 600_000 });
    const task = await client.featureCollection('roads').export('clock/stall.ndjson');
    // Ends over the stream, with the clock standing still: the events need no timer.
    const result = track(task.getResult({ wait: true }));
    await waitFor(() => result.state() !== 'pending', 20_000, 'the export to end over the stream');
    expect(result.state()).toBe('resolved');
    expect(seen(EVENTS)).toBe(1);
    proxy.stallOpenStreams();
    // Well past 300 ms (and the service's 100 ms heartbeats stopped): the stream is kept.
    await sleep(REAL_WAIT_MS * 2);
    expect(seen(EVENTS)).toBe(1);
    await clock.advance(299);
    await sleep(20);
    expect(seen(EVENTS)).toBe(1);
    // The silence reaches 300 ms on the clock: dropped, and reconnected within a reconnect delay.
    await clock.advance(1);
    const took = await advanceUntil(clock, 10, () => seen(EVENTS) === 2, 'a second events request');
    expect(took).toBeLessThanOrEqual(60);
    expect(seen(EVENTS)).toBe(2);
  });

  it('a stream refused with 503 reconnects after its backoff on the clock, and the export ends over the new stream', async () => {
    proxy.faults.match = /\/events$/;
    proxy.faults.serviceUnavailable = 1;
    client = createClient({ url: proxy.url, clock, reconnect: { delayMs: 20, maxDelayMs: 20 }, pollInterval: 600_000 });
    const task = await client.featureCollection('roads').export('clock/reconnect.ndjson');
    await waitFor(() => seen(EVENTS) === 1, 5_000, 'the first events request');
    await sleep(REAL_WAIT_MS);
    expect(seen(EVENTS)).toBe(1);
    expect(proxy.faults.serviceUnavailable).toBe(0);
    const took = await advanceUntil(clock, 5, () => seen(EVENTS) === 2, 'the reconnect');
    expect(took).toBeLessThanOrEqual(25);
    const result = track(task.getResult({ wait: true }));
    await waitFor(() => result.state() !== 'pending', 20_000, 'the export to end over the new stream');
    expect(result.state()).toBe('resolved');
    expect(task.snapshot.phase).toBe('success');
  });

  it('an idempotent request retries after its backoff on the clock, and its retry budget is counted on the clock', async () => {
    proxy.faults.match = /\/search\/export$/;
    proxy.faults.serviceUnavailable = 1;
    client = createClient({ url: proxy.url, clock, retry: { maxDelayMs: 20 } });
    const fc = client.featureCollection('roads');
    const listing = track(fc.listExports());
    await waitFor(() => seen(LIST) === 1, 5_000, 'the first attempt');
    await sleep(REAL_WAIT_MS);
    expect(seen(LIST)).toBe(1);
    expect(listing.state()).toBe('pending');
    await advanceUntil(clock, 5, () => listing.state() !== 'pending', 'the retried listing');
    expect(listing.state()).toBe('resolved');
    expect(seen(LIST)).toBe(2);

    // Always 503, with a budget of a minute: it keeps retrying while the clock stands within
    // the minute (one attempt per step at most: a step fires the backoff, the 503 comes back
    // over the network after it), and gives up at the first failure past it.
    proxy.requests.length = 0;
    proxy.faults.serviceUnavailable = 1_000;
    const budgeted = createClient({ url: proxy.url, clock, requestTimeout: 600_000, retry: { budgetMs: 60_000, maxDelayMs: 20 } });
    try {
      const failing = track(budgeted.featureCollection('roads').listExports());
      await waitFor(() => seen(LIST) === 1, 5_000, 'the first attempt');
      const took = await advanceUntil(clock, 5_000, () => failing.state() !== 'pending', 'the request to give up', 40);
      expect(failing.error()).toBeInstanceOf(ServerError);
      expect((failing.error() as ServerError).status).toBe(503);
      expect(took).toBeGreaterThanOrEqual(60_000);
      expect(seen(LIST)).toBeGreaterThanOrEqual(2);
      expect(seen(LIST)).toBeLessThanOrEqual(1 + took / 5_000);
    } finally {
      await budgeted.close();
    }
  });

  it('polls only when the clock passes the poll interval, and the export ends by polling', async () => {
    client = createClient({ url: proxy.url, clock, transport: 'poll', pollInterval: 20, maxPollInterval: 20 });
    const task = await client.featureCollection('roads').export('clock/poll.ndjson');
    const result = track(task.getResult({ wait: true }));
    await sleep(REAL_WAIT_MS);
    const before = seen(STATUS);
    await sleep(REAL_WAIT_MS);
    expect(seen(STATUS)).toBe(before);
    expect(result.state()).toBe('pending');
    // One poll per interval on the clock (20 ms, with jitter of at most +20%).
    await clock.advance(24);
    await waitFor(() => seen(STATUS) === before + 1, 5_000, 'the first poll');
    let advanced = 24;
    advanced += await advanceUntil(clock, 24, () => result.state() !== 'pending', 'the export to end by polling', 2_000);
    expect(result.state()).toBe('resolved');
    expect(task.snapshot.phase).toBe('success');
    expect(seen(STATUS) - before).toBeLessThanOrEqual(Math.ceil(advanced / 16));
  });

  it("waits for a token function that never answers until the clock passes tokenTimeout (on its own store's clock)", async () => {
    const store = new TaskStore({ clock });
    client = createClient({ url: proxy.url, store, token: () => new Promise<string>(() => undefined), tokenTimeout: 20 });
    expect(store.clock).toBe(clock);
    const creating = track(client.createFeatureCollection('no-token'));
    await sleep(REAL_WAIT_MS);
    expect(creating.state()).toBe('pending');
    await clock.advance(20);
    await waitFor(() => creating.state() !== 'pending', 5_000, 'the request to end');
    expect(creating.error()).toBeInstanceOf(TimeoutError);
    expect((creating.error() as Error).message).toMatch(/the `token` function answered nothing within 20 ms/);
    // Nothing went out without a token.
    expect(seen(/^POST \/vector\/v2\/products$/)).toBe(0);
  });
});
