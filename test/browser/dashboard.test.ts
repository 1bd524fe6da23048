/**
 * The dashboard (examples/dashboard) in Debian's headless Chromium, driven by playwright-core,
 * run the production way: the page (a Vite build) served from its own origin, the reference
 * service on another port allowing that origin (CORS), the page holding only short-lived
 * `write` tokens of its one product from the page's server, never the master token. Used as a
 * person would, at 1280 px and at 420 px wide; screenshots of both are kept in `test-results/`
 * (`dashboard-1280.png`, `dashboard-420.png`).
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
/** Short-lived tokens, so that the page renews some while the tests run. */
const TOKEN_TTL_S = 8;

let work: string;
let dashboard: Dashboard;
let browser: TestBrowser;
let page: Page;
/** When the page first loaded: its first tokens expire TOKEN_TTL_S after it. */
let started: number;
/** Requests of the page the service refused (401), which must stay none while its tokens are good. */
const refused: string[] = [];
/** The page's requests since it loaded, with the Authorization they carried. */
const requests: { url: string; authorization: string | undefined }[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'export-task-dashboard-'));
  [dashboard, browser] = await Promise.all([
    startDashboard({ port: 0, features: FEATURES, mode: 'build', outDir: join(work, 'page'), tokenTtl: TOKEN_TTL_S, service: { dataDir: join(work, 'data'), concurrency: 2 } }),
    launchChromium(),
  ]);
  page = await browser.newPage({ acceptDownloads: true });
  page.on('request', (request) => requests.push({ url: request.url(), authorization: request.headers()['authorization'] }));
  page.on('response', (response) => {
    if (response.status() === 401) refused.push(response.url());
  });
  started = Date.now();
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
  it('talks to the service on its other origin, with a token of its product, never the master token', () => {
    expect(new URL(dashboard.url).origin).not.toBe(new URL(dashboard.serviceUrl).origin);
    const toService = requests.filter((r) => r.url.startsWith(dashboard.serviceUrl));
    expect(toService.length).toBeGreaterThan(0);
    for (const request of toService) {
      expect(request.authorization, request.url).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      expect(request.authorization).not.toContain(dashboard.serviceToken);
      const claims = JSON.parse(Buffer.from(request.authorization!.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      expect(claims).toMatchObject({ product: dashboard.productId, scope: 'write' });
      expect((claims['exp'] as number) - (claims['iat'] as number)).toBe(TOKEN_TTL_S);
    }
  });

  it('shows an export’s progress bar advance, then its success', async () => {
    const row = await startExport('', 1000);
    const id = (await row.getAttribute('data-export-id'))!;
    await waitForPhase(row, 'success');
    const seen = await page.evaluate((exportId) => (window as unknown as { progressSeen: Record<string, number[]> }).progressSeen[exportId] ?? [], id);
    const between = [...new Set(seen.filter((value) => value > 0 && value < 100))];
    expect(between.length, `progress values shown: ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(2);
    expect(seen, 'the bar never goes back').toEqual([...seen].sort((a, b) => a - b));
    expect(await row.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    expect(await row.getByRole('button', { name: 'Download' }).count()).toBe(1);
  });

  it('cancels a running export and shows it as cancelled, not as a red failure', async () => {
    const row = await startExport('', 3000);
    await waitForPhase(row, 'running');
    await row.getByRole('button', { name: 'Cancel' }).click();
    await waitForPhase(row, 'failure');
    const phase = row.locator('.phase');
    expect(await phase.textContent()).toBe('cancelled');
    expect(await phase.evaluate((element) => getComputedStyle(element).color)).not.toBe('rgb(176, 0, 32)');
    expect(await row.locator('.cancelled-note').isVisible()).toBe(true);
    expect(await row.locator('pre.stacktrace').count()).toBe(0);
    expect(await row.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
  });

  it('shows a failure’s type, exception and stack trace at once, the stack in its own scrollable box', async () => {
    await page.locator('select[name=preset]').selectOption({ label: 'Fails: a number bound on a text property' });
    expect(await page.locator('textarea[name=query]').inputValue()).toBe('{"range":{"name":{"gte":100}}}');
    const row = await startExport('{"range":{"name":{"gte":100}}}', 0);
    await waitForPhase(row, 'failure');
    expect(await row.locator('.phase').textContent()).toBe('failure');
    // Visible without opening anything.
    expect(await row.locator('dd.failure-type').isVisible()).toBe(true);
    expect(await row.locator('dd.failure-type').textContent()).toBe('exception');
    expect(await row.locator('dd.exception').isVisible()).toBe(true);
    expect(await row.locator('dd.exception').textContent()).toBe('QueryTypeError');
    const stack = row.locator('pre.stacktrace');
    expect(await stack.isVisible()).toBe(true);
    expect(await stack.textContent()).toMatch(/^QueryTypeError: [^\n]+\n\s+at /);
    const box = await stack.evaluate((element) => {
      const style = getComputedStyle(element);
      return { overflowX: style.overflowX, overflowY: style.overflowY, maxHeight: style.maxHeight, right: element.getBoundingClientRect().right, cell: element.closest('td')!.getBoundingClientRect().right };
    });
    expect(box).toMatchObject({ overflowX: 'auto', overflowY: 'auto' });
    expect(box.maxHeight).not.toBe('none');
    expect(box.right, 'the stack stays inside its cell').toBeLessThanOrEqual(box.cell);
    await row.locator('details.log summary').click();
    expect(await row.locator('pre.log').isVisible()).toBe(true);
  });

  it('downloads a succeeded export: NDJSON with every feature the query selects', async () => {
    const row = await startExport('{"eq":{"kind":"highway"}}', 0);
    await waitForPhase(row, 'success');
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Download' }).click()]);
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
    const other = createClient({ url: dashboard.serviceUrl, token: dashboard.serviceToken });
    try {
      const task = await other.featureCollection(dashboard.productId).export('exports/elsewhere.ndjson', { query: { geometry: bayAreaBoundary(3000) } });
      const row = page.locator(`tbody tr[data-export-id="${task.exportId}"]`);
      await waitForPhase(row, 'running');
      expect(await row.locator('td.query').textContent()).toBe('started elsewhere');
      await row.getByRole('button', { name: 'Cancel' }).click();
      await waitForPhase(row, 'failure');
      expect(await row.locator('.phase').textContent()).toBe('cancelled');
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

  it('shows the whole storage key, and renewed its short-lived tokens before they expired', async () => {
    const input = page.locator('input[name=key]');
    const fits = await input.evaluate((element) => element.scrollWidth <= element.clientWidth);
    expect(fits, `the key input shows all of ${await input.inputValue()}`).toBe(true);
    // Long enough for the first tokens to near their expiry: the page asked for new ones, and the service never refused one.
    await page.waitForTimeout(Math.max(0, TOKEN_TTL_S * 1000 - (Date.now() - started)));
    const row = await startExport('{"eq":{"kind":"highway"}}', 0);
    await waitForPhase(row, 'success');
    expect(dashboard.tokensIssued).toBeGreaterThanOrEqual(3);
    expect(refused).toEqual([]);
  });

  it('fits a 420 px wide screen without horizontal scrolling, the whole key visible', async () => {
    const narrow = await browser.newPage();
    await narrow.setViewportSize({ width: 420, height: 900 });
    await narrow.goto(dashboard.url);
    await narrow.getByText(`${FEATURES.toLocaleString('en')} features`).waitFor();
    await narrow.locator('tbody tr[data-phase=failure] pre.stacktrace').first().waitFor();
    const widths = await narrow.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(widths.scroll, `the page is ${widths.scroll} px wide in a ${widths.client} px window`).toBeLessThanOrEqual(widths.client);
    const input = narrow.locator('input[name=key]');
    expect(await input.evaluate((element) => element.scrollWidth <= element.clientWidth)).toBe(true);
    const keys = narrow.locator('td.key code');
    for (let i = 0; i < (await keys.count()); i++) {
      expect(await keys.nth(i).evaluate((element) => element.getBoundingClientRect().right <= document.documentElement.clientWidth)).toBe(true);
    }
    await mkdir(RESULTS, { recursive: true });
    await narrow.screenshot({ path: join(RESULTS, 'dashboard-420.png'), fullPage: true });
    await narrow.context().close();
  });

  it('says clearly that the service refused its token, when it does', async () => {
    const before = browser.problems.length;
    dashboard.signTokensWith('a-key-the-service-does-not-know-0123456789');
    const rejected = await browser.newPage();
    try {
      await rejected.goto(dashboard.url);
      const alert = rejected.getByRole('alert').first();
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(/The export service refused this page's access token: .*not valid here.*Reload the page to get a new one/);
    } finally {
      dashboard.signTokensWith(undefined);
      await rejected.context().close();
    }
    // What that page logged is the browser's own line for each refused request, and nothing else.
    const logged = browser.problems.splice(before);
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged) expect(line).toMatch(/status of 401/);
  });

  it('logged no console error and no page error, and leaves a screenshot', async () => {
    await mkdir(RESULTS, { recursive: true });
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(widths.scroll, `the page is ${widths.scroll} px wide in a ${widths.client} px window`).toBeLessThanOrEqual(widths.client);
    await page.screenshot({ path: join(RESULTS, 'dashboard-1280.png'), fullPage: true });
    expect(browser.problems).toEqual([]);
    expect(await phaseOf(page.locator('tbody tr').first())).toBe('success');
  });
});
