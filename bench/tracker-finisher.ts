/**
 * The other side of the busy tracker case of `npm run bench:redis -- --part=tracker`
 * (`bench/redis-costs.ts`), in its own process so that none of its CPU counts as the
 * tracker's: a BullMQ `Worker` on the service's queue that ends each export job as the
 * service's worker does, without a job thread: it appends `started`, a log line and
 * `succeeded` to the export's log (the same appends, through the same `RedisExportLog`), and
 * BullMQ completes the job (its `active` and `completed` events).
 *
 * Driven over IPC: `{ cmd: 'go', redis, count }` starts a worker and answers `done` once
 * `count` jobs completed, then closes it (the next case's jobs wait for the next `go`);
 * `{ cmd: 'exit' }` ends the process.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisExportLog } from '../src/server/redis/redis-export-log.js';
import { EXPORT_QUEUE, QUEUE_OPTIONS } from '../src/server/redis/redis-keys.js';
import type { ExportJobData } from '../src/server/redis/redis-keys.js';

async function finish(url: string, count: number): Promise<number> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const log = new RedisExportLog(connection);
  let completed = 0;
  let allDone!: () => void;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const worker = new Worker<ExportJobData>(
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
    { ...QUEUE_OPTIONS, connection, concurrency: 20 },
  );
  worker.on('completed', () => {
    if (++completed === count) allDone();
  });
  await done;
  await worker.close();
  connection.disconnect();
  return completed;
}

process.on('message', (message: { cmd: string; redis?: string; count?: number }) => {
  if (message.cmd === 'exit') {
    process.disconnect();
    return;
  }
  finish(message.redis!, message.count!).then(
    (completed) => process.send!({ cmd: 'done', completed }),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
