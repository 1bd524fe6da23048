/**
 * The other side of the busy tracker case of `npm run bench:redis -- --part=tracker`
 * (`bench/redis-costs.ts`), in its own process so that none of its CPU counts as the
 * tracker's: a BullMQ `Worker` on the service's queue that ends each export job as the
 * service's worker does, without a job thread: it appends `started`, a log line and
 * `succeeded` to the export's log (the same appends, through the same `RedisExportLog`), and
 * BullMQ completes the job (its `active` and `completed` events).
 *
 * Driven over IPC: `{ cmd: 'start', redis }` makes the worker (not running) and answers
 * `ready`; `{ cmd: 'go', count }` runs it (the jobs waiting are the count of the case) and
 * answers `done` once `count` more jobs completed; `{ cmd: 'exit' }` closes it.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisExportLog } from '../src/server/redis/redis-export-log.js';
import { EXPORT_QUEUE } from '../src/server/redis/redis-keys.js';
import type { ExportJobData } from '../src/server/redis/redis-keys.js';

let worker: Worker<ExportJobData> | undefined;
let connection: Redis | undefined;
let completed = 0;
let target = Infinity;
let onDone: (() => void) | undefined;

process.on('message', (message: { cmd: string; redis?: string; count?: number }) => {
  void (async () => {
    if (message.cmd === 'start') {
      connection = new Redis(message.redis!, { maxRetriesPerRequest: null });
      const log = new RedisExportLog(connection);
      worker = new Worker<ExportJobData>(
        EXPORT_QUEUE,
        async (job) => {
          const { productId, exportId } = job.data;
          await log.append(productId, exportId, { type: 'started' });
          await log.append(productId, exportId, { type: 'log', line: `wrote ${exportId}.ndjson (1234 bytes)` });
          await log.append(productId, exportId, (current) => ({
            type: 'succeeded',
            runtime: 0.01,
            peak_memory_usage: 1_000_000,
            key: current.key,
            labels: current.labels,
            size_bytes: 1234,
            sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
          }));
        },
        { connection, concurrency: 20, autorun: false },
      );
      worker.on('completed', () => {
        if (++completed >= target) onDone?.();
      });
      process.send!({ cmd: 'ready' });
    } else if (message.cmd === 'go') {
      completed = 0;
      target = message.count!;
      const done = new Promise<void>((resolve) => (onDone = resolve));
      if (!worker!.isRunning()) void worker!.run();
      await done;
      process.send!({ cmd: 'done', completed });
    } else if (message.cmd === 'exit') {
      await worker?.close();
      connection?.disconnect();
      process.disconnect();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
