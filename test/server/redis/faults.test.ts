import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asCompleted, createClient, replay, type ExportClient, type ExportTask, type Feature, type TaskEvent } from '../../../src/index.node.js';
import type { ExportServer } from '../../../src/server/index.js';
import { WORKER_LOST_STACKTRACE } from '../../../src/server/redis/start-worker.js';
import { startFaultProxy } from '../../support/fault-proxy.js';
import { startApiInstances, startWorkerProcess, type WorkerProcess } from '../../support/redis-cluster.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { startRoundRobinProxy } from '../../support/round-robin-proxy.js';
import { redisKeys } from '../../../src/server/redis/redis-keys.js';

/** Points spread over the world: an export that intersects them with a many-sided polygon takes a while. */
const points = (n: number): Feature[] =>
  Array.from({ length: n }, (_, i) => ({
    type: 'Feature',
    id: i,
    geometry: { type: 'Point', coordinates: [((i * 37) % 360) - 180, ((i * 11) % 170) - 85] },
    properties: { n: i },
  }));

/** A circle of `sides` vertices around (0, 0): testing a point against it costs `sides` steps. */
function circle(sides: number, radius: number): { type: 'Polygon'; coordinates: number[][][] } {
  const ring = Array.from({ length: sides }, (_, i) => [radius * Math.cos((2 * Math.PI * i) / sides), radius * Math.sin((2 * Math.PI * i) / sides)]);
  return { type: 'Polygon', coordinates: [[...ring, ring[0]!]] };
}
/** Seconds of work: long enough to SIGKILL its worker while it runs. */
const SLOW_QUERY = { geometry: circle(4_000, 60) };
/** About a second of work, with events along the way. */
const STEADY_QUERY = { geometry: circle(300, 60) };

/**
 * Follows a product's event stream like a client, over raw SSE: each time the stream ends or
 * breaks it reconnects with `Last-Event-ID`, to the next URL of `urls` (another API instance).
 */
