import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';

/**
 * Starts one of the service's worker threads, `<name>.worker.js` beside the built chunk, or
 * `<name>.worker.ts` from source.
 *
 * Built (tsup), the worker starts as is. From source (under vitest or tsx this module's own URL
 * ends with `.ts`), the worker is a `.ts` file, which Node cannot run by itself, and
 * `execArgv: ['--import', 'tsx']` is not enough on Node 20: loader hooks registered in a worker
 * do not apply to its entry module (it fails with ERR_UNKNOWN_FILE_EXTENSION). So a one-line
 * bootstrap registers tsx's require hook through its API and requires the entry. The require
 * hook, not the ESM one, because tsx's ESM registration fails in a worker whose parent already
 * runs under tsx; the workers have no top-level await or `import.meta`, so they load as
 * CommonJS. tsx is a devDependency, only ever needed from source; `import.meta.resolve` is
 * avoided so the CommonJS build stays clean.
 *
 * The file names are built here rather than written as literals in
 * `new Worker(new URL('...', import.meta.url))`: a browser app's bundler (Vite) takes that
 * literal pattern for a web worker or an asset of the page and fails on it, while these
 * Node-only worker threads are never loaded in a browser.
 *
 * @param name - The worker's name: `export-job` for `export-job.worker.js`.
 * @param options - `workerData`, `resourceLimits` and the rest, as for `new Worker`.
 * @returns The started worker.
 * @internal
 */
export function spawnWorker(name: string, options: WorkerOptions): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL(`./${name}.worker.js`, import.meta.url), options);
  }
  const entry = fileURLToPath(new URL(`./${name}.worker.ts`, import.meta.url));
  const tsxApi = createRequire(import.meta.url).resolve('tsx/cjs/api');
  const bootstrap = `require(${JSON.stringify(tsxApi)}).register(); require(${JSON.stringify(entry)});`;
  return new Worker(bootstrap, { ...options, eval: true });
}
