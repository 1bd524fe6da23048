import type { Worker } from 'node:worker_threads';
import type { ResourceLimits } from 'node:worker_threads';
import type { ExportWorkerData } from './export-job-protocol.js';
import { spawnWorker } from './spawn-worker.js';

/**
 * Starts the worker thread that runs one export job (see {@link spawnWorker} for where its
 * code is found).
 *
 * @param input - The job's `workerData`.
 * @param resourceLimits - The worker's heap limits (one worker per job, so they are per job).
 * @returns The started worker.
 * @internal
 */
export function spawnExportWorker(input: ExportWorkerData, resourceLimits: ResourceLimits | undefined): Worker {
  return spawnWorker('export-job', { workerData: input, ...(resourceLimits === undefined ? {} : { resourceLimits }) });
}