function followEvents(urls: readonly string[], productId: string) {
  const received: { cursor: string; event: TaskEvent }[] = [];
  const controller = new AbortController();
  let connections = 0;
  const done = (async () => {
    let cursor: string | undefined;
    while (!controller.signal.aborted) {
      const url = urls[connections++ % urls.length]!;
      try {
        const response = await fetch(`${url}/vector/v2/products/${productId}/search/export/events`, {
          headers: { accept: 'text/event-stream', ...(cursor === undefined ? {} : { 'last-event-id': cursor }) },
          signal: controller.signal,
        });
        if (!response.ok) throw new Error(`events answered ${response.status}: ${await response.text()}`);
        let buffer = '';
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          buffer += chunk.value;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const id = /^id: ?(.*)$/m.exec(frame)?.[1];
            const data = /^data: ?(.*)$/m.exec(frame)?.[1];
            if (id !== undefined && id !== '') cursor = id;
            if (data !== undefined) received.push({ cursor: cursor!, event: JSON.parse(data) as TaskEvent });
          }
        }
      } catch {
        // Cut (a restart, an instance gone): reconnect below.
      }
      if (!controller.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    received,
    get connections() {
      return connections;
    },
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

let redis: RedisServer;
let db: Redis;
let dataDir: string;
let servers: ExportServer[];
const workers: WorkerProcess[] = [];
let client: ExportClient | undefined;

/** The product's whole event log as Redis holds it. */
async function serverLog(productId: string): Promise<{ cursor: string; event: TaskEvent }[]> {
  const entries = await db.xrange(redisKeys.events(productId), '-', '+');
  return entries.map(([cursor, fields]) => ({ cursor, event: JSON.parse(fields[1]!) as TaskEvent }));
}

/** Every export of the log settled exactly once; every task's snapshot is the fold of the server's log of it. */
async function expectSettledOnceAndEqual(productId: string, tasks: readonly ExportTask[]): Promise<TaskEvent[]> {
  const log = (await serverLog(productId)).map((e) => e.event);
  for (const task of tasks) {
    const events = log.filter((e) => e.export_id === task.tuid);
    expect(events.filter((e) => e.type === 'succeeded' || e.type === 'failed')).toHaveLength(1);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(task.ready).toBe(true);
    expect(task.snapshot).toEqual(replay(events));
  }
  return log;
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  redis = await startRedisServer();
  db = new Redis(redis.url, { maxRetriesPerRequest: null });
  db.on('error', () => undefined);
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-redis-faults-'));
  servers = await startApiInstances(redis, dataDir, 2);
  const setup = createClient({ url: servers[0]!.url });
  await (await setup.createFeatureCollection('slow')).add(points(40_000));
  await (await setup.createFeatureCollection('tiny')).add(points(5));
  await setup.close();
});

afterEach(async () => {
  await client?.close();
  if (client !== undefined) {
    expect(client.store.pendingWaits).toBe(0);
    expect(client.store.timerArmed).toBe(false);
  }
  client = undefined;
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
});

afterAll(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.kill()));
  await Promise.all((servers ?? []).map((server) => server.close()));
  db?.disconnect();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the service on Redis, under faults', () => {
  it('ends an export whose worker is SIGKILLed mid-export as an internal failure, picked up by another worker; the next export runs', async () => {
    workers.push(await startWorkerProcess(redis, dataDir, { concurrency: 1 }));
    client = createClient({ url: servers[0]!.url });
    const fc = client.featureCollection('slow');
    const follower = followEvents([servers[1]!.url], 'slow');
    const killed = await fc.export('killed.ndjson', { query: SLOW_QUERY });
    await waitUntil('the export runs', () => killed.snapshot.phase === 'running');
    const queued = await fc.export('after-kill.ndjson', { query: { query_limit: 10 } });
    await workers[0]!.kill();
    expect(killed.ready).toBe(false);
    workers.splice(0, 1);
    workers.push(await startWorkerProcess(redis, dataDir, { concurrency: 1 }));
    await killed.getResult({ wait: true, timeout: 30_000 });
    await queued.getResult({ wait: true, timeout: 30_000 });
    await expect(killed.failureType).resolves.toBe('internal');
    await expect(killed.stacktrace).resolves.toBe(WORKER_LOST_STACKTRACE);
    await expect(queued.status).resolves.toBe('SUCCESS');
    const log = await expectSettledOnceAndEqual('slow', [killed, queued]);
    await waitUntil('the follower has every event', () => follower.received.length >= log.length);
    await follower.stop();
    expect(follower.received).toEqual(await serverLog('slow'));
  }, 120_000);

  it('loses nothing and repeats nothing when Redis restarts mid-stream', async () => {
    workers.push(await startWorkerProcess(redis, dataDir), await startWorkerProcess(redis, dataDir));
    client = createClient({ url: servers[0]!.url });
    const fc = client.featureCollection('slow');
    const before = (await serverLog('slow')).length;
    const follower = followEvents([servers[0]!.url, servers[1]!.url], 'slow');
    const tasks = await Promise.all(Array.from({ length: 3 }, (_, i) => fc.export(`restart/${i}.ndjson`, { query: STEADY_QUERY })));
    await waitUntil('an export runs', () => tasks.some((task) => task.snapshot.phase === 'running'));
    await redis.restart();
    const more = await Promise.all(Array.from({ length: 3 }, (_, i) => fc.export(`restart/after-${i}.ndjson`, { query: { query_limit: 5 } })));
    const all = [...tasks, ...more];
    for await (const _task of asCompleted(all, { timeout: 60_000 })) {
      // Each settles; how is checked below.
    }
    expect(all.every((task) => task.ready)).toBe(true);
    const log = await expectSettledOnceAndEqual('slow', all);
    await waitUntil('the follower has every event', () => follower.received.length >= log.length);
    await follower.stop();
    // The API instances stayed up, so the stream could go on through the restart (their tails
    // reconnect to Redis); either way, what the follower got is the log, once.
    expect(follower.received).toEqual(await serverLog('slow'));
    expect(follower.received.length).toBeGreaterThan(before);
  }, 120_000);

  it('resumes by cursor with no loss and no repeat when the client switches API instance mid-stream', async () => {
    workers.push(await startWorkerProcess(redis, dataDir), await startWorkerProcess(redis, dataDir));
    const spread = await startRoundRobinProxy(servers.map((server) => server.url));
    const proxy = await startFaultProxy(spread.url);
    try {
      client = createClient({ url: proxy.url });
      // Each event stream is cut after a few events; the client reconnects, through the
      // round-robin proxy, to the other instance, with its last cursor.
      proxy.faults.cutStreamAfter = 4;
      const fc = client.featureCollection('slow');
      const tasks = await Promise.all(Array.from({ length: 3 }, (_, i) => fc.export(`switch/${i}.ndjson`, { query: STEADY_QUERY })));
      for (const task of tasks) {
        await task.getResult({ wait: true, timeout: 60_000 });
        if (proxy.faults.cutStreamAfter === Number.POSITIVE_INFINITY) proxy.faults.cutStreamAfter = 4;
      }
      const streams = spread.routed.filter((line) => line.includes('/search/export/events'));
      expect(streams.length).toBeGreaterThanOrEqual(2);
      expect(new Set(streams.map((line) => line.split(' -> ')[1])).size).toBe(2);
      await expectSettledOnceAndEqual('slow', tasks);
      // What the client applied of each export is exactly the server's log of it, in order.
      for (const task of tasks) expect(task.snapshot.seq).toBe((await serverLog('slow')).filter((e) => e.event.export_id === task.tuid).length);
    } finally {
      await proxy.close();
      await spread.close();
    }
  }, 120_000);

  it('runs 1000 exports across 3 workers, each settling once, the client log equal to the server log', async () => {
    // A longer lock than the other tests': 1000 jobs keep the machine busy, and a lock renewed
    // late would count as a dead worker.
    workers.push(...(await Promise.all([0, 1, 2].map(() => startWorkerProcess(redis, dataDir, { concurrency: 2, lockDurationMs: 10_000 })))));
    client = createClient({ url: servers[1]!.url });
    const fc = client.featureCollection('tiny');
    const follower = followEvents([servers[0]!.url, servers[1]!.url], 'tiny');
    const tasks: ExportTask[] = [];
    for (let batch = 0; batch < 10; batch++) {
      tasks.push(...(await Promise.all(Array.from({ length: 100 }, (_, i) => fc.export(`many/${batch * 100 + i}.ndjson`)))));
    }
    let settled = 0;
    // Each export runs in a worker thread started for it, so this takes as long as the machine
    // is busy: about 5 minutes on 2 cores at a load average of 20 (300 exports in 90 s, the
    // client settling each as the server logged it). The wait is generous for that reason.
    for await (const _task of asCompleted(tasks, { timeout: 540_000 })) settled++;
    expect(settled).toBe(1000);
    expect(new Set(tasks.map((task) => task.tuid)).size).toBe(1000);
    for (const task of tasks) expect(task.snapshot.attributes?.status).toBe('SUCCESS');
    const log = await expectSettledOnceAndEqual('tiny', tasks);
    await waitUntil('the follower has every event', () => follower.received.length >= log.length);
    await follower.stop();
    expect(follower.received).toEqual(await serverLog('tiny'));
  }, 600_000);
});
