/**
 * export-task/react in a real renderer: react-dom in Debian's headless Chromium, on a page built
 * by Vite (test/react/harness/) and served on 127.0.0.1 together with the reference service, so
 * the page's client talks to a real service over HTTP and Server-Sent Events. The test drives
 * the page through `window.harness` and reads its record of every render.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ExportServer } from '../../src/server/index.js';
import { launchChromium, type TestBrowser } from '../support/chromium.js';
import { buildAndServe, type ServedPage } from '../support/vite-page.js';
import type { RenderRecord, StartRecord } from './harness/harness.js';

const HARNESS = fileURLToPath(new URL('./harness/', import.meta.url));
const PRODUCT = 'react-roads';

let work: string;
let server: ExportServer;
let served: ServedPage;
let browser: TestBrowser;
let page: Page;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'export-task-react-'));
  // One job at a time: a slow export keeps the next one pending for as long as the test needs.
  server = await startServer({ dataDir: join(work, 'data'), concurrency: 1 });
  [served, browser] = await Promise.all([buildAndServe(HARNESS, join(work, 'page'), server.url), launchChromium()]);
  page = await browser.newPage();
  await page.goto(served.url);
  await page.waitForFunction(() => window.harness !== undefined);
  // Enough features that a slow query reports progress several times before it ends.
  await page.evaluate((product) => window.harness.createProduct(product, 20_000), PRODUCT);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await served?.close();
  await server?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const event = (type: string, productId: string, exportId: string, seq: number, fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  type,
  product_id: productId,
  export_id: exportId,
  seq,
  time: '2026-01-01T00:00:00Z',
  ...fields,
});

/** Applies events to the page's test store, one `apply` each, and waits until React has rendered. */
async function apply(...events: Record<string, unknown>[]): Promise<void> {
  await page.evaluate(async (list) => {
    for (const e of list) window.harness.store.apply(e);
    await window.harness.settle();
  }, events);
}

/** Applies each event in its own turn, letting React render between them. */
async function applyEach(...events: Record<string, unknown>[]): Promise<void> {
  for (const e of events) await apply(e);
}

const renders = (view: string): Promise<string[]> =>
  page.evaluate((v) => window.harness.renders.filter((r: RenderRecord) => r.view === v).map((r: RenderRecord) => r.shown), view);

const openSubscriptions = (): Promise<number> => page.evaluate(() => window.harness.openSubscriptions());
const unmount = (): Promise<void> => page.evaluate(() => window.harness.unmount());

/** Every vertex of a circle: an export through it tests each point against all of them, so it takes a while. */
function slowQuery(vertices: number): unknown {
  const ring = Array.from({ length: vertices }, (_, i) => {
    const a = (2 * Math.PI * i) / vertices;
    return [Math.round(170 * Math.cos(a) * 1e6) / 1e6, Math.round(85 * Math.sin(a) * 1e6) / 1e6];
  });
  ring.push(ring[0]!);
  return { geometry: { type: 'Polygon', coordinates: [ring] } };
}

