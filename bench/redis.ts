/**
 * `npm run bench:redis`: the service on Redis and BullMQ, on a real `redis-server` on
 * 127.0.0.1 (started here, append-only, in a temporary directory) with real worker processes
 * (`export-task worker`, built: run `npm run build` first).
 *
 * 1. Throughput: the same exports of the same product, run by 1 worker process, then by 3,
 *    then by 1 again (one job at a time each), in exports per second from the first request to
 *    the last settle; the ratio (3 against the mean of the two runs of 1) says how the service
 *    scales out with workers on this machine's cores.
 * 2. Fan-out latency: from the moment an event is appended (its `time`, this machine's clock)
 *    to the moment an SSE client of an API instance has read it, for every event of a batch of
 *    exports (p50, p99), through Redis (the worker appends, the API instance tails the stream),
 *    beside the SQLite mode (one process appends and serves).
 *
 * 3. Memory (`--part=memory`): Redis bytes per finished export after its retention window,
 *    against BullMQ's own bytes per completed job in the same run (goal <= 2x).
 * 4. Tracker (`--part=tracker`): `fromBullmq` following 1,000 and 10,000 pending exports, idle:
 *    Redis commands per second (`INFO commandstats`, goal <= 20 flat in task count), CPU ms per
 *    second (goal <= 2) and heap per task (goal <= 1.5x), against a `QueueEvents` listener; busy:
 *    CPU per export while a BullMQ worker in another process ends them all (goal <= 1.2x the
 *    listener's), lowest of 2 rounds (1 with `--quick`).
 *
 * Writes `bench/results/redis.json` (1 and 2) and `bench/results/redis-costs.json` (3 and 4).
 * `--part=throughput|memory|tracker` runs one part; without it, all.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asCompleted, createClient, type Feature, type TaskEvent } from '../src/index.node.js';
import { startServer, type ExportServer } from '../src/server/index.js';
import { startRedisServer } from '../test/support/redis-server.js';
import { readEventStream } from '../test/support/event-stream.js';
import { measureMemory, measureTracker } from './redis-costs.js';

const quick = process.argv.includes('--quick');
const PARTS = ['throughput', 'memory', 'tracker'] as const;
const partArg = process.argv.find((a) => a.startsWith('--part='))?.slice('--part='.length);
if (partArg !== undefined && !(PARTS as readonly string[]).includes(partArg)) {
  console.error(`usage: npm run bench:redis [-- [--quick] [--part=${PARTS.join('|')}]]`);
  process.exit(2);
}
const runs = (part: (typeof PARTS)[number]): boolean => partArg === undefined || partArg === part;
const THROUGHPUT_EXPORTS = quick ? 60 : 150;
const LATENCY_EXPORTS = quick ? 20 : 60;
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const features = (n: number): Feature[] =>
  Array.from({ length: n }, (_, i) => ({ type: 'Feature', id: i, geometry: { type: 'Point', coordinates: [i % 180, i % 90] }, properties: { i } }));

/** Starts `export-task worker` (built) and resolves once it is ready; the function stops it. */
async function startWorkerProcess(redisUrl: string, dataDir: string): Promise<() => Promise<void>> {
  const cli = join(root, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error('bench:redis runs the built worker: run `npm run build` first');
  const child = spawn(process.execPath, [cli, 'worker', '--redis', redisUrl, '--data-dir', dataDir, '--concurrency', '1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      if (text.includes('export-task worker ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the worker exited with code ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return async () => {
    child.kill('SIGTERM');
    await exited;
  };
}

/** Exports per second of `count` exports of the product, started at once, until the last one settles. */
async function throughput(url: string, productId: string, count: number, run: string): Promise<number> {
  const client = createClient({ url });
  try {
    const fc = client.featureCollection(productId);
    const started = performance.now();
    const tasks = await Promise.all(Array.from({ length: count }, (_, i) => fc.export(`throughput/${run}/${i}.ndjson`, { query: { query_limit: 200 } })));
    for await (const task of asCompleted(tasks, { timeout: 600_000 })) {
      if (task.snapshot.attributes?.status !== 'SUCCESS') throw new Error(`export ${task.tuid} failed: ${task.snapshot.attributes?.stacktrace}`);
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await client.close();
  }
}

/** Reads the product's event stream and notes, for each event, how long after its `time` it was read. */
function followLatency(url: string, productId: string) {
  const delays: number[] = [];
  const controller = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const done = (async () => {
    const response = await fetch(`${url}/vector/v2/products/${productId}/search/export/events`, {
      headers: { accept: 'text/event-stream', 'last-event-id': await lastCursor(url, productId) },
      signal: controller.signal,
    });
    connected();
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        const now = Date.now();
        buffer += chunk.value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const data = /^data: ?(.*)$/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          if (data !== undefined) delays.push(now - Date.parse((JSON.parse(data) as TaskEvent).time));
        }
      }
    } catch {
      // Aborted at the end.
    }
  })();
  return {
    delays,
    ready,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

/** The cursor of the product's last event so far, from a stream read to its current end. */
async function lastCursor(url: string, productId: string): Promise<string> {
  const { text } = await readEventStream(`${url}/vector/v2/products/${productId}/search/export/events`, { idleMs: 300 });
  return [...text.matchAll(/^id: ?(.+)$/gm)].at(-1)?.[1] ?? '';
}

async function fanOut(server: ExportServer, productId: string, run: string): Promise<{ p50: number; p99: number; events: number }> {
  const follower = followLatency(server.url, productId);
  await follower.ready;
  await throughput(server.url, productId, LATENCY_EXPORTS, run);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await follower.stop();
  return { p50: percentile(follower.delays, 50), p99: percentile(follower.delays, 99), events: follower.delays.length };
}

if (runs('memory') || runs('tracker')) {
  // One part run alone keeps the other's last results.
  const costsFile = join(here, 'results', 'redis-costs.json');
  const costs = (existsSync(costsFile) ? JSON.parse(readFileSync(costsFile, 'utf8')) : {}) as Record<string, unknown>;
  costs['date'] = new Date().toISOString();
  if (runs('memory')) {
    costs['memory'] = await measureMemory(quick ? 1_000 : 2_000);
    console.log('memory per finished export', costs['memory']);
  }
  if (runs('tracker')) {
    const tracker = [];
    for (const pending of [1_000, 10_000]) {
      const result = await measureTracker(pending, quick ? 5_000 : 10_000, quick ? 1 : 2);
      console.log(`tracker at ${pending} pending exports`, JSON.stringify(result, null, 2));
      tracker.push(result);
    }
    costs['tracker'] = tracker;
  }
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(costsFile, `${JSON.stringify(costs, null, 2)}\n`);
}

if (runs('throughput')) {
const redis = await startRedisServer();
const redisDir = await mkdtemp(join(tmpdir(), 'export-task-bench-redis-'));
const sqliteDir = await mkdtemp(join(tmpdir(), 'export-task-bench-sqlite-'));
try {
  const api = await startServer({ redis: redis.url, dataDir: redisDir });
  const setup = createClient({ url: api.url });
  await (await setup.createFeatureCollection('bench')).add(features(5_000));
  await setup.close();

  const rates: Record<string, number[]> = { 1: [], 3: [] };
  let redisLatency: { p50: number; p99: number; events: number } | undefined;
  // 1, 3, then 1 again: on a machine whose load drifts, the two runs of 1 bracket the run of 3.
  for (const workers of [1, 3, 1]) {
    const stops = await Promise.all(Array.from({ length: workers }, () => startWorkerProcess(redis.url, redisDir)));
    // One run to warm up (the workers' first jobs load their code), then the measured one.
    await throughput(api.url, 'bench', 3 * workers, `warm-${workers}`);
    const rate = await throughput(api.url, 'bench', THROUGHPUT_EXPORTS, `w${workers}-${rates[workers]!.length}`);
    rates[workers]!.push(rate);
    if (workers === 3) {
      redisLatency = await fanOut(api, 'bench', 'latency');
    }
    await Promise.all(stops.map((stop) => stop()));
    console.log(`${workers} worker process(es): ${rate.toFixed(1)} exports/s`);
  }
  await api.close();

  const sqlite = await startServer({ dataDir: sqliteDir, concurrency: 3 });
  const setupSqlite = createClient({ url: sqlite.url });
  await (await setupSqlite.createFeatureCollection('bench')).add(features(5_000));
  await setupSqlite.close();
  await throughput(sqlite.url, 'bench', 6, 'warm');
  const sqliteLatency = await fanOut(sqlite, 'bench', 'latency');
  const sqliteRate = await throughput(sqlite.url, 'bench', THROUGHPUT_EXPORTS, 'sqlite');
  await sqlite.close();

  const result = {
    date: new Date().toISOString(),
    exports: THROUGHPUT_EXPORTS,
    throughput: {
      oneWorkerRuns: rates[1],
      oneWorker: mean(rates[1]!),
      threeWorkers: mean(rates[3]!),
      ratio: mean(rates[3]!) / mean(rates[1]!),
      sqliteThreeSlots: sqliteRate,
    },
    fanOutLatencyMs: { redis: redisLatency!, sqlite: sqliteLatency },
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'redis.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await redis.stop();
  await rm(redisDir, { recursive: true, force: true });
  await rm(sqliteDir, { recursive: true, force: true });
}
}
