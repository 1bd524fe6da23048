/**
 * The Redis costs of `npm run bench:redis` (`--part=memory`, `--part=tracker`), each side by
 * side with plain BullMQ in the same run, on the same `redis-server`:
 *
 * - memory: Redis bytes per finished export once its retention window passed (the compact
 *   outcome and its list entries), against BullMQ's own bytes per completed job with its
 *   default retention (every completed job kept). Both exclude BullMQ's event stream, which
 *   BullMQ caps at about 10,000 entries whatever the number of jobs.
 * - tracker: `fromBullmq` following N pending exports, idle (Redis commands per second from
 *   `INFO commandstats`, CPU ms per second, heap per pending task: what it holds following N,
 *   less what it holds following 100, over N - 100, after a first start that compiles its
 *   code), against a `QueueEvents`
 *   listener that keeps each job's state in a Map, the way a user would track N jobs; and busy:
 *   the CPU each uses while a BullMQ worker in another process (`bench/tracker-finisher.ts`)
 *   ends the N jobs, from its start until the side has heard every one end, per export.
 * @packageDocumentation
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { fromBullmq } from '../src/bullmq/index.js';
import { startServer } from '../src/server/index.js';
import { EXPORT_QUEUE, exportJobId, QUEUE_OPTIONS, QUEUE_PREFIX } from '../src/server/redis/redis-keys.js';
import { startRedisServer, type RedisServer } from '../test/support/redis-server.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function post(url: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

/** `used_memory` less what the BullMQ event streams hold (capped by BullMQ, not per job). */
async function usedMemory(db: Redis): Promise<number> {
  const used = Number(/^used_memory:(\d+)/m.exec(await db.info('memory'))![1]);
  let streams = 0;
  // BullMQ's event streams: the bench's own queue (default prefix) and the service's (hash-tagged prefix).
  for (const key of [...(await db.keys('bull:*:events')), `${QUEUE_PREFIX}:${EXPORT_QUEUE}:events`]) streams += (await db.memory('USAGE', key)) ?? 0;
  return used - streams;
}

/** Total calls of every command so far, from INFO commandstats. */
async function commandCalls(db: Redis): Promise<number> {
  return [...(await db.info('commandstats')).matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** Starts `count` exports of `productId`, 100 at a time; with `cancel`, cancels each (it ends at once, no worker needed). */
async function startExports(url: string, productId: string, count: number, cancel: boolean): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 100) {
    ids.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, async (_, j) => {
          const answer = await post(url, `/vector/v2/products/${productId}/search/export`, { key: `bench/${i + j}.ndjson`, query: {} });
          const { export_id: id } = (await answer.json()) as { export_id: string };
          if (cancel) await post(url, `/vector/v2/products/${productId}/search/export/${id}/cancel`);
          return id;
        }),
      )),
    );
  }
  return ids;
}

export interface MemoryResult {
  readonly exports: number;
  readonly bytesPerFinishedExport: number;
  readonly bullmqBytesPerCompletedJob: number;
  readonly ratio: number;
  readonly target: 2;
  readonly pass: boolean;
}