async function waitForFinal(exportId: string): Promise<{ phase: string; failureType: string | null }> {
  for (;;) {
    const status = await page.evaluate(([p, e]) => window.harness.status(p, e), [PRODUCT, exportId] as const);
    if (status.phase === 'success' || status.phase === 'failure') return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('useExportTask', () => {
  it('renders once per change of its task, never for other tasks, duplicates or held events', async () => {
    await page.evaluate(() => window.harness.mountStoreTask('t1', false));
    expect(await renders('task')).toEqual(['0']);

    await apply(event('queued', 'roads', 't1', 1));
    expect(await renders('task')).toEqual(['0', '1']);

    // Another task changes three times: nothing to render here.
    await applyEach(event('queued', 'roads', 'other', 1), event('started', 'roads', 'other', 2), event('progress', 'roads', 'other', 3, { fraction: 0.5 }));
    // A duplicate and an early event (held until seq 2 comes) change nothing either.
    await applyEach(event('queued', 'roads', 't1', 1), event('progress', 'roads', 't1', 3, { fraction: 0.25 }));
    expect(await renders('task')).toEqual(['0', '1']);

    // seq 2 releases the held seq 3: one change of the snapshot, one render.
    await apply(event('started', 'roads', 't1', 2));
    expect(await renders('task')).toEqual(['0', '1', '3']);

    await applyEach(event('progress', 'roads', 't1', 4, { fraction: 0.5 }), event('log', 'roads', 't1', 5, { line: 'halfway' }));
    expect(await renders('task')).toEqual(['0', '1', '3', '4', '5']);
    expect(await openSubscriptions()).toBe(1);

    await unmount();
    expect(await openSubscriptions()).toBe(0);
    // Changes after unmount render nothing.
    await apply(event('progress', 'roads', 't1', 6, { fraction: 0.75 }));
    expect(await renders('task')).toEqual(['0', '1', '3', '4', '5']);
  });

  it('leaves one subscription while mounted in StrictMode, and none after', async () => {
    await page.evaluate(() => window.harness.mountStoreTask('t2', true));
    await page.evaluate(() => window.harness.settle());
    expect(await openSubscriptions()).toBe(1);
    await unmount();
    expect(await openSubscriptions()).toBe(0);
  });

  it('follows a real ExportTask over SSE to success, each render showing a newer snapshot', async () => {
    const exportId = await page.evaluate((product) => window.harness.mountRealTask(product, {}), PRODUCT);
    await page.waitForFunction(() => window.harness.renders.some((r: RenderRecord) => r.view === 'real' && r.shown.endsWith('success')), undefined, {
      timeout: 15_000,
    });
    const shown = await renders('real');
    const seqs = shown.map((s) => Number(s.split(' ')[0]));
    // No render repeats a snapshot: the seqs strictly increase (a burst of events may share one render).
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!, `renders ${JSON.stringify(shown)}`).toBeGreaterThan(seqs[i - 1]!);
    expect(shown.at(-1)).toMatch(/ success$/);
    expect((await waitForFinal(exportId)).phase).toBe('success');
    await unmount();
  });

  it('does not re-render for another real task’s progress, and stops following its task on unmount', async () => {
    // With one job at a time, the slow export runs while the next one stays pending.
    const blocker = await page.evaluate(([product, query]) => window.harness.startExport(product, 'exports/slow.ndjson', query), [PRODUCT, slowQuery(20_000)] as const);
    await page.evaluate(() => window.harness.renders.splice(0));
    const waiting = await page.evaluate((product) => window.harness.mountRealTask(product, {}), PRODUCT);
    expect(await page.evaluate((product) => window.harness.observedPending(product), PRODUCT)).toContain(waiting);
    // The blocker's progress events arrive and fold into the same store...
    await page.waitForFunction((id) => (window.harness.clientSnapshot(id)?.progress ?? 0) > 0, blocker, { timeout: 15_000 });
    await page.evaluate(() => window.harness.settle());
    // ...and the pending task's view rendered only for its own snapshots (when it mounted, and
    // when its own `queued` came, if after the mount): never for the blocker's progress.
    expect(await page.evaluate((id) => window.harness.clientSnapshot(id)?.phase, waiting)).toBe('pending');
    const shown = await renders('real');
    const seqs = shown.map((s) => Number(s.split(' ')[0]));
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!, `renders ${JSON.stringify(shown)}`).toBeGreaterThan(seqs[i - 1]!);
    expect(shown.every((s) => s.endsWith(' pending'))).toBe(true);
    expect(seqs.at(-1)).toBe(await page.evaluate((id) => window.harness.clientSnapshot(id)?.seq, waiting));
    expect(shown.length).toBeLessThanOrEqual(2);

    await unmount();
    expect(await page.evaluate((product) => window.harness.observedPending(product), PRODUCT)).not.toContain(waiting);

    await page.evaluate((id) => window.harness.cancel(id), blocker);
    expect(await waitForFinal(blocker)).toEqual({ phase: 'failure', failureType: 'cancelled' });
    expect((await waitForFinal(waiting)).phase).toBe('success');
  });
});

