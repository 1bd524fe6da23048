/**
 * Debian's headless Chromium, driven by playwright-core, for tests of pages in a real browser.
 * Every console error and page error of every page is collected, so a test can assert there
 * were none.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser; CI installs it there (`.ci/run`). */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** A browser and what its pages reported. */
export interface TestBrowser {
  readonly browser: Browser;
  /** Console errors and uncaught page errors, as text, in the order they came. */
  readonly problems: string[];
  /** A new page whose console errors and page errors go to {@link TestBrowser.problems}. */
  newPage(options?: { readonly acceptDownloads?: boolean }): Promise<Page>;
  close(): Promise<void>;
}

/** Launches headless Chromium, failing with how to install it when it is missing. */
export async function launchChromium(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`No Chromium at ${CHROMIUM_PATH}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const problems: string[] = [];
  return {
    browser,
    problems,
    async newPage(options) {
      const context = await browser.newContext({ acceptDownloads: options?.acceptDownloads ?? false, viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      page.on('console', (message) => {
        // A failed request's message names no URL; the location does.
        if (message.type() === 'error') problems.push(`console.error: ${message.text()} (${message.location().url})`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.name}: ${error.message}`));
      return page;
    },
    close: () => browser.close(),
  };
}