/** Bytes per finished export after its retention window, against BullMQ's bytes per completed job. */
export async function measureMemory(count: number): Promise<MemoryResult> {
  const redis = await startRedisServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-bench-memory-'));
  const db = new Redis(redis.url);
  try {
    // BullMQ alone: jobs carrying what ours carry, completed with an outcome of the same size.
    const queue = new Queue('bench-plain', { connection: db });
    const before = await usedMemory(db);
    const workerConnection = db.duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker(
      'bench-plain',
      (job) => Promise.resolve({ key: `bench/${job.id}.ndjson`, size_bytes: 1234, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', runtime: 0.01 }),
      { connection: workerConnection, concurrency: 50 },
    );
    const done = new Promise<void>((resolve) => {
      let completed = 0;
      worker.on('completed', () => {
        if (++completed === count) resolve();
      });
    });
    for (let i = 0; i < count; i += 500) {
      await queue.addBulk(Array.from({ length: Math.min(500, count - i) }, () => ({ name: 'export', data: { productId: 'bench', exportId: crypto.randomUUID() } })));
    }
    await done;
    await worker.close();
    workerConnection.disconnect();
    const bullmq = ((await usedMemory(db)) - before) / count;
    await queue.obliterate({ force: true });
    await queue.close();

    const server = await startServer({ redis: redis.url, dataDir, retentionMs: 200 });
    await post(server.url, '/vector/v2/products', { id: 'bench' });
    await startExports(server.url, 'bench', 50, true);
    await sleep(500);
    await startExports(server.url, 'bench', 5, true);
    const ours0 = await usedMemory(db);
    await startExports(server.url, 'bench', count, true);
    // Past the window: the full records expire (Redis's active expiry), the stream is trimmed by the next final events.
    await sleep(1_500);
    await startExports(server.url, 'bench', 5, true);
    await sleep(500);
    const ours = ((await usedMemory(db)) - ours0) / count;
    await server.close();
    const ratio = ours / bullmq;
    return { exports: count, bytesPerFinishedExport: Math.round(ours), bullmqBytesPerCompletedJob: Math.round(bullmq), ratio, target: 2, pass: ratio <= 2 };
  } finally {
    db.disconnect();
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export interface TrackerSide {
  readonly commandsPerSecond: number;
  readonly cpuMsPerSecond: number;
  readonly heapBytesPerTask: number;
}

/** CPU while N jobs end, lowest of the rounds. */
export interface BusySide {
  /** CPU of this process per export that ended, microseconds (user + system). */
  readonly cpuUsPerExport: number;
  /** Exports ended per second, from the worker's start until this side heard the last end. */
  readonly exportsPerSecond: number;
  /** CPU of `redis-server` per export meanwhile, microseconds (INFO cpu), for what each side asks of Redis. */
  readonly redisCpuUsPerExport: number;
}

export interface TrackerResult {
  readonly pending: number;
  readonly tracker: TrackerSide;
  readonly queueEvents: TrackerSide;
  readonly busy: { readonly tracker: BusySide; readonly queueEvents: BusySide; readonly rounds: number };
  readonly goals: {
    readonly idleCommandsPerSecond: { value: number; target: 20; pass: boolean };
    readonly idleCpuMsPerSecond: { value: number; target: 2; pass: boolean };
    readonly heapRatio: { value: number; target: 1.5; pass: boolean };
    readonly busyCpuRatio: { value: number; target: 1.2; pass: boolean };
  };
}

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('bench:redis --part=tracker measures heap: run it with node --expose-gc (npm run bench:redis does)');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Idle cost of following `pending` exports: Redis commands, CPU and heap, against a QueueEvents listener with a Map. */
async function idle(db: Redis, ids: readonly string[], windowMs: number, start: (ids: readonly string[]) => Promise<() => Promise<void>>): Promise<TrackerSide> {
  // Once with a few tasks, not counted: the code paths that run only with tasks are compiled
  // (their bytecode is on the heap too, whatever the number of tasks). Then what the side holds
  // with those few (its connections, its objects) is left out of what it holds with N.
  await heapHeld(() => start(ids.slice(0, FEW)));
  const fixed = await heapHeld(() => start(ids.slice(0, FEW)));
  const heapBefore = heap();
  const stop = await start(ids);
  await sleep(1_000);
  const heapAfter = heap();
  const calls0 = await commandCalls(db);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(windowMs);
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  // The INFO call that reads the count is one command itself.
  const calls = (await commandCalls(db)) - calls0 - 1;
  await stop();
  // What it closes asynchronously is gone before the next side measures its heap.
  await sleep(1_500);
  return {
    commandsPerSecond: calls / seconds,
    cpuMsPerSecond: (cpu.user + cpu.system) / 1000 / seconds,
    heapBytesPerTask: Math.max(0, heapAfter - heapBefore - fixed) / (ids.length - FEW),
  };
}

/** Tasks of the run whose heap is left out of the per-task heap. */
const FEW = 100;

/** The heap a side holds once started (`heapUsed` after two `gc()`s, before and after), then stopped. */
async function heapHeld(start: () => Promise<() => Promise<void>>): Promise<number> {
  const before = heap();
  const stop = await start();
  await sleep(1_000);
  const after = heap();
  await stop();
  await sleep(1_500);
  return after - before;
}

/** The BullMQ worker of `bench/tracker-finisher.ts`, in its own process. */
class Finisher {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<string, () => void>();

  constructor() {
    this.#child = fork(fileURLToPath(new URL('./tracker-finisher.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.#child.on('message', (message: { cmd: string }) => {
      const wake = this.#waiting.get(message.cmd);
      this.#waiting.delete(message.cmd);
      wake?.();
    });
  }

  ask(message: Record<string, unknown>, answer: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error(`The finisher exited while waiting for ${answer}`));
      this.#child.once('exit', onExit);
      this.#waiting.set(answer, () => {
        this.#child.off('exit', onExit);
        resolve();
      });
      this.#child.send(message);
    });
  }

  exit(): Promise<void> {
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.send({ cmd: 'exit' });
    });
  }
}

