import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ResourceLimits } from 'node:worker_threads';
import type { ExportWorkerData } from './export-job-protocol.js';

/**
 * The worker's file beside this module, built and from source. Named here rather than written
 * as literals in `new Worker(new URL('...', import.meta.url))`: a browser app's bundler (Vite)
 * takes that literal pattern for a web worker or an asset of the page and fails on it, while this
 * Node-only worker thread is never loaded in a browser.
 */
const BUILT_WORKER = './export-job.worker.js';
const SOURCE_WORKER = './export-job.worker.ts';

/**
 * Starts the worker thread that runs one export job.
 *
 * Where the worker's code is depends on how this module runs. Built (tsup), the worker is
 * `export-job.worker.js` beside the chunk holding this code, and starts as is. From source
 * (under vitest or tsx this module's own URL ends with `.ts`), the worker is the `.ts` file,
 * which Node cannot run by itself, and `execArgv: ['--import', 'tsx']` is not enough on
 * Node 20: loader hooks registered in a worker do not apply to its entry module (it fails
 * with ERR_UNKNOWN_FILE_EXTENSION). So a one-line bootstrap registers tsx's require hook
 * through its API and requires the entry. The require hook, not the ESM one, because tsx's
 * ESM registration fails in a worker whose parent already runs under tsx; the worker has no
 * top-level await or `import.meta`, so it loads as CommonJS. tsx is a devDependency, only
 * ever needed from source; `import.meta.resolve` is avoided so the CommonJS build stays clean.
 *
 * @param input - The job's `workerData`.
 * @param resourceLimits - The worker's heap limits (one worker per job, so they are per job).
 * @returns The started worker.
 * @internal
 */
export function spawnExportWorker(input: ExportWorkerData, resourceLimits: ResourceLimits | undefined): Worker {
  const options = { workerData: input, ...(resourceLimits === undefined ? {} : { resourceLimits }) };
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL(BUILT_WORKER, import.meta.url), options);
  }
  const entry = fileURLToPath(new URL(SOURCE_WORKER, import.meta.url));
  const tsxApi = createRequire(import.meta.url).resolve('tsx/cjs/api');
  const bootstrap = `require(${JSON.stringify(tsxApi)}).register(); require(${JSON.stringify(entry)});`;
  return new Worker(bootstrap, { ...options, eval: true });
}
