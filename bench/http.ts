/**
 * `npm run bench:http`: the HTTP transport's two measures, on a real server on 127.0.0.1.
 *
 * 1. Event-to-settle latency: from the moment the server emits an export's final event (its
 *    `time`) to the moment the client's wait resolves, over Server-Sent Events, beside a client
 *    polling every 3 s as the DL client did (p50, p99, and the ratio).
 * 2. Requests per poll interval in poll mode against the number of pending tasks (1, 100,
 *    10,000 by default): the batch status route takes all of them in one request, so it must
 *    stay flat. Tasks are kept pending behind a long export on a server running one job at a time.
 * 3. Fan-out: appends per second and server CPU per delivery with 1, 10 and 50 subscribers to
 *    one product, against a bare `node:http` SSE server in the same run (`bench/fanout.ts`).
 *
 * `--part latency|polls|fanout` runs one of them (all by default). Writes
 * `bench/results/http.json` (`http-<part>.json` for one part).
 */
import { setMaxListeners } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type ExportTask, type Feature } from '../src/index.node.js';
import { startServer } from '../src/server/index.js';
import { printFanout, runFanout } from './fanout.js';

const quick = process.argv.includes('--quick');
const PARTS = ['latency', 'polls', 'fanout'] as const;
const partAt = process.argv.indexOf('--part');
const part = partAt === -1 ? undefined : process.argv[partAt + 1];
if (part !== undefined && !(PARTS as readonly string[]).includes(part)) {
  console.error(`Expected --part to be one of ${PARTS.join(', ')}, got ${JSON.stringify(part)}: leave it out to run them all`);
  process.exit(2);
}
const runs = (name: (typeof PARTS)[number]): boolean => part === undefined || part === name;
const EXPORTS = quick ? 12 : 40;
const PENDING = quick ? [1, 100, 1_000] : [1, 100, 10_000];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const features = (n: number): Feature[] =>
  Array.from({ length: n }, (_, i) => ({ type: 'Feature', id: i, geometry: { type: 'Point', coordinates: [i % 180, i % 90] }, properties: { i } }));

/** Latency from each export's final event (server clock = this machine's clock) to its settle in the client. */
async function latencies(url: string, productId: string, options: { transport: 'sse' | 'poll'; interval?: number }): Promise<number[]> {
  const client = createClient({
    url,
    transport: options.transport,
    ...(options.interval === undefined ? {} : { pollInterval: options.interval, maxPollInterval: options.interval }),
  });
  try {
    const fc = client.featureCollection(productId);
    const tasks = await Promise.all(Array.from({ length: EXPORTS }, (_, i) => fc.export(`latency/${options.transport}/${i}.ndjson`)));
    const out: number[] = [];
    await Promise.all(
      tasks.map(async (task: ExportTask) => {
        await task.getResult({ wait: true, timeout: 120_000 });
        const settledAt = Date.now();
        // The final event's time, read back from the server's log through the snapshot's attributes.
        const done = await finalEventTime(url, productId, task.tuid);
        out.push(settledAt - done);
      }),
    );
    return out;
  } finally {
    await client.close();
  }
}

