import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, ServerError, TaskStore, type ExportClient, type Feature } from '../../../src/index.node.js';
import { fromBullmq } from '../../../src/bullmq/index.js';
import { startServer, startWorker, type ExportServer } from '../../../src/server/index.js';
import { EXPORT_QUEUE, exportJobId, exportJobKey, QUEUE_PREFIX, redisKeys } from '../../../src/server/redis/redis-keys.js';
import { WORKER_LOST_STACKTRACE } from '../../../src/server/redis/start-worker.js';
import { readEventStream } from '../../support/event-stream.js';
import { startApiInstances, startWorkerProcess, type WorkerProcess } from '../../support/redis-cluster.js';
import { startRedisCluster, type ClusterNode, type RedisCluster } from '../../support/redis-cluster-nodes.js';

const run = promisify(execFile);

/** The workers' lock: a killed worker's started export ends `internal` within 1.5 times it once the other worker looks. */
const LOCK_MS = 1_000;
/** The API instances' command timeout: a request on a product whose master is dead is answered 503 after it. */
const REDIS_TIMEOUT_MS = 1_000;
/** What a loaded CI machine may add to a bound. */
const SLACK_MS = 2_500;

let cluster: RedisCluster;
let dataDir: string;
let servers: ExportServer[];
let db: Cluster;
const workers: WorkerProcess[] = [];
let client: ExportClient | undefined;
/** One product on each master: `near` on the master of the queue's slot, `far` and `other` on the other two. */
let products: { near: string; far: string; other: string };
let masters: { near: ClusterNode; far: ClusterNode; other: ClusterNode };

const points = (n: number): Feature[] =>
  Array.from({ length: n }, (_, i) => ({ type: 'Feature', id: i, geometry: { type: 'Point', coordinates: [((i * 37) % 360) - 180, ((i * 11) % 170) - 85] }, properties: {} }));
const ring = Array.from({ length: 4_000 }, (_, i) => [60 * Math.cos((2 * Math.PI * i) / 4_000), 60 * Math.sin((2 * Math.PI * i) / 4_000)]);
/** Seconds of work on 20,000 points: long enough to act while the export runs. */
const SLOW_QUERY = { geometry: { type: 'Polygon' as const, coordinates: [[...ring, ring[0]!]] } };

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Whether a key is on the master at `port`, asked of that master alone (no cluster redirection). */
async function keyOn(port: number, key: string): Promise<boolean> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'EXISTS', key]);
  return stdout.trim() === '1';
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  db = new Cluster(cluster.nodes.map(({ port }) => ({ host: '127.0.0.1', port })), { redisOptions: { maxRetriesPerRequest: 1 } });
  db.on('error', () => undefined);
  // Product ids by the master their slot is on (CLUSTER KEYSLOT), one per master.
  const queueMaster = await cluster.nodeOf(`${QUEUE_PREFIX}:${EXPORT_QUEUE}:meta`);
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3; i++) {
    const node = await cluster.nodeOf(redisKeys.events(`p${i}`));
    if (!byMaster.has(node.port)) byMaster.set(node.port, `p${i}`);
  }
  const [farPort, otherPort] = [...byMaster.keys()].filter((port) => port !== queueMaster.port) as [number, number];
  products = { near: byMaster.get(queueMaster.port)!, far: byMaster.get(farPort)!, other: byMaster.get(otherPort)! };
  const node = (port: number): ClusterNode => cluster.nodes.find((n) => n.port === port)!;
  masters = { near: queueMaster, far: node(farPort), other: node(otherPort) };
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-redis-cluster-'));
  servers = await startApiInstances(cluster, dataDir, 2, { redisTimeoutMs: REDIS_TIMEOUT_MS });
  workers.push(...(await Promise.all([startWorkerProcess(cluster, dataDir, { lockDurationMs: LOCK_MS }), startWorkerProcess(cluster, dataDir, { lockDurationMs: LOCK_MS })])));
  const setup = createClient({ url: servers[0]!.url });
  for (const product of Object.values(products)) await (await setup.createFeatureCollection(product)).add(points(product === products.other ? 20_000 : 5));
  await setup.close();
}, 60_000);

afterEach(async () => {
  await client?.close();
  if (client !== undefined) {
    expect(client.store.pendingWaits).toBe(0);
    expect(client.store.timerArmed).toBe(false);
  }
  client = undefined;
});

