import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskStore, type TaskEvent } from '../../../src/index.js';
import { startServer, startWorker, type ExportServer, type ExportWorker } from '../../../src/server/index.js';
import { EXPORT_QUEUE, QUEUE_OPTIONS, QUEUE_PREFIX, redisKeys } from '../../../src/server/redis/redis-keys.js';
import { readEventStream } from '../../support/event-stream.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';

/** Short retention, so that what expires does within the test. */
const RETENTION_MS = 300;
const OUTCOME_RETENTION_MS = 1_500;
const IDEMPOTENCY_TTL_MS = 600;

let redis: RedisServer;
let db: Redis;
let dataDir: string;
let server: ExportServer;
let worker: ExportWorker | undefined;

const EXPORTS = '/vector/v2/products/tiny/search/export';

async function post(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function startExport(key: string, headers: Record<string, string> = {}): Promise<string> {
  const answer = await post(EXPORTS, { key, query: {} }, headers);
  expect(answer.status).toBe(200);
  return ((await answer.json()) as { export_id: string }).export_id;
}

/** Starts an export and cancels it while it waits on the queue: it ends at once, with no worker (no job thread to start). */
async function startAndCancel(key: string): Promise<string> {
  const exportId = await startExport(key);
  expect((await post(`${EXPORTS}/${exportId}/cancel`)).status).toBe(202);
  return exportId;
}

/** Waits until the export is final: its final append is what trims and prunes. */
async function untilFinal(exportId: string): Promise<void> {
  for (;;) {
    const [state] = (await statusOf([exportId])).data;
    if (state?.type === 'snapshot' && (state.phase === 'success' || state.phase === 'failure')) return;
    await sleep(20);
  }
}

async function statusOf(ids: readonly string[]): Promise<{ data: TaskEvent[]; missing: string[] }> {
  const answers = [];
  for (let i = 0; i < ids.length; i += 500) {
    const answer = await post(`${EXPORTS}/status`, { export_ids: ids.slice(i, i + 500) });
    expect(answer.status).toBe(200);
    answers.push((await answer.json()) as { data: TaskEvent[]; missing: string[] });
  }
  return { data: answers.flatMap((a) => a.data), missing: answers.flatMap((a) => a.missing) };
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** BullMQ's own event stream: capped by BullMQ at about 10,000 entries (`streams.events.maxLen`), whatever the number of jobs. */
const BULL_EVENTS = `${QUEUE_PREFIX}:${EXPORT_QUEUE}:events`;

/** Redis's `used_memory`, less what BullMQ's event stream holds (bounded by its own cap, checked apart). */
async function usedMemory(): Promise<number> {
  const used = Number(/^used_memory:(\d+)/m.exec(await db.info('memory'))![1]);
  return used - ((await db.memory('USAGE', BULL_EVENTS)) ?? 0);
}

/** The SSE frames of a stream read for `ms` (the route never ends by itself), as [id, type, event]. */
async function frames(query: string, headers: Record<string, string> = {}, ms = 600): Promise<[string, string, TaskEvent][]> {
  const { status, text } = await readEventStream(`${server.url}${EXPORTS}/events${query}`, { headers, withinMs: ms });
  expect(status).toBe(200);
  return [...text.matchAll(/^id: (.+)\nevent: (.+)\ndata: (.+)$/gm)].map((m) => [m[1]!, m[2]!, JSON.parse(m[3]!) as TaskEvent]);
}

beforeAll(async () => {
  redis = await startRedisServer();
  db = new Redis(redis.url);
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-redis-retention-'));
  server = await startServer({
    redis: redis.url,
    dataDir,
    heartbeatMs: 200,
    retentionMs: RETENTION_MS,
    outcomeRetentionMs: OUTCOME_RETENTION_MS,
    idempotencyTtlMs: IDEMPOTENCY_TTL_MS,
  });
  expect((await post('/vector/v2/products', { id: 'tiny' })).status).toBe(201);
  expect((await post('/vector/v2/products/tiny/features', Array.from({ length: 3 }, (_, i) => ({ type: 'Feature', id: i, geometry: null, properties: {} })))).status).toBe(200);
});

afterAll(async () => {
  await worker?.close();
  await server?.close();
  db?.disconnect();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('retention on Redis', () => {
  it('keeps the stream, the keys and used_memory bounded over 2,000 exports', async () => {
    const round = async (name: string, count: number): Promise<void> => {
      for (let i = 0; i < count; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => startAndCancel(`${name}/${i + j}.ndjson`)));
      }
    };
    /** Past every retention, then one more export: its final event prunes what expired. */
    const settle = async (): Promise<void> => {
      await sleep(OUTCOME_RETENTION_MS + 200);
      for (let i = 0; i < 25; i++) await startAndCancel(`settle/${i}.ndjson`);
      await sleep(RETENTION_MS + 500);
    };
    await round('warm', 200);
    await settle();
    const before = { memory: await usedMemory(), keys: await db.dbsize(), stream: await db.xlen(redisKeys.events('tiny')) };
    await round('many', 2_000);
    // Unbounded, 2,000 exports would hold 6,000 stream entries and 6,000 keys.
    expect(await db.xlen(redisKeys.events('tiny'))).toBeLessThan(6_000);
    await settle();
    const after = { memory: await usedMemory(), keys: await db.dbsize(), stream: await db.xlen(redisKeys.events('tiny')) };
    // What is left is what the last exports' window holds, as before the 2,000: nothing per export.
    expect(after.stream).toBeLessThanOrEqual(before.stream + 3 * 25);
    expect(after.keys).toBeLessThanOrEqual(before.keys + 25);
    // Unbounded, they cost 3.6 KB each (7 MB). Bounded, what is left is allocator noise, which
    // read 77 KB once on a loaded machine: under 256 KB (128 B an export) is 28 times below.
    expect(after.memory - before.memory).toBeLessThan(256 * 1024);
    expect(await db.xlen(BULL_EVENTS)).toBeLessThanOrEqual(10_000 + 200);
    // BullMQ keeps no finished job either.
    const queue = new Queue(EXPORT_QUEUE, { ...QUEUE_OPTIONS, connection: db });
    try {
      expect(await queue.getJobCounts('completed', 'failed')).toEqual({ completed: 0, failed: 0 });
    } finally {
      await queue.close();
    }
  });

  it('keeps a compact outcome equal to the record after the full record expired, listed, then forgets it after the outcome retention', async () => {
    worker = await startWorker({ redis: redis.url, dataDir, concurrency: 1 });
    const exportId = await startExport('compact.ndjson');
    let full: TaskEvent | undefined;
    while (full?.type !== 'snapshot' || full.phase !== 'success') {
      full = (await statusOf([exportId])).data[0];
      await sleep(20);
    }
    expect(full.log?.length).toBeGreaterThan(0);
    await sleep(RETENTION_MS + 200);
    const [compact] = (await statusOf([exportId])).data;
    // The same snapshot, at the same seq, from the compact outcome.
    expect(await db.exists(redisKeys.export('tiny', exportId))).toBe(0);
    expect(compact).toEqual({ ...full, time: expect.any(String) as unknown });
    const listed = (await (await fetch(`${server.url}${EXPORTS}`)).json()) as { data: { id: string; attributes: Record<string, unknown> }[] };
    expect(listed.data.find((e) => e.id === exportId)?.attributes).toMatchObject({ status: 'SUCCESS', key: 'compact.ndjson', sha256: full.attributes!.sha256 });
    await sleep(OUTCOME_RETENTION_MS);
    // Outcomes past their retention go at the next final append: wait until the cancelled one is final.
    await untilFinal(await startAndCancel('prune.ndjson'));
    expect(await statusOf([exportId])).toEqual({ data: [], missing: [exportId] });
  });

  it('gives an Idempotency-Key its export for its window only', async () => {
    const first = await startExport('idem-1.ndjson', { 'idempotency-key': 'k' });
    expect(await startExport('idem-1.ndjson', { 'idempotency-key': 'k' })).toBe(first);
    await sleep(IDEMPOTENCY_TTL_MS + 100);
    expect(await startExport('idem-1.ndjson', { 'idempotency-key': 'k' })).not.toBe(first);
  });

  it('resumes a client offline across the trim with a snapshot of every export changed since its cursor, then live: it ends equal to the status routes, losing none', async () => {
    worker ??= await startWorker({ redis: redis.url, dataDir, concurrency: 1 });
    const store = new TaskStore();
    const known = [await startExport('offline/run.ndjson'), await startAndCancel('offline/cancelled.ndjson')];
    // Online: the client reads the log up to here, then goes away with its cursor.
    const seen = await frames('');
    for (const [, , event] of seen) store.apply(event);
    const cursor = seen.at(-1)![0];
    // Offline: exports end, new ones start and end, others start and stay pending (no worker takes them while it is away).
    await worker.close();
    worker = undefined;
    const later = [await startAndCancel('offline/later-cancelled.ndjson'), await startExport('offline/pending.ndjson')];
    await sleep(RETENTION_MS + 100);
    await untilFinal(await startAndCancel('offline/trims.ndjson'));
    expect(await db.xrange(redisKeys.events('tiny'), cursor, cursor)).toEqual([]);
    // Back: the route does not replay what is left from the trimmed cursor, it sends snapshots first.
    const resumed = await frames('', { 'last-event-id': cursor });
    const snapshots = resumed.filter(([, type]) => type === 'snapshot');
    expect(resumed.slice(0, snapshots.length)).toEqual(snapshots);
    expect(snapshots.length).toBeGreaterThanOrEqual(known.length + later.length);
    // Every snapshot's cursor is at or before the log's end; only the last one moves the client on.
    const end = (await db.xrevrange(redisKeys.events('tiny'), '+', '-', 'COUNT', 1))[0]![0];
    expect(snapshots.slice(0, -1).every(([id]) => id === cursor)).toBe(true);
    expect(snapshots.at(-1)![0]).toBe(end);
    for (const [, , event] of resumed) store.apply(event);
    const ids = [...known, ...later];
    const { data, missing } = await statusOf(ids);
    expect(missing).toEqual([]);
    for (const snapshot of data) {
      const truth = new TaskStore();
      truth.apply(snapshot);
      expect(store.get(snapshot.export_id)).toEqual(truth.get(snapshot.export_id));
    }
    expect(store.get(later[1]!)?.phase).toBe('pending');
  });
});
