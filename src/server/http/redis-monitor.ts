import { Queue } from 'bullmq';
import { EXPORT_QUEUE, QUEUE_OPTIONS } from '../redis/redis-keys.js';
import { describeTarget } from '../redis/check-redis-target.js';
import type { RedisTarget } from '../redis/check-redis-target.js';
import { createConnection } from '../redis/redis-target.js';
import type { ServiceOps } from './service-ops.js';

/** How long one question to Redis for `/ready` or `/metrics` may take, ms. */
const ASK_TIMEOUT_MS = 1000;

/** The Redis watcher of an API instance or a worker. @internal */
export interface RedisMonitor {
  close(): Promise<void>;
}

/**
 * Watches the Redis at `url` for the service's operations, on a connection of its own that
 * fails its commands at once while Redis is away (the service's own connections wait for it
 * instead, and would hang `/ready`): `/ready` checks that Redis answers a `PING` and that at
 * least one worker is connected to the export queue; `/metrics` reads Redis's availability and
 * the queue's waiting and active jobs; the logger hears Redis go away and come back.
 * @internal
 */
export async function startRedisMonitor(target: RedisTarget, ops: ServiceOps, options: { readonly workers?: boolean } = {}): Promise<RedisMonitor> {
  const redis = createConnection(target, { lazyConnect: true, offlineQueue: false, maxRetriesPerRequest: 0, connectionName: 'export-task-monitor' });
  const where = describeTarget(target);
  const logger = ops.logger?.child({ component: 'redis', redis: where });
  let lost = false;
  redis.on('error', (error: Error) => {
    if (!lost) logger?.warn({ event: 'redis_unavailable', err: error }, `Redis at ${where} is unavailable: ${error.message}`);
    lost = true;
  });
  redis.on('close', () => {
    if (!lost) logger?.warn({ event: 'redis_unavailable' }, `Redis at ${where} closed the connection`);
    lost = true;
  });
  redis.on('ready', () => {
    if (lost) logger?.info({ event: 'redis_available' }, `Redis at ${where} is available again`);
    lost = false;
  });
  // Failing at start is the service's own connection's job to report: this one keeps trying.
  await redis.connect().catch(() => undefined);
  const queue = new Queue(EXPORT_QUEUE, { ...QUEUE_OPTIONS, connection: redis });
  queue.on('error', () => undefined);

  const up = (): boolean => redis.status === 'ready';
  ops.metrics.gauge('redis_up', 'Whether Redis answers this process (1) or not (0).', () => (up() ? 1 : 0));
  const counts = async (): Promise<Record<string, number>> => (up() ? ask(queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active')) : {});
  // NaN while Redis is away: unknown, not zero.
  ops.metrics.gauge('exports_queued', 'Exports waiting on the queue for a worker (NaN while Redis is away).', async () => {
    const c: Record<string, number> = await counts().catch(() => ({}));
    return c['waiting'] === undefined ? NaN : (c['waiting'] ?? 0) + (c['prioritized'] ?? 0) + (c['delayed'] ?? 0);
  });
  ops.metrics.gauge('exports_running', 'Exports a worker runs now, all workers together (NaN while Redis is away).', async () => {
    const c: Record<string, number> = await counts().catch(() => ({}));
    return c['active'] ?? NaN;
  });

  ops.checks.push({
    name: 'redis',
    check: async () => {
      if (!up()) return `unreachable at ${where} (connection ${redis.status})`;
      const answer = await ask(redis.ping()).catch((error: unknown) => `no answer: ${(error as Error).message}`);
      return answer === 'PONG' ? undefined : answer;
    },
  });
  if (options.workers !== false) {
    ops.checks.push({
      name: 'jobs',
      check: async () => {
        if (!up()) return 'unknown: Redis is unreachable';
        const workers = await ask(queue.getWorkersCount());
        return workers > 0 ? undefined : 'no worker is connected to the export queue: start `export-task worker`';
      },
    });
  }
  return {
    async close() {
      await queue.close().catch(() => undefined);
      redis.disconnect();
    },
  };
}

function ask<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ASK_TIMEOUT_MS} ms`)), ASK_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}
