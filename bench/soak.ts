/**
 * `npm run bench:soak`: a bounded soak of the service and a long-lived client, loopback only.
 *
 * For each mode (SQLite, then Redis with one in-process worker), it runs the service in this
 * process, starts steady exports for `--seconds` (60 by default per mode) at `--rate` per second
 * (3), cancels one in six at a random moment and gives one in six a 1 ms time limit, and follows
 * every export with one long-lived client that drops each task once it settled. Every two seconds
 * it samples (after a GC when `--expose-gc` is on) RSS, heap used, open file descriptors
 * (`/proc/self/fd`), threads (`/proc/self/status`), active handles and the client store's size,
 * then prints the slope of each per 1,000 exports (least squares over the samples after the first
 * fifth, a warm-up) and says which ones grow by design (the event log, the exported files: both
 * on disk, not in these numbers) and which must be flat. Results go to `bench/results/soak.json`.
 *
 * The numbers are of one process that holds both the service and the client, on a shared
 * machine: read the slopes against the per-export sizes, not as absolute figures.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Feature } from '../src/index.node.js';
import { startServer, startWorker, type ExportServer } from '../src/server/index.js';
import { startRedisServer } from '../test/support/redis-server.js';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at === -1) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!(value > 0)) {
    console.error(`Expected --${name} to be a positive number, got ${JSON.stringify(process.argv[at + 1])}`);
    process.exit(2);
  }
  return value;
}
const SECONDS = flag('seconds', 60);
const RATE = flag('rate', 3);
const MODES = process.argv.includes('--sqlite-only') ? ['sqlite'] : ['sqlite', 'redis'];

interface Sample {
  readonly exports: number;
  readonly rssMb: number;
  readonly heapMb: number;
  readonly fds: number;
  readonly threads: number;
  readonly handles: number;
  readonly storeSize: number;
}

const METRICS = ['rssMb', 'heapMb', 'fds', 'threads', 'handles', 'storeSize'] as const;

const gc = (globalThis as { gc?: () => void }).gc;
const features: Feature[] = Array.from({ length: 200 }, (_, i) => ({ type: 'Feature', id: i, geometry: { type: 'Point', coordinates: [i % 180, i % 90] }, properties: { i } }));

function sample(exports: number, storeSize: number): Sample {
  gc?.();
  const status = readFileSync('/proc/self/status', 'utf8');
  const memory = process.memoryUsage();
  return {
    exports,
    rssMb: memory.rss / 2 ** 20,
    heapMb: memory.heapUsed / 2 ** 20,
    fds: readdirSync('/proc/self/fd').length,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN),
    handles: (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length,
    storeSize,
  };
}

/** Least-squares slope of `y` against `x`. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function soak(mode: string): Promise<{ mode: string; exports: number; failed: number; samples: Sample[]; slopes: Record<string, number> }> {
  const dataDir = await mkdtemp(join(tmpdir(), `export-task-soak-${mode}-`));
  const redis = mode === 'redis' ? await startRedisServer() : undefined;
  const server: ExportServer = await startServer(redis === undefined ? { dataDir, concurrency: 2 } : { redis: redis.url, dataDir });
  const worker = redis === undefined ? undefined : await startWorker({ redis: redis.url, dataDir, concurrency: 2 });
  const client = createClient({ url: server.url });
  const samples: Sample[] = [];
  let started = 0;
  let settled = 0;
  let failed = 0;
  const pending = new Set<Promise<void>>();
  try {
    const roads = await client.createFeatureCollection('roads');
    await roads.add(features);
    const end = Date.now() + SECONDS * 1000;
    let nextSample = Date.now();
    while (Date.now() < end) {
      const n = started++;
      const limits = n % 6 === 1 ? { timeoutMs: 1 } : undefined;
      const follow = (async () => {
        const task = await roads.export(`soak/${mode}/${n}.ndjson`, limits === undefined ? {} : { limits });
        if (n % 6 === 2) setTimeout(() => void task.cancel().catch(() => undefined), Math.random() * 200).unref();
        await task.getResult({ wait: true, timeout: 60_000 });
        settled++;
      })().catch(() => void failed++);
      pending.add(follow);
      void follow.finally(() => pending.delete(follow));
      await new Promise((resolve) => setTimeout(resolve, 1000 / RATE));
      if (Date.now() >= nextSample) {
        samples.push(sample(settled, client.store.size));
        nextSample += 2000;
      }
    }
    await Promise.all(pending);
    samples.push(sample(settled, client.store.size));
  } finally {
    await client.close();
    await worker?.close();
    await server.close();
    await redis?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  const steady = samples.slice(Math.floor(samples.length / 5));
  const slopes = Object.fromEntries(METRICS.map((m) => [m, slope(steady.map((s) => [s.exports / 1000, s[m]] as const))]));
  return { mode, exports: settled, failed, samples, slopes };
}

const EXPECT: Record<(typeof METRICS)[number], string> = {
  rssMb: 'flat (the log and files grow on disk, not in memory)',
  heapMb: 'flat',
  fds: 'flat',
  threads: 'flat',
  handles: 'flat',
  storeSize: 'flat (settled tasks nobody holds are let go)',
};

const results = [];
for (const mode of MODES) {
  const result = await soak(mode);
  results.push(result);
  const first = result.samples[0]!;
  const last = result.samples.at(-1)!;
  console.log(`\n${mode}: ${result.exports} exports in ${SECONDS} s (${result.failed} waits failed)`);
  console.log('metric       first    last     slope per 1,000 exports   expected');
  for (const m of METRICS) {
    console.log(`${m.padEnd(12)} ${first[m].toFixed(1).padStart(7)} ${last[m].toFixed(1).padStart(7)} ${result.slopes[m]!.toFixed(2).padStart(12)}              ${EXPECT[m]}`);
  }
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'soak.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ seconds: SECONDS, rate: RATE, gc: gc !== undefined, results }, null, 2)}\n`);
console.log(`\nwritten to bench/results/soak.json`);