/** redis-server's CPU so far, microseconds (user + system, its main thread and the others). */
async function redisCpuUs(db: Redis): Promise<number> {
  const info = await db.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)![1]);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/**
 * CPU of this process while the finisher ends `ids` (all waiting), until `follow` has heard
 * every one end: `follow` subscribes (not counted), answers a promise of "all ended" and a stop.
 */
async function busy(db: Redis, url: string, finisher: Finisher, ids: readonly string[], follow: () => Promise<{ ended: Promise<void>; stop: () => Promise<void> }>): Promise<BusySide> {
  const { ended, stop } = await follow();
  (globalThis as { gc?: () => void }).gc?.();
  const redis0 = await redisCpuUs(db);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const finished = finisher.ask({ cmd: 'go', redis: url, count: ids.length }, 'done');
  await ended;
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  const redis = (await redisCpuUs(db)) - redis0;
  await finished;
  await stop();
  return { cpuUsPerExport: (cpu.user + cpu.system) / ids.length, exportsPerSecond: ids.length / seconds, redisCpuUsPerExport: redis / ids.length };
}

/** Follows `ids` with fromBullmq (what the bench's idle case measures), until each has its final event. */
async function followWithTracker(url: string, ids: readonly string[]): Promise<{ ended: Promise<void>; stop: () => Promise<void> }> {
  let snapshots = 0;
  let left = ids.length;
  let allEnded!: () => void;
  const ended = new Promise<void>((resolve) => (allEnded = resolve));
  const subscription = fromBullmq({ redis: url, productId: 'bench', exportIds: ids }).subscribe((event) => {
    if (event.type === 'snapshot') snapshots++;
    else if ((event.type === 'succeeded' || event.type === 'failed') && --left === 0) allEnded();
  });
  while (snapshots < ids.length) await sleep(20);
  // Subscribed and read: what comes next is the busy part.
  await sleep(500);
  return { ended, stop: () => Promise.resolve(subscription.unsubscribe()) };
}

/** Follows `ids` with a QueueEvents listener keeping each job's state in a Map, until each completed (or failed, or was removed). */
async function followWithQueueEvents(port: number, ids: readonly string[]): Promise<{ ended: Promise<void>; stop: () => Promise<void> }> {
  const events = new QueueEvents(EXPORT_QUEUE, { ...QUEUE_OPTIONS, connection: { host: '127.0.0.1', port } });
  const states = new Map<string, string>(ids.map((id) => [exportJobId('bench', id), 'waiting']));
  let left = ids.length;
  let allEnded!: () => void;
  const ended = new Promise<void>((resolve) => (allEnded = resolve));
  for (const name of ['active', 'completed', 'failed', 'removed'] as const) {
    events.on(name, ({ jobId }: { jobId: string }) => {
      const was = states.get(jobId);
      if (was === undefined) return;
      states.set(jobId, name);
      if (name !== 'active' && was !== 'completed' && was !== 'failed' && was !== 'removed' && --left === 0) allEnded();
    });
  }
  await events.waitUntilReady();
  await sleep(500);
  return {
    ended,
    stop: async () => {
      await events.close();
      states.clear();
    },
  };
}