describe('useTaskStore', () => {
  it('re-renders a list only when the selection changes, and a task’s phase only when it changes', async () => {
    await page.evaluate(() => window.harness.mountStoreList('list', 'x1'));
    expect(await renders('list')).toEqual(['[]']);
    expect(await renders('phase')).toEqual(['null']);

    await apply(event('queued', 'list', 'x1', 1));
    expect(await renders('list')).toEqual(['[]', '["x1"]']);
    expect(await renders('phase')).toEqual(['null', '"pending"']);

    await apply(event('started', 'list', 'x1', 2));
    expect(await renders('list')).toEqual(['[]', '["x1"]']);
    expect(await renders('phase')).toEqual(['null', '"pending"', '"running"']);

    // Progress of x1, and anything of another product: the same ids, the same phase.
    await applyEach(event('progress', 'list', 'x1', 3, { fraction: 0.4 }), event('queued', 'elsewhere', 'y1', 1), event('log', 'list', 'x1', 4, { line: 'a' }));
    expect(await renders('list')).toEqual(['[]', '["x1"]']);
    expect(await renders('phase')).toEqual(['null', '"pending"', '"running"']);

    await apply(event('queued', 'list', 'x2', 1));
    expect(await renders('list')).toEqual(['[]', '["x1"]', '["x1","x2"]']);
    expect(await renders('phase')).toEqual(['null', '"pending"', '"running"']);
    expect(await openSubscriptions()).toBe(2);

    await unmount();
    expect(await openSubscriptions()).toBe(0);
  });
});

describe('useTaskStore with another store', () => {
  it('selects from the new store at once when the `store` prop changes, even with the same selector', async () => {
    await unmount();
    const size = await page.evaluate(() => window.harness.store.size);
    await page.evaluate(() => window.harness.showSize(false));
    await page.evaluate(() => window.harness.showSize(true));
    await page.evaluate(() => window.harness.showSize(false));
    expect(await renders('size')).toEqual([String(size), '1', String(size)]);
    await unmount();
  });
});

