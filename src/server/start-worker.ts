import type * as WorkerModule from './redis/start-worker.js';
import type { ExportWorker, WorkerOptions } from './redis/start-worker.js';

export type { ExportWorker, WorkerOptions } from './redis/start-worker.js';

/**
 * Starts a worker of the service on Redis: it runs the export jobs that API instances
 * started with `startServer({ redis })` queue on BullMQ (see the Redis section of the server
 * docs). BullMQ and ioredis (optional peer dependencies) are loaded only by this call.
 *
 * @example
 * ```ts
 * import { startWorker } from 'export-task/server';
 *
 * await using worker = await startWorker({ redis: 'redis://127.0.0.1:6379', dataDir: './shared', concurrency: 2 });
 * ```
 * @param options - See {@link WorkerOptions}.
 * @returns The running worker; close it to stop taking jobs.
 * @throws TypeError (a rejection) for a bad option; Error when Redis cannot be reached or a peer dependency is missing.
 */
export async function startWorker(options: WorkerOptions): Promise<ExportWorker> {
  let module: typeof WorkerModule;
  try {
    module = await import('./redis/start-worker.js');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && /bullmq|ioredis/.test(message)) {
      throw new Error(`startWorker() needs the optional peer dependencies: npm install bullmq@6 ioredis@6 (${message})`, { cause: error });
    }
    throw error;
  }
  return module.startWorker(options);
}
