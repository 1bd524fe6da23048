import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromBullmq, JOB_REMOVED, type BullmqSourceOptions } from '../../src/bullmq/index.js';
import { SOURCE_CONNECTION_NAME } from '../../src/bullmq/bullmq-source.js';
import { createClient, replay, TaskStore, type ExportClient, type ExportTaskSnapshot, type TaskEvent } from '../../src/index.node.js';
import { startServer, startWorker, type ExportServer, type ExportWorker } from '../../src/server/index.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { EXPORT_QUEUE, exportJobId, QUEUE_OPTIONS, redisKeys } from '../../src/server/redis/redis-keys.js';

let redis: RedisServer;
let db: Redis;
let dataDir: string;
let server: ExportServer;
let client: ExportClient;
let worker: ExportWorker | undefined;

const STREAM = redisKeys.events('roads');

async function serverLog(exportId: string): Promise<TaskEvent[]> {
  const entries = await db.xrange(STREAM, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1]!) as TaskEvent).filter((event) => event.export_id === exportId);
}

/** The source's connections open on Redis. */
async function sourceClients(): Promise<number> {
  return ((await db.client('LIST')) as string).split('\n').filter((line) => line.includes(`name=${SOURCE_CONNECTION_NAME} `)).length;
}

/** Starts an export that stays pending: no worker runs. */
async function pendingExport(key: string): Promise<string> {
  const task = await client.featureCollection('roads').export(key);
  return task.tuid;
}