describe('useStartExport', () => {
  const starts = (): Promise<StartRecord[]> => page.evaluate(() => window.harness.starts.slice());
  const callbacks = (): Promise<string[]> => page.evaluate(() => window.harness.callbacks.slice());
  const resetRecords = (): Promise<unknown> => page.evaluate(() => [window.harness.starts.splice(0), window.harness.callbacks.splice(0)]);
  /** The statuses rendered, each run of equal ones as one. */
  const statusRuns = (records: readonly StartRecord[]): string[] => records.map((r) => r.status).filter((status, i, all) => status !== all[i - 1]);

  it('goes idle, pending, success with the flags of useMutation, tracks the task to its end, and calls each callback once', async () => {
    await resetRecords();
    await page.evaluate((product) => window.harness.mountStart(product, 'exports/started.ndjson', {}, false), PRODUCT);
    const exportId = await page.evaluate(() => window.harness.clickStart());
    expect(exportId).toMatch(/.+/);
    await page.waitForFunction(() => window.harness.starts.at(-1)?.phase === 'success', undefined, { timeout: 15_000 });
    const seen = await starts();
    expect(seen[0]).toEqual({ status: 'idle', flags: 'I', error: null, exportId: null, phase: null });
    // One render for the request in flight, then renders of the started task only.
    expect(seen.filter((r) => r.status === 'pending')).toEqual([{ status: 'pending', flags: 'P', error: null, exportId: null, phase: null }]);
    expect(statusRuns(seen)).toEqual(['idle', 'pending', 'success']);
    expect(seen.at(-1)).toEqual({ status: 'success', flags: 'S', error: null, exportId, phase: 'success' });
    expect(await callbacks()).toEqual([`onSuccess ${exportId}`, `onSettled ${exportId} null`]);
    await unmount();
  });

  it('reports a failed request in `error` and onError: `start` never rejects, `startAsync` rejects with the same error', async () => {
    await resetRecords();
    await page.evaluate(() => window.harness.mountStart('no-such-product', 'exports/x.ndjson', {}, false));
    expect(await page.evaluate(() => window.harness.clickStart())).toBeNull();
    await page.evaluate(() => window.harness.settle());
    const last = (await starts()).at(-1);
    expect(last).toMatchObject({ status: 'error', flags: 'E', exportId: null });
    expect(last?.error).toMatch(/^NotFoundError: .*no-such-product/);
    expect(statusRuns(await starts())).toEqual(['idle', 'pending', 'error']);
    expect(await callbacks()).toEqual(['onError NotFoundError', 'onSettled - NotFoundError']);

    const rejected = await page.evaluate(() => window.harness.clickStartAsync());
    expect(rejected).toEqual({ rejected: last?.error });
    await unmount();

    await resetRecords();
    await page.evaluate((product) => window.harness.mountStart(product, '', {}, false), PRODUCT);
    expect(await page.evaluate(() => window.harness.clickStart())).toBeNull();
    await page.evaluate(() => window.harness.settle());
    expect((await starts()).at(-1)).toMatchObject({ status: 'error', exportId: null, error: expect.stringMatching(/^TypeError: FeatureCollection\.export\(\): .*key/) as unknown });
    await unmount();
  });

  it('on unmount mid-request, changes no state, calls no callback, and lets the export go on', async () => {
    await resetRecords();
    await page.evaluate((product) => window.harness.mountStart(product, 'exports/unmounted.ndjson', {}, false), PRODUCT);
    const exportId = await page.evaluate(() => window.harness.clickStartThenUnmount());
    expect(exportId).toMatch(/.+/);
    await page.evaluate(() => window.harness.settle());
    // The unmount came before React rendered `pending`: the first render is the only one.
    expect(await starts()).toEqual([{ status: 'idle', flags: 'I', error: null, exportId: null, phase: null }]);
    expect(await callbacks()).toEqual([]);
    expect((await waitForFinal(exportId!)).phase).toBe('success');
  });

  it('with cancelOnUnmount, cancels the export whose request was in flight at unmount', async () => {
    await page.evaluate(([product, query]) => window.harness.mountStart(product, 'exports/cancelled.ndjson', query, true), [PRODUCT, slowQuery(20_000)] as const);
    const exportId = await page.evaluate(() => window.harness.clickStartThenUnmount());
    expect(await waitForFinal(exportId!)).toEqual({ phase: 'failure', failureType: 'cancelled' });
  });

  it('with cancelOnUnmount, cancels the tracked export on unmount', async () => {
    await page.evaluate(([product, query]) => window.harness.mountStart(product, 'exports/tracked.ndjson', query, true), [PRODUCT, slowQuery(20_000)] as const);
    const exportId = await page.evaluate(() => window.harness.clickStart());
    await unmount();
    expect(await waitForFinal(exportId!)).toEqual({ phase: 'failure', failureType: 'cancelled' });
  });
});

