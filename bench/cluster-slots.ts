/**
 * `npm run bench:cluster`: how hot the export queue's slot runs on a Redis Cluster, to decide
 * between one queue (one slot, on one master) and one queue per group of products.
 *
 * A 3-master cluster on 127.0.0.1 (started here, no persistence), one API instance and one
 * worker (concurrency 4) in this process. The products are picked (CLUSTER KEYSLOT) on the two
 * masters that do not hold the queue's slot, so the queue's master serves the queue alone and
 * the two others the products alone. Then `--exports` (default 600) small exports, 20 at a
 * time, and per master the delta of `INFO cpu` (the server process's user + system CPU) and of
 * `INFO commandstats` (calls, µs inside commands), less an idle period of the same length (the
 * cluster bus's own pings).
 *
 * What it says: CPU per export on the queue's master (Q) against the product masters' (P, all
 * products together). One queue is the bottleneck once the product load is spread over more
 * than about P / Q masters; and one Redis core caps the queue at about 1 / Q exports per
 * second. Writes `bench/results/cluster-slots.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { asCompleted, createClient, type Feature } from '../src/index.node.js';
import { startServer, startWorker } from '../src/server/index.js';
import { EXPORT_QUEUE, QUEUE_PREFIX, redisKeys } from '../src/server/redis/redis-keys.js';
import { startRedisCluster } from '../test/support/redis-cluster-nodes.js';

const exportsArg = process.argv.find((a) => a.startsWith('--exports='))?.slice('--exports='.length);
const EXPORTS = exportsArg === undefined ? 600 : Number(exportsArg);
const PRODUCTS = 8;
const BATCH = 20;

interface NodeSample {
  readonly cpuMs: number;
  readonly calls: number;
  readonly usec: number;
}

async function sample(port: number): Promise<NodeSample> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
  await redis.connect();
  try {
    const cpu = await redis.info('cpu');
    const stats = await redis.info('commandstats');
    const seconds = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
    let calls = 0;
    let usec = 0;
    for (const match of stats.matchAll(/^cmdstat_[^:]+:calls=(\d+),usec=(\d+)/gm)) {
      calls += Number(match[1]);
      usec += Number(match[2]);
    }
    return { cpuMs: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1000, calls, usec };
  } finally {
    redis.disconnect();
  }
}

const minus = (a: NodeSample, b: NodeSample): NodeSample => ({ cpuMs: a.cpuMs - b.cpuMs, calls: a.calls - b.calls, usec: a.usec - b.usec });

const cluster = await startRedisCluster();
const dataDir = await mkdtemp(join(tmpdir(), 'export-task-bench-cluster-'));
try {
  const queueMaster = await cluster.nodeOf(`${QUEUE_PREFIX}:${EXPORT_QUEUE}:meta`);
  const products: string[] = [];
  for (let i = 0; products.length < PRODUCTS; i++) {
    if ((await cluster.nodeOf(redisKeys.events(`bench${i}`))).port !== queueMaster.port) products.push(`bench${i}`);
  }
  const server = await startServer({ redisCluster: cluster.seeds, dataDir });
  const worker = await startWorker({ redisCluster: cluster.seeds, dataDir, concurrency: 4 });
  const client = createClient({ url: server.url });
  const features: Feature[] = Array.from({ length: 20 }, (_, i) => ({ type: 'Feature', id: i, geometry: { type: 'Point', coordinates: [i, i] }, properties: {} }));
  for (const product of products) await (await client.createFeatureCollection(product)).add(features);
  const ports = cluster.nodes.map((node) => node.port);
  const before = await Promise.all(ports.map(sample));
  const started = Date.now();
  for (let i = 0; i < EXPORTS; i += BATCH) {
    const tasks = await Promise.all(
      Array.from({ length: Math.min(BATCH, EXPORTS - i) }, (_, j) => client.featureCollection(products[(i + j) % products.length]!).export(`bench/${i + j}.ndjson`, { query: { query_limit: 5 } })),
    );
    for await (const task of asCompleted(tasks, { timeout: 60_000 })) if (task.snapshot.phase !== 'success') throw new Error(`export ${task.tuid} ended ${task.snapshot.phase}`);
  }
  const elapsedMs = Date.now() - started;
  const during = await Promise.all(ports.map(sample));
  await new Promise((resolve) => setTimeout(resolve, elapsedMs));
  const idle = await Promise.all(ports.map(sample));
  await client.close();
  await worker.close();
  await server.close();
  const load = ports.map((port, i) => {
    const busy = minus(during[i]!, before[i]!);
    const quiet = minus(idle[i]!, during[i]!);
    const net = minus(busy, quiet);
    return { port, role: port === queueMaster.port ? 'queue' : 'products', perExport: { cpuUs: (net.cpuMs * 1000) / EXPORTS, calls: net.calls / EXPORTS, commandUs: net.usec / EXPORTS } };
  });
  const queue = load.find((node) => node.role === 'queue')!.perExport;
  const productLoad = load.filter((node) => node.role === 'products').reduce((sum, node) => sum + node.perExport.cpuUs, 0);
  const result = {
    date: new Date().toISOString(),
    exports: EXPORTS,
    products: PRODUCTS,
    elapsedMs,
    exportsPerSecond: (EXPORTS * 1000) / elapsedMs,
    nodes: load,
    queueCpuUsPerExport: queue.cpuUs,
    productsCpuUsPerExport: productLoad,
    /** Product masters beyond which one queue's master is busier than each of them. */
    mastersBeforeTheQueueIsHottest: productLoad / queue.cpuUs,
    /** Exports per second one Redis core gives the queue's master (all of its CPU), by this run's CPU per export. */
    queueCeilingExportsPerSecond: 1e6 / queue.cpuUs,
  };
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'cluster-slots.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await cluster.stop();
  await rm(dataDir, { recursive: true, force: true });
}