/** The `time` of the export's final event, read from the server's event log. */
async function finalEventTime(url: string, productId: string, exportId: string): Promise<number> {
  const controller = new AbortController();
  const response = await fetch(`${url}/vector/v2/products/${productId}/search/export/events?export_id=${exportId}`, {
    headers: { accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the event stream of ${exportId} ended before its final event`);
      text += value;
      for (const line of text.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const event = JSON.parse(line.slice(5)) as { type: string; time: string };
        if (event.type === 'succeeded' || event.type === 'failed') return Date.parse(event.time);
      }
    }
  } finally {
    controller.abort();
  }
}

async function requestsPerInterval(url: string, pending: number): Promise<{ pending: number; polls: number; statusRequests: number; perPoll: number }> {
  const seen = { status: 0 };
  const counting: typeof fetch = (input, init) => {
    const target = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (/\/search\/export\/status$/.test(target) || /\/search\/export\/[^/]+(\/status)?$/.test(target)) seen.status++;
    return fetch(input, init);
  };
  const setup = createClient({ url });
  const product = `pending-${pending}`;
  const fc = await setup.createFeatureCollection(product);
  await fc.add(features(10));
  await setup.close();
  const client = createClient({ url, transport: 'poll', pollInterval: 200, maxPollInterval: 200, fetch: counting });
  try {
    const mine = client.featureCollection(product);
    const tasks: ExportTask[] = [];
    for (let i = 0; i < pending; i += 200) {
      tasks.push(...(await Promise.all(Array.from({ length: Math.min(200, pending - i) }, (_, j) => mine.export(`pending/${i + j}.ndjson`)))));
    }
    seen.status = 0;
    const controller = new AbortController();
    // One signal for every wait: Node would warn past 10 listeners on it.
    setMaxListeners(0, controller.signal);
    const waits = tasks.map((t) => t.getResult({ wait: true, signal: controller.signal }).catch(() => undefined));
    const duration = 2_000;
    await new Promise((resolve) => setTimeout(resolve, duration));
    controller.abort(new Error('measured'));
    await Promise.all(waits);
    const polls = duration / 200;
    return { pending, polls, statusRequests: seen.status, perPoll: seen.status / polls };
  } finally {
    await client.close();
  }
}

const dataDir = await mkdtemp(join(tmpdir(), 'export-task-bench-http-'));
const results: Record<string, unknown> = { date: new Date().toISOString() };
try {
  if (runs('latency') || runs('polls')) {
    const server = await startServer({ port: 0, dataDir: join(dataDir, 'service'), concurrency: 1 });
    try {
      if (runs('latency')) {
        const setup = createClient({ url: server.url });
        await (await setup.createFeatureCollection('latency')).add(features(200));
        await setup.close();
        const sse = await latencies(server.url, 'latency', { transport: 'sse' });
        const dl = await latencies(server.url, 'latency', { transport: 'poll', interval: 3_000 });
        const latency = {
          sse: { p50: percentile(sse, 50), p99: percentile(sse, 99) },
          dlPolling3s: { p50: percentile(dl, 50), p99: percentile(dl, 99) },
        };
        console.log(`event-to-settle latency, ${EXPORTS} exports (ms):`);
        console.log(`  SSE             p50 ${latency.sse.p50}  p99 ${latency.sse.p99}`);
        console.log(`  DL 3 s polling  p50 ${latency.dlPolling3s.p50}  p99 ${latency.dlPolling3s.p99}`);
        console.log(`  ratio (DL / SSE) p50 ${(latency.dlPolling3s.p50 / Math.max(1, latency.sse.p50)).toFixed(0)}x`);
        Object.assign(results, { exports: EXPORTS, latency });
      }
      if (runs('polls')) {
        // Keep the server's one job slot busy so that every later export stays pending.
        const blocker = createClient({ url: server.url });
        const big = await blocker.createFeatureCollection('blocker');
        await big.add(features(200_000));
        const slow = await big.export('blocker.ndjson', {
          query: { geometry: { type: 'Polygon', coordinates: [[...Array.from({ length: 20_000 }, (_, i) => [Math.cos(i) * 80, Math.sin(i) * 80]), [80, 0]]] } },
        });
        const polls = [];
        for (const n of PENDING) {
          const row = await requestsPerInterval(server.url, n);
          polls.push(row);
          console.log(`poll mode, ${n} pending tasks: ${row.statusRequests} status requests in ${row.polls} intervals (${row.perPoll.toFixed(2)} per interval)`);
        }
        await slow.cancel();
        await blocker.close();
        Object.assign(results, { polls });
      }
    } finally {
      await server.close();
    }
  }
  if (runs('fanout')) {
    const fanout = await runFanout({ dataDir: join(dataDir, 'fanout'), quick });
    printFanout(fanout);
    Object.assign(results, { fanout });
  }
  const here = dirname(fileURLToPath(import.meta.url));
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', part === undefined ? 'http.json' : `http-${part}.json`), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