describe('useTaskActor', () => {
  it.each([[false], [true]])('creates one actor per task however often it renders (StrictMode %s), and stops it on unmount', async (strict) => {
    await page.evaluate(() => window.harness.actorRenders.splice(0));
    await page.evaluate(([product, inStrictMode]) => window.harness.mountActor(product, inStrictMode), [PRODUCT, strict] as const);
    await page.waitForFunction(() => window.harness.actorRenders.at(-1)?.value === 'success', undefined, { timeout: 15_000 });
    const seen = await page.evaluate(() => window.harness.actorRenders.slice());
    // Several renders (one per phase at least), all of the first and only actor.
    expect(new Set(seen.map((r) => r.value))).toContain('pending');
    expect(seen.every((r) => r.actor === 0)).toBe(true);
    // Final: the actor is done, and stays the one actor through unmount.
    expect(await page.evaluate(() => window.harness.actorStats())).toEqual({ created: 1, status: 'done' });
    await unmount();
    await page.evaluate(() => window.harness.settle());
    expect(await page.evaluate(() => window.harness.actorStats())).toEqual({ created: 1, status: 'done' });
  });

  it('stops a running actor on unmount', async () => {
    await page.evaluate(() => window.harness.actorRenders.splice(0));
    // One job at a time: an export queued behind a slow one stays pending while the test looks.
    const blocker = await page.evaluate(([product, query]) => window.harness.startExport(product, 'exports/actor-blocker.ndjson', query), [PRODUCT, slowQuery(20_000)] as const);
    const queued = await page.evaluate((product) => window.harness.mountActor(product, false), PRODUCT);
    await page.evaluate(() => window.harness.settle());
    expect(await page.evaluate(() => window.harness.actorStats())).toEqual({ created: 1, status: 'active' });
    await unmount();
    await page.evaluate(() => window.harness.settle());
    expect(await page.evaluate(() => window.harness.actorStats())).toEqual({ created: 1, status: 'stopped' });
    await page.evaluate((id) => window.harness.cancel(id), blocker);
    expect((await waitForFinal(blocker)).failureType).toBe('cancelled');
    expect((await waitForFinal(queued)).phase).toBe('success');
  });
});

describe('useExports', () => {
  it("lists the product's completed exports, shows one in flight, and lists it again once it is final", async () => {
    await page.evaluate(() => window.harness.exportsRenders.splice(0));
    await page.evaluate((product) => window.harness.mountExports(product), PRODUCT);
    await page.waitForFunction(() => window.harness.exportsRenders.at(-1)?.status === 'success', undefined, { timeout: 15_000 });
    const before = (await page.evaluate(() => window.harness.exportsRenders.slice())).at(-1)!.ids!;
    expect(before.length).toBeGreaterThan(0);

    const exportId = await page.evaluate((product) => window.harness.followExport(product, 'exports/listed.ndjson'), PRODUCT);
    await page.waitForFunction((id) => window.harness.exportsRenders.at(-1)?.ids?.includes(id) === true, exportId, { timeout: 15_000 });
    await page.evaluate(() => window.harness.settle());
    const seen = await page.evaluate(() => window.harness.exportsRenders.slice());
    // The list itself changed exactly twice: none, the first fetch, the fetch after the new export ended.
    const lists = seen.map((r) => JSON.stringify(r.ids)).filter((ids, i, all) => ids !== all[i - 1]);
    expect(lists).toEqual(['null', JSON.stringify(before), JSON.stringify([...before, exportId])]);
    expect(seen[0]).toEqual({ status: 'pending', ids: null, inFlight: [] });
    expect(seen.some((r) => r.inFlight.includes(exportId))).toBe(true);
    expect(seen.at(-1)!.inFlight).toEqual([]);
    await unmount();
  });
});

describe('the hooks page', () => {
  it('closes its event streams on the service when its client closes', async () => {
    await page.evaluate(() => window.harness.unmount());
    expect(server.streamStats.open).toBeGreaterThan(0);
    await page.evaluate(() => window.harness.close());
    // The service sees each stream end once its connection has closed, a moment later.
    await expect.poll(() => server.streamStats.open, { timeout: 5_000 }).toBe(0);
  });

  it('logged no console error and no page error (React warnings included), but the 404s the test asked for', () => {
    // Chromium logs each failed request: the export request for an unknown product, and the
    // event stream the client opened for it.
    // The events route's 404, and the product route's the client then asks to tell a vanished product from a missing route.
    const expected = (problem: string): boolean => problem.includes('404') && /\/products\/no-such-product[/)]/.test(problem);
    expect(browser.problems.filter(expected).length).toBeGreaterThan(0);
    expect(browser.problems.filter((problem) => !expected(problem))).toEqual([]);
  });
});
