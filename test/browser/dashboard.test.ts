/**
 * The dashboard (examples/dashboard) in Debian's headless Chromium, driven by playwright-core:
 * the reference service with a seeded product and the page (a Vite build, served on 127.0.0.1
 * with the service proxied), used as a person would. A screenshot of the end state is kept in
 * `test-results/dashboard.png`.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.node.js';
import { bayAreaBoundary } from '../../examples/dashboard/queries.js';
import { generateRoads } from '../../examples/dashboard/seed.js';
import { startDashboard, type Dashboard } from '../../examples/dashboard/start-dashboard.js';
import { launchChromium, type TestBrowser } from '../support/chromium.js';

const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
/** Enough roads that an export through a detailed boundary runs for a few seconds, reporting progress as it goes. */
const FEATURES = 20_000;

let work: string;
let dashboard: Dashboard;
let browser: TestBrowser;
let page: Page;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'export-task-dashboard-'));
  [dashboard, browser] = await Promise.all([
    startDashboard({ port: 0, features: FEATURES, mode: 'build', outDir: join(work, 'page'), service: { dataDir: join(work, 'data'), concurrency: 2 } }),
    launchChromium(),
  ]);
  page = await browser.newPage({ acceptDownloads: true });
  await page.goto(dashboard.url);
  await page.getByText(`${FEATURES.toLocaleString('en')} features`).waitFor();
  // Every value each progress bar shows, as React sets it: polling could miss some.
  await page.evaluate(() => {
    const seen: Record<string, number[]> = {};
    (window as unknown as { progressSeen: Record<string, number[]> }).progressSeen = seen;
    new MutationObserver((records) => {
      for (const record of records) {
        const bar = record.target as Element;
        const id = bar.closest('tr')?.getAttribute('data-export-id');
        if (id) (seen[id] ??= []).push(Number(bar.getAttribute('aria-valuenow')));
      }
    }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** Fills the form and starts an export; answers its row. */
async function startExport(queryExpr: string, boundary: 0 | 1000 | 3000): Promise<Locator> {
  const form = page.getByRole('form', { name: 'Start an export' });
  const key = await form.locator('input[name=key]').inputValue();
  await form.locator('textarea[name=query]').fill(queryExpr);
  await form.locator('select[name=boundary]').selectOption(String(boundary));
  await form.getByRole('button', { name: 'Start export' }).click();
  const row = page.locator('tbody tr').filter({ has: page.locator('code', { hasText: key }) });
  await row.waitFor();
  return row;
}

const phaseOf = (row: Locator): Promise<string | null> => row.getAttribute('data-phase');
const waitForPhase = (row: Locator, phase: string): Promise<void> => row.and(page.locator(`[data-phase=${phase}]`)).waitFor({ timeout: 20_000 });

describe('the dashboard', () => {
  it('shows an export’s progress bar advance, then its success', async () => {
    const row = await startExport('', 1000);
    const id = (await row.getAttribute('data-export-id'))!;
    await waitForPhase(row, 'success');
    const seen = await page.evaluate((exportId) => (window as unknown as { progressSeen: Record<string, number[]> }).progressSeen[exportId] ?? [], id);
    const between = [...new Set(seen.filter((value) => value > 0 && value < 100))];
    expect(between.length, `progress values shown: ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(2);
    expect(seen, 'the bar never goes back').toEqual([...seen].sort((a, b) => a - b));
    expect(await row.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    expect(await row.getByRole('link', { name: 'Download' }).count()).toBe(1);
  });

  it('cancels a running export and shows it failed as cancelled', async () => {
    const row = await startExport('', 3000);
    await waitForPhase(row, 'running');
    await row.getByRole('button', { name: 'Cancel' }).click();
    await waitForPhase(row, 'failure');
    await row.locator('summary').click();
    expect(await row.locator('dd.failure-type').textContent()).toBe('cancelled');
    expect(await row.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
  });

  it('shows a failure’s type, exception, stack trace and log', async () => {
    await page.locator('select[name=preset]').selectOption({ label: 'Fails: a number bound on a text property' });
    expect(await page.locator('textarea[name=query]').inputValue()).toBe('{"range":{"name":{"gte":100}}}');
    const row = await startExport('{"range":{"name":{"gte":100}}}', 0);
    await waitForPhase(row, 'failure');
    await row.locator('summary').click();
    expect(await row.locator('dd.failure-type').textContent()).toBe('exception');
    expect(await row.locator('dd.exception').textContent()).toBe('QueryTypeError');
    expect(await row.locator('pre.stacktrace').textContent()).toMatch(/^QueryTypeError: [^\n]+\n\s+at /);
    expect(await row.locator('pre.log').isVisible()).toBe(true);
  });

  it('downloads a succeeded export: NDJSON with every feature the query selects', async () => {
    const row = await startExport('{"eq":{"kind":"highway"}}', 0);
    await waitForPhase(row, 'success');
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'Download' }).click()]);
    const path = join(work, 'download.ndjson');
    await download.saveAs(path);
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    const features = lines.map((line) => JSON.parse(line) as { type: string; properties: { kind: string } });
    const highways = generateRoads(FEATURES).filter((feature) => feature.properties?.['kind'] === 'highway').length;
    expect(highways).toBeGreaterThan(0);
    expect(features).toHaveLength(highways);
    expect(features.every((feature) => feature.type === 'Feature' && feature.properties.kind === 'highway')).toBe(true);
  });

  it('shows an export started by another client as it runs, and cancels it', async () => {
    const other = createClient({ url: dashboard.serviceUrl });
    try {
      const task = await other.featureCollection(dashboard.productId).export('exports/elsewhere.ndjson', { query: { geometry: bayAreaBoundary(3000) } });
      const row = page.locator(`tbody tr[data-export-id="${task.exportId}"]`);
      await waitForPhase(row, 'running');
      expect(await row.locator('td.query').textContent()).toBe('started elsewhere');
      await row.getByRole('button', { name: 'Cancel' }).click();
      await waitForPhase(row, 'failure');
      await row.locator('summary').click();
      expect(await row.locator('dd.failure-type').textContent()).toBe('cancelled');
      // The other client saw the same end.
      await task.getResult({ wait: true, timeout: 10_000 });
      expect(await task.failureType).toBe('cancelled');
    } finally {
      await other.close();
    }
  });

  it('refuses a query that is not JSON with a message saying how to write one, and starts nothing', async () => {
    const rows = await page.locator('tbody tr').count();
    await page.locator('textarea[name=query]').fill('{"eq": {"kind": highway}}');
    await page.getByRole('button', { name: 'Start export' }).click();
    const alert = page.getByRole('form', { name: 'Start an export' }).getByRole('alert');
    expect(await alert.textContent()).toMatch(/not valid JSON.*\{"eq": \{"kind": "highway"\}\}/);
    expect(await page.locator('tbody tr').count()).toBe(rows);
  });

  it('logged no console error and no page error, and leaves a screenshot', async () => {
    await mkdir(RESULTS, { recursive: true });
    await page.screenshot({ path: join(RESULTS, 'dashboard.png'), fullPage: true });
    expect(browser.problems).toEqual([]);
    expect(await phaseOf(page.locator('tbody tr').first())).toBe('success');
  });
});