/** Busy CPU: `rounds` rounds, each side following its own `pending` fresh exports while the finisher ends them; the lowest of each side. */
async function measureBusy(pending: number, rounds: number): Promise<TrackerResult['busy']> {
  const redis = await startRedisServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-bench-busy-'));
  const db = new Redis(redis.url);
  const finisher = new Finisher();
  try {
    const server = await startServer({ redis: redis.url, dataDir });
    await post(server.url, '/vector/v2/products', { id: 'bench' });
    const best: { tracker?: BusySide; queueEvents?: BusySide } = {};
    const keep = (side: 'tracker' | 'queueEvents', result: BusySide): void => {
      if (best[side] === undefined || result.cpuUsPerExport < best[side].cpuUsPerExport) best[side] = result;
    };
    for (let round = 0; round < rounds; round++) {
      // The API instance only creates the exports; it is idle (no stream open) while a side is measured.
      const forTracker = await startExports(server.url, 'bench', pending, false);
      keep('tracker', await busy(db, redis.url, finisher, forTracker, () => followWithTracker(redis.url, forTracker)));
      const forListener = await startExports(server.url, 'bench', pending, false);
      keep('queueEvents', await busy(db, redis.url, finisher, forListener, () => followWithQueueEvents(redis.port, forListener)));
    }
    await server.close();
    return { tracker: best.tracker!, queueEvents: best.queueEvents!, rounds };
  } finally {
    await finisher.exit();
    db.disconnect();
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** fromBullmq against a QueueEvents listener, both following `pending` exports that do not move. */
export async function measureTracker(pending: number, windowMs: number, busyRounds = 2): Promise<TrackerResult> {
  const redis: RedisServer = await startRedisServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-bench-tracker-'));
  const db = new Redis(redis.url);
  try {
    const server = await startServer({ redis: redis.url, dataDir });
    await post(server.url, '/vector/v2/products', { id: 'bench' });
    const ids = await startExports(server.url, 'bench', pending, false);
    const tracker = await idle(db, ids, windowMs, async (followed) => {
      // The source alone (what it holds per task), as the listener below is alone: a store beside either would cost the same.
      let seen = 0;
      const subscription = fromBullmq({ redis: redis.url, productId: 'bench', exportIds: followed }).subscribe(() => seen++);
      while (seen < followed.length) await sleep(50);
      return () => Promise.resolve(subscription.unsubscribe());
    });
    const queueEvents = await idle(db, ids, windowMs, async (followed) => {
      const events = new QueueEvents(EXPORT_QUEUE, { ...QUEUE_OPTIONS, connection: { host: '127.0.0.1', port: redis.port } });
      const states = new Map<string, string>(followed.map((id) => [exportJobId('bench', id), 'waiting']));
      for (const name of ['active', 'completed', 'failed', 'removed'] as const) events.on(name, ({ jobId }: { jobId: string }) => states.set(jobId, name));
      await events.waitUntilReady();
      return async () => {
        await events.close();
        states.clear();
      };
    });
    await server.close();
    const heapRatio = tracker.heapBytesPerTask / Math.max(1, queueEvents.heapBytesPerTask);
    const busyResult = await measureBusy(pending, busyRounds);
    const busyRatio = busyResult.tracker.cpuUsPerExport / busyResult.queueEvents.cpuUsPerExport;
    return {
      pending,
      tracker,
      queueEvents,
      busy: busyResult,
      goals: {
        busyCpuRatio: { value: busyRatio, target: 1.2, pass: busyRatio <= 1.2 },
        idleCommandsPerSecond: { value: tracker.commandsPerSecond, target: 20, pass: tracker.commandsPerSecond <= 20 },
        idleCpuMsPerSecond: { value: tracker.cpuMsPerSecond, target: 2, pass: tracker.cpuMsPerSecond <= 2 },
        heapRatio: { value: heapRatio, target: 1.5, pass: heapRatio <= 1.5 },
      },
    };
  } finally {
    db.disconnect();
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