afterAll(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.kill()));
  await Promise.all((servers ?? []).map((server) => server.close()));
  db?.disconnect();
  await cluster?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the service on a 3-master Redis Cluster, 2 API instances, 2 workers', () => {
  it('runs exports of products on three masters, each product\'s keys on its own master', async () => {
    client = createClient({ url: servers[1]!.url });
    const tasks = await Promise.all(Object.values(products).map((product) => client!.featureCollection(product).export(`${product}/first.ndjson`, { query: { query_limit: 3 } })));
    await Promise.all(tasks.map((task) => task.getResult({ wait: true, timeout: 20_000 })));
    for (const task of tasks) await expect(task.status).resolves.toBe('SUCCESS');
    // The keys of each product are on the master its slot says, asked of that master alone.
    for (const name of ['near', 'far', 'other'] as const) {
      const product = products[name];
      const task = tasks[Object.values(products).indexOf(product)]!;
      for (const key of [redisKeys.product(product), redisKeys.events(product), redisKeys.export(product, task.tuid), redisKeys.final(product)]) {
        expect(await keyOn(masters[name].port, key)).toBe(true);
      }
    }
    expect(new Set(Object.values(masters).map((node) => node.port)).size).toBe(3);
  });

  it('refuses --redis naming a node of the cluster, saying to give --redis-cluster', async () => {
    const node = cluster.nodes[0]!;
    await expect(startServer({ redis: `redis://${node.address}`, dataDir })).rejects.toThrow(
      new RegExp(`redis://${node.address.replace(/\./g, '\\.')}/? is a node of a Redis Cluster: give its nodes with --redis-cluster host:port,\\.\\.\\. .* instead of --redis`),
    );
    await expect(startWorker({ redis: `redis://${node.address}`, dataDir })).rejects.toThrow(/is a node of a Redis Cluster: give its nodes with --redis-cluster/);
  });

  it('resumes an event stream at the other instance from a cursor of the first, with no repeat, on each master', async () => {
    for (const product of Object.values(products)) {
      await post(servers[0]!.url, `/vector/v2/products/${product}/search/export`, { key: `${product}/resume.ndjson`, query: { query_limit: 1 } });
      const path = `/vector/v2/products/${product}/search/export/events`;
      const frames = async (url: string, headers: Record<string, string> = {}): Promise<[string, string][]> => {
        const { status, text } = await readEventStream(url, { headers, withinMs: 500 });
        expect(status).toBe(200);
        return [...text.matchAll(/^id: (.+)\nevent: (.+)$/gm)].map((m) => [m[1]!, m[2]!]);
      };
      const all = await frames(`${servers[0]!.url}${path}`);
      expect(all.length).toBeGreaterThanOrEqual(2);
      const rest = await frames(`${servers[1]!.url}${path}`, { 'last-event-id': all[0]![0] });
      expect(rest).toEqual(all.slice(1));
    }
  });

  it('cancels a running export through its product\'s sharded channel', async () => {
    client = createClient({ url: servers[0]!.url });
    const task = await client.featureCollection(products.other).export(`${products.other}/cancelled.ndjson`, { query: SLOW_QUERY });
    await expect.poll(() => task.snapshot.phase, { timeout: 20_000, interval: 20 }).toBe('running');
    const answer = await fetch(`${servers[1]!.url}/vector/v2/products/${products.other}/search/export/${task.tuid}/cancel`, { method: 'POST' });
    expect(answer.status).toBe(202);
    await task.getResult({ wait: true, timeout: 10_000 });
    await expect(task.failureType).resolves.toBe('cancelled');
  });

  it('feeds a TaskStore from the cluster with fromBullmq, and leaves no connection on any master once everything it started is closed', async () => {
    // This process's connections on each master (the service names its connections with its pid; the
    // worker processes may open one lazily meanwhile), less ioredis's short-lived slot refreshers.
    const clients = async (): Promise<number[]> =>
      Promise.all(
        cluster.nodes.map(async ({ port }) => {
          const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'CLIENT', 'LIST']);
          return stdout.split('\n').filter((line) => new RegExp(`name=\\S*:${process.pid}\\b`).test(line) && !/refresher/.test(line)).length;
        }),
      );
    // What the tests before closed may still be going: count once it holds still.
    let before = await clients();
    for (let same = 0; same < 3; ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const now = await clients();
      same = now.join() === before.join() ? same + 1 : 0;
      before = now;
    }
    const server = await startServer({ redisCluster: cluster.seeds, dataDir, heartbeatMs: 200 });
    const worker = await startWorker({ redisCluster: [cluster.nodes[0]!.address], dataDir, concurrency: 1, lockDurationMs: LOCK_MS });
    try {
      const answer = await post(server.url, `/vector/v2/products/${products.far}/search/export`, { key: `${products.far}/bullmq.ndjson`, query: { query_limit: 2 } });
      const { export_id: exportId } = (await answer.json()) as { export_id: string };
      const store = new TaskStore();
      const subscription = store.connect(fromBullmq({ redisCluster: cluster.seeds, productId: products.far, exportIds: [exportId] }));
      try {
        const settled = await store.settled(exportId, { timeout: 20_000 });
        expect(settled.phase).toBe('success');
        // What is counted is what they opened: their connections carry this process's pid.
        const sum = (counts: number[]): number => counts.reduce((a, b) => a + b, 0);
        expect(sum(await clients())).toBeGreaterThan(sum(before));
        // An event stream of the product at the new instance, so that it has a tail to close.
        const { status } = await readEventStream(`${server.url}/vector/v2/products/${products.far}/search/export/events`, { withinMs: 300 });
        expect(status).toBe(200);
      } finally {
        subscription.unsubscribe();
      }
    } finally {
      await worker.close();
      await server.close();
    }
    await expect.poll(clients, { timeout: 5_000, interval: 100 }).toEqual(before);
  });

  it(`ends the running export of a worker killed with SIGKILL internal within 1.5 lock durations, and the other worker goes on`, async () => {
    client = createClient({ url: servers[0]!.url });
    const task = await client.featureCollection(products.other).export(`${products.other}/killed.ndjson`, { query: SLOW_QUERY });
    await expect.poll(() => task.snapshot.phase, { timeout: 20_000, interval: 20 }).toBe('running');
    // The worker BullMQ gave the job to: its name, with its pid, is in the job's hash.
    const runner = await db.hget(exportJobKey(exportJobId(products.other, task.tuid)), 'pb');
    const killed = workers.find((worker) => runner?.endsWith(`:${worker.pid}`));
    expect(killed, `the job's worker (${runner}) is one of ours`).toBeDefined();
    await killed!.kill();
    workers.splice(workers.indexOf(killed!), 1);
    // The other worker's stalled-job check takes the job back: the wait's own bound is the documented time.
    await task.getResult({ wait: true, timeout: 1.5 * LOCK_MS + SLACK_MS });
    await expect(task.failureType).resolves.toBe('internal');
    await expect(task.stacktrace).resolves.toBe(WORKER_LOST_STACKTRACE);
    const next = await client.featureCollection(products.near).export(`${products.near}/after-kill.ndjson`, { query: { query_limit: 2 } });
    await next.getResult({ wait: true, timeout: 20_000 });
    await expect(next.status).resolves.toBe('SUCCESS');
    workers.push(await startWorkerProcess(cluster, dataDir, { lockDurationMs: LOCK_MS }));
  });

  it('answers 503 naming the product for the products of a dead master, and goes on for the others', async () => {
    client = createClient({ url: servers[0]!.url });
    const stranded = await client.featureCollection(products.far).export(`${products.far}/stranded.ndjson`, { query: { query_limit: 1 } });
    await stranded.getResult({ wait: true, timeout: 20_000 });
    await masters.far.kill();
    for (const server of servers) {
      const started = Date.now();
      const answer = await fetch(`${server.url}/vector/v2/products/${products.far}/search/export/${stranded.tuid}/status`);
      expect(Date.now() - started).toBeLessThan(REDIS_TIMEOUT_MS + SLACK_MS);
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('1');
      const body = (await answer.json()) as { errors: { detail: string }[] };
      expect(body.errors[0]!.detail).toMatch(new RegExp(`cannot reach the master holding product "${products.far}" in its Redis Cluster`));
    }
    // A client's request on that product ends within its retry budget, with the 503 it got.
    const budgetMs = 2_000;
    const waiting = createClient({ url: servers[1]!.url, retry: { budgetMs } });
    const others = [createClient({ url: servers[0]!.url }), createClient({ url: servers[1]!.url })];
    try {
      const started = Date.now();
      const failed = await waiting.featureCollection(products.far).getExport(stranded.tuid).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(Date.now() - started).toBeLessThan(budgetMs + REDIS_TIMEOUT_MS + SLACK_MS);
      expect(failed).toBeInstanceOf(ServerError);
      expect((failed as ServerError).status).toBe(503);
      expect((failed as ServerError).message).toMatch(new RegExp(`cannot reach the master holding product "${products.far}"`));
      // The products of the other masters go on, at either instance.
      const tasks = await Promise.all(
        [products.near, products.other].map((product, i) => others[i]!.featureCollection(product).export(`${product}/during.ndjson`, { query: { query_limit: 2 } })),
      );
      await Promise.all(tasks.map((task) => task.getResult({ wait: true, timeout: 20_000 })));
      for (const task of tasks) await expect(task.status).resolves.toBe('SUCCESS');
    } finally {
      await Promise.all([waiting, ...others].map((c) => c.close()));
    }
  }, 60_000);
});