/** Runs a worker until the export is final in Redis. */
async function runUntilFinal(exportId: string): Promise<void> {
  worker = await startWorker({ redis: redis.url, dataDir, concurrency: 1, lockDurationMs: 2_000 });
  for (;;) {
    const log = await serverLog(exportId);
    if (log.some((event) => event.type === 'succeeded' || event.type === 'failed')) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Feeds `store` from `fromBullmq` for one export of `roads` until it is final, then unsubscribes. */
async function settleFrom(store: TaskStore, exportId: string, options: Partial<BullmqSourceOptions> = {}): Promise<ExportTaskSnapshot> {
  const subscription = store.connect(fromBullmq({ redis: redis.url, productId: 'roads', exportIds: [exportId], ...options }));
  try {
    return await store.settled(exportId, { timeout: 30_000 });
  } finally {
    subscription.unsubscribe();
  }
}

beforeAll(async () => {
  redis = await startRedisServer();
  db = new Redis(redis.url);
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-bullmq-'));
  server = await startServer({ redis: redis.url, dataDir });
  client = createClient({ url: server.url });
  const fc = await client.createFeatureCollection('roads');
  await fc.add(Array.from({ length: 20 }, (_, i) => ({ type: 'Feature' as const, id: i, geometry: null, properties: { n: i } })));
});

afterEach(async () => {
  await worker?.close();
  worker = undefined;
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  db?.disconnect();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('fromBullmq', () => {
  it('settles a job that completes between the state read and the events after it (subscribed first)', async () => {
    const exportId = await pendingExport('race/after-read.ndjson');
    const store = new TaskStore();
    let stateSeen: number | undefined;
    const settled = await settleFrom(store, exportId, {
      hooks: {
        afterStateRead: async () => {
          // Commands, the stream's blocking reads, BullMQ's queue events.
          expect(await sourceClients()).toBe(3);
          stateSeen = store.get(exportId)?.seq;
          await runUntilFinal(exportId);
        },
      },
    });
    // The state read saw the export pending (its queued event only); the rest came as events.
    expect(stateSeen).toBe(1);
    expect(settled.phase).toBe('success');
    expect(settled).toEqual(replay(await serverLog(exportId)));
    // Unsubscribing closed its connections.
    await expect.poll(sourceClients).toBe(0);
  });

  it('settles a job that completes between the subscription and the state read, counting nothing twice', async () => {
    const exportId = await pendingExport('race/before-read.ndjson');
    const store = new TaskStore();
    const duplicates: number[] = [];
    store.diagnostics$.subscribe((d) => {
      if (d.kind === 'duplicate') duplicates.push(d.seq);
    });
    const subscription = store.connect(
      fromBullmq({ redis: redis.url, productId: 'roads', exportIds: [exportId], hooks: { afterSubscribe: () => runUntilFinal(exportId) } }),
    );
    const settled = await store.settled(exportId, { timeout: 30_000 });
    // The final state arrived first; every event after the subscription point came again and was dropped by seq.
    const log = await serverLog(exportId);
    await expect.poll(() => duplicates.length).toBe(log.length - 1);
    subscription.unsubscribe();
    expect(settled).toEqual(replay(log));
  });

  it('resyncs when the entries after its cursor were trimmed away', async () => {
    const exportId = await pendingExport('trimmed.ndjson');
    const settled = await settleFrom(new TaskStore(), exportId, {
      hooks: {
        afterStateRead: async () => {
          await runUntilFinal(exportId);
          // Keep only the last entry: the events between the cursor and it are gone.
          await db.xtrim(STREAM, 'MAXLEN', 1);
        },
      },
    });
    expect(settled.phase).toBe('success');
    const state = JSON.parse((await db.hget(redisKeys.export('roads', exportId), 'state'))!) as { seq: number };
    expect(settled.seq).toBe(state.seq);
  });

  it('resyncs when the stream starts over below its cursor (a Redis that lost its log)', async () => {
    const exportId = await pendingExport('restarted.ndjson');
    const settled = await settleFrom(new TaskStore(), exportId, {
      hooks: {
        afterStateRead: async () => {
          await runUntilFinal(exportId);
          await db.del(STREAM);
          await db.xadd(STREAM, '1-1', 'e', JSON.stringify({ type: 'queued', product_id: 'roads', export_id: 'other', seq: 1, time: new Date().toISOString() }));
        },
      },
    });
    expect(settled.phase).toBe('success');
    expect(settled.attributes?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('settles an export whose job was removed from the queue as a failure instead of waiting forever', async () => {
    const exportId = await pendingExport('removed.ndjson');
    const queue = new Queue(EXPORT_QUEUE, { ...QUEUE_OPTIONS, connection: { host: '127.0.0.1', port: redis.port } });
    try {
      expect(await queue.remove(exportJobId('roads', exportId))).toBe(1);
    } finally {
      await queue.close();
    }
    const settled = await settleFrom(new TaskStore(), exportId, { checkIntervalMs: 50 });
    expect(settled.phase).toBe('failure');
    expect(settled.attributes?.failureType).toBe('internal');
    expect(settled.attributes?.exceptionName).toBe(JOB_REMOVED);
  });

  it('settles an export whose job is removed while it follows it, from BullMQ\'s own `removed` event, not a sweep', async () => {
    const exportId = await pendingExport('removed-later.ndjson');
    const settled = settleFrom(new TaskStore(), exportId, {
      // No sweep within the test: only the event can settle it.
      checkIntervalMs: 3_600_000,
      hooks: {
        afterStateRead: () => {
          // After the source checked its pending exports once: the removal comes later.
          const queue = new Queue(EXPORT_QUEUE, { ...QUEUE_OPTIONS, connection: { host: '127.0.0.1', port: redis.port } });
          setTimeout(() => void queue.remove(exportJobId('roads', exportId)).finally(() => queue.close()), 200);
          return Promise.resolve();
        },
      },
    });
    const snapshot = await settled;
    expect(snapshot.phase).toBe('failure');
    expect(snapshot.attributes?.exceptionName).toBe(JOB_REMOVED);
  });

  it('delivers the whole log of the product when no export ids are given', async () => {
    const store = new TaskStore();
    const subscription = store.connect(fromBullmq({ redis: redis.url, productId: 'roads' }));
    const exportId = await pendingExport('whole-log.ndjson');
    worker = await startWorker({ redis: redis.url, dataDir, concurrency: 1 });
    const settled = await store.settled(exportId, { timeout: 30_000 });
    subscription.unsubscribe();
    expect(settled).toEqual(replay(await serverLog(exportId)));
  });

  it('refuses bad options at once with what it expected', () => {
    expect(() => fromBullmq({ redis: 'http://127.0.0.1:6379', productId: 'roads' })).toThrow(/Expected `redis` to be a Redis URL/);
    expect(() => fromBullmq({ redis: redis.url, productId: '' })).toThrow(/Expected `productId` to be a product id/);
    expect(() => fromBullmq({ redis: redis.url, productId: 'roads', exportIds: [''] })).toThrow(/Expected `exportIds`/);
    expect(() => fromBullmq({ redis: redis.url, productId: 'roads', bogus: 1 } as never)).toThrow(/fromBullmq\(\): unknown option `bogus`; the options are/);
  });
});
