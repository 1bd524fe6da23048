/**
 * `npm run bench:capacity`: the unit costs of the capacity model (`docs/capacity.md`), each
 * measured on this machine, loopback only, and a load simulation that checks the model.
 *
 * Parts (`--part <name>` runs one; the others keep their values in the results file):
 *
 * - `append`: the service in this process, each mode in turn (SQLite, its jobs stopped so that
 *   exports stay queued; then an API instance on a `redis-server`, no worker), the appender in a
 *   child process and 48 raw SSE readers in 4 others. CPU per event appended (server CPU per
 *   event with no reader), CPU per SSE delivery ((CPU per event with 48 readers − with none) /
 *   48), bytes per event frame, and SQLite events per second (appended, and per second of CPU).
 *   The Redis mode's costs are the model's; the SQLite mode's are named `sqlite...`.
 * - `idle`: the same services with a 1 s heartbeat and 0, 1,200, then 2,400 idle readers in 4
 *   processes: CPU per heartbeat (so per idle connection per second at any interval), RSS and
 *   heap per connection.
 * - `client`: an HTTP client of the package (`createClient`, `followAll`) in a child process
 *   following 2,000 exports through their lives (queued, cancel requested, failed): its CPU and
 *   heap per tracked task.
 * - `redis`: an API instance and a worker on a real `redis-server`, exports of 1,000 features run
 *   to success: Redis bytes per event and per export within the retention window (`INFO memory`,
 *   `MEMORY USAGE` of the stream), Redis CPU and commands per export, and bytes per finished
 *   export after the window (`retentionMs: 200`).
 * - `worker`: a typical product (10,000 features, unfiltered export), one job at a time: exports
 *   per second of CPU (all threads of the process), events per export, bytes of the file.
 * - `sim`: 5,000 SSE readers in 4 child processes on 2 API instances (child processes) on one
 *   `redis-server`, with a worker process running exports: measured RSS and CPU per connection
 *   against the model's prediction from the unit costs (goal: within 30%).
 *
 * Writes `bench/results/capacity.json`; `--report` (or `bench/capacity-report.ts`) then writes the
 * tables of `docs/capacity.md` from it. `--quick` runs smaller counts.
 * @packageDocumentation
 */
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createClient, type Feature } from '../src/index.node.js';
import { startServer, startWorker } from '../src/server/index.js';
import { EXPORT_QUEUE, QUEUE_PREFIX } from '../src/server/redis/redis-keys.js';
import { startRedisServer } from '../test/support/redis-server.js';
import { readEventStream } from '../test/support/event-stream.js';
import { startService } from './fanout.js';
import { writeCapacityDoc, type CapacityResults, type Unit } from './capacity-report.js';

const PARTS = ['append', 'idle', 'client', 'redis', 'worker', 'sim'] as const;
type Part = (typeof PARTS)[number];

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const partAt = argv.indexOf('--part');
const partArg = partAt === -1 ? argv.find((a) => a.startsWith('--part='))?.slice(7) : argv[partAt + 1];
if (partArg !== undefined && !(PARTS as readonly string[]).includes(partArg)) {
  console.error(`Expected --part to be one of ${PARTS.join(', ')}, got ${JSON.stringify(partArg)}. Usage: npm run bench:capacity -- [--quick] [--part <name>] [--report]`);
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, 'results', 'capacity.json');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('bench:capacity measures heap: run it with node --expose-gc (npm run bench:capacity does)');
  process.exit(2);
}

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function memory(): { rss: number; heap: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

function unit(value: number, units: string, method: string): Unit {
  return { value, unit: units, method };
}

/** A child process driven over IPC (`bench/capacity-peer.ts` or `bench/capacity-api.ts`). */
class Child {
  readonly process: ChildProcess;
  readonly #waiting = new Map<string, { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }>();

  #asked = 0;

  constructor(script: string, args: readonly string[] = []) {
    this.process = fork(join(here, script), args, { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.process.on('message', (message: Record<string, unknown>) => {
      // An answer carries the id of its question; a message sent unasked (`ready`), only its cmd.
      const key = typeof message['id'] === 'number' ? `#${message['id']}` : (message['cmd'] as string);
      const waiter = this.#waiting.get(key);
      this.#waiting.delete(key);
      if (typeof message['error'] === 'string') waiter?.reject(new Error(`${script} ${String(message['cmd'])}: ${message['error']}`));
      else waiter?.resolve(message);
    });
    this.process.once('exit', (code) => {
      for (const waiter of this.#waiting.values()) waiter.reject(new Error(`${script} exited (code ${code}) while asked`));
      this.#waiting.clear();
    });
  }

  #wait(key: string, what: string): Promise<Record<string, unknown>> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return Promise.reject(new Error(`The child process exited (code ${this.process.exitCode}) before ${what}`));
    return new Promise((resolve, reject) => this.#waiting.set(key, { resolve, reject }));
  }

  /** The next message of that `cmd` sent unasked (`ready`). */
  next(cmd: string): Promise<Record<string, unknown>> {
    return this.#wait(cmd, cmd);
  }

  /** Sends a command and answers its reply; several may be in flight. */
  ask(message: { readonly cmd: string } & Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = ++this.#asked;
    const answer = this.#wait(`#${id}`, message.cmd);
    this.process.send({ ...message, id });
    return answer;
  }

  exit(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
      this.process.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.process.send({ cmd: 'exit' });
    });
  }
}

async function createProduct(url: string, id: string): Promise<void> {
  const created = await fetch(`${url}/vector/v2/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
  if (created.status !== 201) throw new Error(`Creating the product ${id}: ${created.status} ${await created.text()}`);
}

const streamPath = (productId: string): string => `/vector/v2/products/${productId}/search/export/events`;

async function countsOf(peer: Child): Promise<{ events: number; heartbeats: number; bytes: number; open: number }> {
  return (await peer.ask({ cmd: 'counts' })) as unknown as { events: number; heartbeats: number; bytes: number; open: number };
}

async function until(test: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`Gave up after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// append: CPU per event appended and per delivery, frame bytes, SQLite events per second

/** The service a part measures: SQLite in this process, or an API instance on a redis-server (no worker: exports stay queued). */
type Mode = 'sqlite' | 'redis';

async function startMeasured(mode: Mode, dataDir: string, heartbeatMs = 15_000): Promise<{ readonly port: number; readonly openStreams: () => number; readonly close: () => Promise<void> }> {
  if (mode === 'sqlite') return startService(dataDir, heartbeatMs);
  const redis = await startRedisServer();
  const server = await startServer({ redis: redis.url, dataDir, heartbeatMs });
  return {
    port: server.port,
    openStreams: () => server.streamStats.open,
    close: async () => {
      await server.close();
      await redis.stop();
    },
  };
}

/** A unit's name: the Redis mode's is the model's, the SQLite mode's is prefixed (`sqliteHeartbeatCpuUs`). */
const named = (mode: Mode, name: string): string => (mode === 'redis' ? name : `sqlite${name[0]!.toUpperCase()}${name.slice(1)}`);

const SERVICE_TEXT: Record<Mode, string> = {
  sqlite: 'SQLite service in the bench process, jobs stopped',
  redis: 'an API instance on a redis-server in the bench process, no worker (exports stay queued)',
};

/** The cases of the append part; the simulation's own calibration runs only those of 1 request in flight. */
/** Readers of the product in the cases with readers, in 4 processes (as in the simulation: on loopback the server's system time includes waking each reader process). */
const READERS = 48;
const APPEND_CASES = [
  { readers: 0, concurrency: 8 },
  { readers: READERS, concurrency: 8 },
  { readers: 0, concurrency: 1 },
  { readers: READERS, concurrency: 1 },
];

async function partAppend(options: { readonly calibration?: boolean; readonly mode: Mode }): Promise<{ units: Record<string, Unit>; detail: unknown }> {
  const { mode } = options;
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-capacity-append-'));
  const service = await startMeasured(mode, dataDir);
  const peers = Array.from({ length: 4 }, () => new Child('capacity-peer.ts'));
  const driver = new Child('capacity-peer.ts');
  const counts = async (): Promise<{ events: number; bytes: number }> => {
    const all = await Promise.all(peers.map(countsOf));
    return { events: all.reduce((sum, c) => sum + c.events, 0), bytes: all.reduce((sum, c) => sum + c.bytes, 0) };
  };
  const exports = quick || options.calibration === true ? 200 : 400;
  const rounds = quick || options.calibration === true ? 1 : 3;
  // 8 requests in flight: events come in bursts and one write per socket carries several;
  // 1 in flight: each event is a write of its own to every socket, as when events trickle in.
  const CASES = options.calibration === true ? APPEND_CASES.filter((c) => c.concurrency === 1) : APPEND_CASES;
  const best = new Map<string, { cpuPerEventUs: number; eventsPerSecond: number; bytesPerEvent: number }>();
  let product = 0;
  try {
    // Round 0 warms the JIT and SQLite's cache up and is not counted.
    for (let round = 0; round <= rounds; round++) {
      for (const { readers, concurrency } of CASES) {
        const productId = `append-${product++}`;
        await createProduct(`http://127.0.0.1:${service.port}`, productId);
        if (readers > 0) await Promise.all(peers.map((peer) => peer.ask({ cmd: 'watch', streams: [{ port: service.port, path: streamPath(productId) }], count: readers / peers.length })));
        const before = await counts();
        gc!();
        const cpu0 = cpuUs();
        const t0 = performance.now();
        await driver.ask({ cmd: 'append', port: service.port, productId, count: exports, concurrency, cancel: true, wait: false });
        const events = 3 * exports;
        await until(async () => (await counts()).events - before.events >= events * readers, 'every reader to have every event');
        const cpu = cpuUs() - cpu0;
        const seconds = (performance.now() - t0) / 1000;
        const after = await counts();
        await Promise.all(peers.map((peer) => peer.ask({ cmd: 'unwatch' })));
        await until(() => Promise.resolve(service.openStreams() === 0), 'the streams to close');
        if (round === 0) continue;
        const row = { cpuPerEventUs: cpu / events, eventsPerSecond: events / seconds, bytesPerEvent: readers === 0 ? 0 : (after.bytes - before.bytes) / (events * readers) };
        const key = `${readers}/${concurrency}`;
        const previous = best.get(key);
        if (previous === undefined || row.cpuPerEventUs < previous.cpuPerEventUs) best.set(key, { ...row, eventsPerSecond: Math.max(row.eventsPerSecond, previous?.eventsPerSecond ?? 0) });
      }
    }
  } finally {
    await Promise.all([...peers, driver].map((peer) => peer.exit()));
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const get = (readers: number, concurrency: number): { cpuPerEventUs: number; eventsPerSecond: number; bytesPerEvent: number } => best.get(`${readers}/${concurrency}`)!;
  const delivery = (concurrency: number): number => (get(READERS, concurrency).cpuPerEventUs - get(0, concurrency).cpuPerEventUs) / READERS;
  if (options.calibration === true) return { units: { deliveryCpuUs: unit(delivery(1), 'us CPU per delivery', 'the append part, 1 request in flight, one round') }, detail: {} };
  const none = get(0, 8);
  const method = `${SERVICE_TEXT[mode]}; ${exports} exports started and cancelled (3 events each) by a child process, the readers in 4 others; process.cpuUsage() from the first request until every reader had every event; lowest of ${rounds} round(s) after a warm-up`;
  return {
    units: {
      [named(mode, 'appendCpuUs')]: unit(none.cpuPerEventUs, 'us CPU per event', `${method}; 8 requests in flight, no reader open (includes the HTTP request that makes the event)`),
      [named(mode, 'deliveryCpuUs')]: unit(delivery(1), 'us CPU per delivery', `${method}; 1 request in flight, so each event is written on its own; (CPU per event with ${READERS} readers of the product in 4 processes - with none) / ${READERS}`),
      [named(mode, 'deliveryBatchedCpuUs')]: unit(delivery(8), 'us CPU per delivery', `${method}; 8 requests in flight, so a write carries a burst of events; (CPU per event with ${READERS} readers - with none) / ${READERS}`),
      [named(mode, 'frameBytes')]: unit(get(READERS, 8).bytesPerEvent, 'bytes per event frame', `bytes the ${READERS} raw readers read per event (id, event and data lines of queued, cancel_requested and failed events)`),
      ...(mode === 'redis'
        ? {}
        : {
            sqliteEventsPerSecond: unit(none.eventsPerSecond, 'events per second', `${method}; events appended per second of wall time, no reader (bounded by the 8 requests in flight on this shared machine)`),
            sqliteEventsPerCoreSecond: unit(1e6 / none.cpuPerEventUs, 'events per CPU second', 'one second of CPU / CPU per event appended: what one SQLite service (one main thread) can append at most'),
          }),
    },
    detail: { exports, rounds, rows: CASES.map((c) => ({ ...c, ...get(c.readers, c.concurrency) })) },
  };
}

// ---------------------------------------------------------------------------------------------
// idle: CPU per heartbeat, memory per connection

async function partIdle(options: { readonly calibration?: boolean; readonly mode: Mode }): Promise<{ units: Record<string, Unit>; detail: unknown }> {
  const { mode } = options;
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-capacity-idle-'));
  const heartbeatMs = 1000;
  const service = await startMeasured(mode, dataDir, heartbeatMs);
  // As many reader processes as the simulation has, and about as many connections as one of its
  // instances holds: on loopback the sender's system time includes waking each reader process,
  // and 4 processes cost 1.15 to 1.3x one per heartbeat (15.4 us against 17.6 and 20.4 us in two runs at 2,500).
  const readerProcesses = 4;
  const peers = Array.from({ length: readerProcesses }, () => new Child('capacity-peer.ts'));
  const connections = quick ? 1200 : 2400;
  const windowMs = quick || options.calibration === true ? 4000 : 10_000;
  const rows: { connections: number; rss: number; heap: number; cpuUs: number; heartbeats: number; seconds: number }[] = [];
  const heartbeats = async (): Promise<number> => (await Promise.all(peers.map(countsOf))).reduce((sum, c) => sum + c.heartbeats, 0);
  try {
    await createProduct(`http://127.0.0.1:${service.port}`, 'idle');
    // The readers are opened in two halves, memory measured after each: RSS grows in steps.
    for (const n of [0, connections / 2, connections]) {
      const open = rows.at(-1)?.connections ?? 0;
      if (n > open) await Promise.all(peers.map((peer) => peer.ask({ cmd: 'watch', streams: [{ port: service.port, path: streamPath('idle') }], count: (n - open) / readerProcesses })));
      await sleep(1500);
      const { rss, heap } = memory();
      const before = await heartbeats();
      const cpu0 = cpuUs();
      const t0 = performance.now();
      await sleep(windowMs);
      const cpu = cpuUs() - cpu0;
      const seconds = (performance.now() - t0) / 1000;
      rows.push({ connections: n, rss, heap, cpuUs: cpu, heartbeats: (await heartbeats()) - before, seconds });
    }
    await Promise.all(peers.map((peer) => peer.ask({ cmd: 'unwatch' })));
  } finally {
    await Promise.all(peers.map((peer) => peer.exit()));
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const [zero, half, many] = [rows[0]!, rows[1]!, rows[2]!];
  const perHeartbeat = (many.cpuUs / many.seconds - zero.cpuUs / zero.seconds) / (many.heartbeats / many.seconds);
  const method = `${SERVICE_TEXT[mode]}, ${heartbeatMs} ms heartbeat; 0, then ${connections} idle raw readers in ${readerProcesses} child processes`;
  return {
    units: {
      [named(mode, 'heartbeatCpuUs')]: unit(perHeartbeat, 'us CPU per heartbeat', `${method}; (CPU per second with them - with none) / heartbeats read per second, over ${windowMs / 1000} s each`),
      [named(mode, 'idleConnectionCpuUsPerSecond')]: unit(perHeartbeat / 15, 'us CPU per idle connection per second', 'CPU per heartbeat / 15 s (the default heartbeat interval): an idle stream costs nothing else'),
      [named(mode, 'sseConnectionRssBytes')]: unit((many.rss - zero.rss) / connections, 'bytes RSS per connection', `${method}; RSS after two GCs with ${connections} - with none, / ${connections}`),
      [named(mode, 'sseConnectionHeapBytes')]: unit((many.heap - zero.heap) / connections, 'bytes heap per connection', `${method}; heap used after two GCs with ${connections} - with none, / ${connections}`),
    },
    detail: {
      heartbeatMs,
      windowMs,
      rows,
      // RSS does not grow with the connections evenly (pages committed once, then filled): the halves say by how much.
      rssPerConnectionByHalf: [(half.rss - zero.rss) / (connections / 2), (many.rss - half.rss) / (connections / 2)],
      heapPerConnectionByHalf: [(half.heap - zero.heap) / (connections / 2), (many.heap - half.heap) / (connections / 2)],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// client: CPU and heap per tracked task

async function partClient(): Promise<{ units: Record<string, Unit>; detail: unknown }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-capacity-client-'));
  const service = await startService(dataDir);
  const url = `http://127.0.0.1:${service.port}`;
  const driver = new Child('capacity-peer.ts');
  let tracker: Child | undefined;
  const tasks = quick ? 500 : 2000;
  const idleMs = 5000;
  try {
    // A warm-up product a first client follows through the same steps (the JIT), not counted;
    // then a fresh client process holds only what it is measured on.
    for (const productId of ['client-warm', 'client']) {
      tracker = new Child('capacity-peer.ts');
      await createProduct(url, productId);
      const count = productId === 'client' ? tasks : 200;
      const start = (await tracker.ask({ cmd: 'follow', url, productId })) as { heap: number; cpuUs: number };
      const { ids } = (await driver.ask({ cmd: 'append', port: service.port, productId, count, concurrency: 8, cancel: false, wait: false })) as unknown as { ids: string[] };
      const pending = (await tracker.ask({ cmd: 'settle', count, final: false, timeoutMs: 60_000 })) as { heap: number; cpuUs: number; cpuAfterUs: number };
      await sleep(idleMs);
      const idle = (await tracker.ask({ cmd: 'cpu' })) as { cpuUs: number };
      await driver.ask({ cmd: 'cancel', port: service.port, productId, ids, concurrency: 8 });
      const final = (await tracker.ask({ cmd: 'settle', count, final: true, timeoutMs: 60_000 })) as { heap: number; cpuUs: number };
      if (productId === 'client-warm') {
        await tracker.exit();
        continue;
      }
      const lifeCpu = pending.cpuUs - start.cpuUs + (final.cpuUs - idle.cpuUs);
      const method = `a createClient() over HTTP in a child process following every export of a product (followAll); ${tasks} exports started (queued), then cancelled (cancel_requested, failed) by another child process`;
      return {
        units: {
          clientTaskCpuUs: unit(lifeCpu / tasks, 'us CPU per tracked task', `${method}; the client's CPU from the first request until every task was known, plus from the first cancel until every task was final: 3 events a task`),
          clientTaskHeapBytes: unit((pending.heap - start.heap) / tasks, 'bytes heap per tracked task', `${method}; heap after two GCs with the ${tasks} pending tasks known - with the client made and its stream open, no task yet`),
          clientIdleCpuUsPerTaskSecond: unit((idle.cpuUs - pending.cpuAfterUs) / (idleMs / 1000) / tasks, 'us CPU per pending task per second', `${method}; the client's CPU over ${idleMs / 1000} s with nothing moving, per task`),
        },
        detail: { tasks, start, pending, idle, final },
      };
    }
    throw new Error('unreachable');
  } finally {
    await tracker?.exit();
    await driver.exit();
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// redis: bytes per event and per export, in and after the retention window

/** `used_memory` less what the BullMQ event streams hold (capped by BullMQ, not per export). */
async function usedMemory(db: Redis): Promise<number> {
  const used = Number(/^used_memory:(\d+)/m.exec(await db.info('memory'))![1]);
  let bull = 0;
  for (const key of [...(await db.keys('bull:*:events')), `${QUEUE_PREFIX}:${EXPORT_QUEUE}:events`]) bull += (await db.memory('USAGE', key)) ?? 0;
  return used - bull;
}

async function commandCalls(db: Redis): Promise<number> {
  return [...(await db.info('commandstats')).matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** CPU of a process so far, us, from /proc (user + system, every thread). */
function processCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are the 12th and 13th fields after the command's name, in clock ticks (USER_HZ, 100 on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

/** The event streams of the service (type stream, not BullMQ's). */
async function eventStreams(db: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await db.scan(cursor, 'COUNT', 1000, 'TYPE', 'stream');
    cursor = next;
    keys.push(...found.filter((k) => !k.startsWith('bull:') && !k.startsWith(`${QUEUE_PREFIX}:`)));
  } while (cursor !== '0');
  return keys;
}

/** A redis-server, an API instance with `retentionMs` and a worker (one job at a time) in this process, a product of 1,000 features. */
async function redisService(retentionMs: number): Promise<{ db: Redis; pid: number; port: number; close: () => Promise<void> }> {
  const redis = await startRedisServer();
  const db = new Redis(redis.url);
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-capacity-redis-'));
  const server = await startServer({ redis: redis.url, dataDir, retentionMs });
  const worker = await startWorker({ redis: redis.url, dataDir, concurrency: 1 });
  const client = createClient({ url: server.url });
  try {
    await (await client.createFeatureCollection('redis')).add(typicalFeatures(1000));
  } finally {
    await client.close();
  }
  return {
    db,
    pid: Number(/^process_id:(\d+)/m.exec(await db.info('server'))![1]),
    port: server.port,
    close: async () => {
      await worker.close();
      await server.close();
      db.disconnect();
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function partRedis(): Promise<{ units: Record<string, Unit>; detail: unknown }> {
  const count = quick ? 20 : 60;
  const detail: Record<string, unknown> = { exports: count };
  const units: Record<string, Unit> = {};
  const peer = new Child('capacity-peer.ts');
  const run = (port: number, n: number): Promise<unknown> => peer.ask({ cmd: 'append', port, productId: 'redis', count: n, concurrency: 2, cancel: false, wait: true });
  const method = `an API instance and a worker (one job at a time) on a redis-server, ${count} exports of a product of 1,000 features run to success after a warm-up`;
  try {
    // Within the window: an hour of retention, nothing expires during the run.
    {
      const service = await redisService(3_600_000);
      try {
        await run(service.port, 5);
        const before = await usedMemory(service.db);
        const calls0 = await commandCalls(service.db);
        const cpu0 = processCpuUs(service.pid);
        await run(service.port, count);
        const cpu = processCpuUs(service.pid) - cpu0;
        const calls = (await commandCalls(service.db)) - calls0 - 1;
        const after = await usedMemory(service.db);
        let streamBytes = 0;
        let entries = 0;
        for (const key of await eventStreams(service.db)) {
          streamBytes += (await service.db.memory('USAGE', key, 'SAMPLES', '0')) ?? 0;
          entries += await service.db.xlen(key);
        }
        units['redisBytesPerEvent'] = unit(streamBytes / entries, 'bytes per event', `${method}; MEMORY USAGE (SAMPLES 0) of the product's event stream / its entries, retention 1 h`);
        units['redisBytesPerExportInWindow'] = unit((after - before) / count, 'bytes per export', `${method}; INFO memory used_memory grown (less BullMQ's capped event stream) / exports, within the retention window: the record, its events, the index entries`);
        units['redisCpuUsPerExport'] = unit(cpu / count, 'us Redis CPU per export', `${method}; redis-server's CPU (/proc/<pid>/stat, user + system) over the run / exports: BullMQ's job, its lock, the events, the status requests`);
        units['redisCommandsPerExport'] = unit(calls / count, 'Redis commands per export', `${method}; INFO commandstats calls over the run / exports (the status polls of the run included)`);
        detail['window'] = { before, after, streamBytes, entries, redisCpuUs: cpu, calls };
      } finally {
        await service.close();
      }
    }
    // After the window (200 ms): what stays is the compact outcome and its list entries, until outcomeRetentionMs.
    {
      const service = await redisService(200);
      try {
        await run(service.port, 5);
        await sleep(500);
        await run(service.port, 2);
        const before = await usedMemory(service.db);
        await run(service.port, count);
        // Past the window: the full records expire (Redis's active expiry), the stream is trimmed by the next final events.
        await sleep(1500);
        await run(service.port, 2);
        await sleep(500);
        const after = await usedMemory(service.db);
        units['redisBytesPerFinishedExport'] = unit((after - before) / count, 'bytes per finished export', `${method}, retentionMs 200; used_memory grown / exports once their window passed: the compact outcome and its list entries, kept for outcomeRetentionMs`);
        detail['retention'] = { before, after };
      } finally {
        await service.close();
      }
    }
  } finally {
    await peer.exit();
  }
  return { units, detail };
}

// ---------------------------------------------------------------------------------------------
// worker: exports per second per core for a typical product

/** A typical product: roads as 4-point lines with a few properties, about 200 bytes each as GeoJSON. */
function typicalFeatures(n: number): Feature[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'Feature',
    id: i,
    geometry: {
      type: 'LineString',
      coordinates: Array.from({ length: 4 }, (_, k) => [-122 + ((i * 7 + k) % 1000) / 1000, 37 + ((i * 13 + k) % 1000) / 1000]),
    },
    properties: { name: `road ${i}`, class: ['primary', 'secondary', 'residential'][i % 3]!, lanes: 1 + (i % 4), oneway: i % 5 === 0 },
  }));
}

async function partWorker(): Promise<{ units: Record<string, Unit>; detail: unknown }> {
  const features = 10_000;
  const exports = quick ? 3 : 8;
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-capacity-worker-'));
  const server = await startServer({ dataDir, concurrency: 1 });
  const client = createClient({ url: server.url });
  try {
    const product = await client.createFeatureCollection('typical');
    await product.add(typicalFeatures(features));
    // A warm-up export, not counted.
    await (await product.export('capacity/warm.ndjson')).getResult({ wait: true, timeout: 120_000 });
    gc!();
    const cpu0 = cpuUs();
    const t0 = performance.now();
    for (let i = 0; i < exports; i++) {
      const task = await product.export(`capacity/${i}.ndjson`);
      await task.getResult({ wait: true, timeout: 120_000 });
    }
    const cpu = cpuUs() - cpu0;
    const seconds = (performance.now() - t0) / 1000;
    const { text } = await readEventStream(`${server.url}${streamPath('typical')}`, { withinMs: 1000 });
    const frames = [...text.matchAll(/^event: (.+)\ndata: (.+)$/gm)];
    const succeeded = frames.filter((f) => f[1] === 'succeeded').map((f) => JSON.parse(f[2]!) as { size_bytes?: number });
    const fileBytes = succeeded.reduce((s, e) => s + (e.size_bytes ?? 0), 0) / succeeded.length;
    const frameBytes = frames.reduce((s, f) => s + f[0].length + 2, 0) / frames.length;
    const method = `SQLite service in the bench process, one job at a time, a product of ${features.toLocaleString('en-US')} 4-point lines (unfiltered export), ${exports} exports one after the other after a warm-up; process.cpuUsage() (every thread: the job's worker thread, the service, the client waiting)`;
    return {
      units: {
        workerExportsPerCoreSecond: unit(exports / (cpu / 1e6), 'exports per CPU second', method),
        eventsPerExport: unit(frames.length / (exports + 1), 'events per export', 'event frames of the product\'s stream / exports (queued, started, progress, succeeded ...)'),
        typicalFrameBytes: unit(frameBytes, 'bytes per event frame', 'the same frames: id, event and data lines and the blank line'),
        exportFileBytes: unit(fileBytes, 'bytes per exported file', 'size_bytes of the succeeded events: what a download sends'),
      },
      detail: { features, exports, cpuUs: cpu, seconds, exportsPerSecondWall: exports / seconds, frames: frames.length },
    };
  } finally {
    await client.close();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// sim: 5,000 watchers on 2 API instances on Redis, exports running, against the model

/** `Max open files` of this process (its soft limit), from /proc. */
function openFilesLimit(): number {
  const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return line === null || line[1] === 'unlimited' ? Infinity : Number(line[1]);
}

interface ApiStats {
  readonly rss: number;
  readonly heap: number;
  readonly cpuUs: number;
  readonly streams: number;
}

async function partSim(units: Record<string, Unit>): Promise<{ units: Record<string, Unit>; detail: unknown }> {
  const watchers = quick ? 2000 : 5000;
  const readerProcesses = 4;
  const products = 5;
  const exportsPerProduct = quick ? 4 : 8;
  const heartbeatMs = 1000;
  const idleMs = quick ? 4000 : 8000;
  const limit = openFilesLimit();
  // Each API instance holds its half of the sockets, each reader process its quarter, plus some for Redis and files.
  const needed = Math.ceil(watchers / 2) + 200;
  if (limit < needed) throw new Error(`The load simulation opens ${watchers} connections: raise the open files limit to at least ${needed} (ulimit -n ${needed}); it is ${limit}`);
  const redis = await startRedisServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-capacity-sim-'));
  const apis: Child[] = [];
  const readers: Child[] = [];
  let worker: Child | undefined;
  const driver = new Child('capacity-peer.ts');
  try {
    const ports: number[] = [];
    for (let i = 0; i < 2; i++) {
      const api = new Child('capacity-api.ts', [JSON.stringify({ role: 'api', redis: redis.url, dataDir, heartbeatMs })]);
      apis.push(api);
      ports.push(Number((await api.next('ready'))['port']));
    }
    worker = new Child('capacity-api.ts', [JSON.stringify({ role: 'worker', redis: redis.url, dataDir, heartbeatMs })]);
    await worker.next('ready');
    const productIds = Array.from({ length: products }, (_, i) => `sim-${i}`);
    const client = createClient({ url: `http://127.0.0.1:${ports[0]!}` });
    try {
      for (const id of productIds) await (await client.createFeatureCollection(id)).add(typicalFeatures(1000));
    } finally {
      await client.close();
    }
    const stats = async (): Promise<ApiStats[]> => Promise.all(apis.map(async (a) => (await a.ask({ cmd: 'stats' })) as unknown as ApiStats));
    const allCounts = async (): Promise<{ events: number; heartbeats: number; open: number }> => {
      const counts = await Promise.all(readers.map(countsOf));
      return { events: counts.reduce((s, c) => s + c.events, 0), heartbeats: counts.reduce((s, c) => s + c.heartbeats, 0), open: counts.reduce((s, c) => s + c.open, 0) };
    };
    /** Runs the same batch of exports on every product, one API instance each in turn; answers the API instances' CPU over it. */
    const batch = async (label: string): Promise<{ cpuUs: number[]; seconds: number }> => {
      const before = await stats();
      const t0 = performance.now();
      await Promise.all(productIds.map((productId, i) => driver.ask({ cmd: 'append', port: ports[i % 2]!, productId, count: exportsPerProduct, concurrency: 2, cancel: false, wait: true, label })));
      // The last events reach the readers a little after the status says final.
      await sleep(1000);
      const after = await stats();
      return { cpuUs: after.map((s, i) => s.cpuUs - before[i]!.cpuUs), seconds: (performance.now() - t0) / 1000 };
    };
    // Warm-up batch, not counted (the JIT of both instances and the worker).
    console.log('  2 API instances and a worker ready; a warm-up batch of exports');
    await batch('warm');
    console.log('  a batch without readers');
    const baseline = await batch('without readers');
    // Idle without readers: what the instances spend doing nothing (Redis reads, timers), left out of the idle CPU with them.
    const quiet0 = await stats();
    const tq = performance.now();
    await sleep(idleMs);
    const quiet1 = await stats();
    const quietCpuPerSecond = quiet1.reduce((s, x, i) => s + x.cpuUs - quiet0[i]!.cpuUs, 0) / ((performance.now() - tq) / 1000);
    const idle0 = await stats();
    // The readers: 4 processes, each a quarter, spread over the products and both instances.
    for (let i = 0; i < readerProcesses; i++) readers.push(new Child('capacity-peer.ts'));
    const streams = productIds.flatMap((id) => ports.map((port) => ({ port, path: streamPath(id) })));
    console.log(`  opening ${watchers} readers, in two halves`);
    // Memory after each half, as in the idle part.
    await Promise.all(readers.map((r) => r.ask({ cmd: 'watch', streams, count: watchers / readerProcesses / 2 })));
    await sleep(1500);
    const half = await stats();
    await Promise.all(readers.map((r) => r.ask({ cmd: 'watch', streams, count: watchers / readerProcesses / 2 })));
    await sleep(1500);
    const connected = await stats();
    console.log('  idle, then the same batch with readers');
    // Readers are spread round-robin over the products and the two instances: half on each.
    const perInstance = apis.map(() => watchers / 2);
    const countedByInstance = connected.map((s) => s.streams);
    // Idle with them: heartbeats only.
    const c0 = await allCounts();
    const cpuIdle0 = await stats();
    const ti = performance.now();
    await sleep(idleMs);
    const cpuIdle1 = await stats();
    const idleSeconds = (performance.now() - ti) / 1000;
    const c1 = await allCounts();
    const loaded = await batch('with readers');
    const c2 = await allCounts();
    const open = c2.open;
    await Promise.all(readers.map((r) => r.ask({ cmd: 'unwatch' })));
    // The machine's load moves from one minute to the next: the CPU costs measured again now, in
    // this process, as the idle and append parts do, give a second prediction from the same minutes.
    console.log('  the CPU unit costs measured again, for a prediction of the same minutes');
    const calibration = { ...(await partIdle({ calibration: true, mode: 'redis' })).units, ...(await partAppend({ calibration: true, mode: 'redis' })).units };

    const totalConnections = perInstance.reduce((a, b) => a + b, 0);
    const measuredRss = connected.map((s, i) => (s.rss - idle0[i]!.rss) / perInstance[i]!);
    const measuredHeap = connected.map((s, i) => (s.heap - idle0[i]!.heap) / perInstance[i]!);
    const rssByHalf = half.map((s, i) => [(s.rss - idle0[i]!.rss) / (perInstance[i]! / 2), (connected[i]!.rss - s.rss) / (perInstance[i]! / 2)]);
    const idleCpu = cpuIdle1.reduce((s, x, i) => s + x.cpuUs - cpuIdle0[i]!.cpuUs, 0) - quietCpuPerSecond * idleSeconds;
    const idleHeartbeats = c1.heartbeats - c0.heartbeats;
    const loadedHeartbeats = c2.heartbeats - c1.heartbeats;
    const deliveries = c2.events - c1.events;
    const cpuWith = loaded.cpuUs.reduce((a, b) => a + b, 0);
    const cpuWithout = baseline.cpuUs.reduce((a, b) => a + b, 0);
    // What the model says these connections cost: RSS each; a heartbeat each per interval; a delivery each per event of its product.
    const predictedRss = units['sseConnectionRssBytes']!.value;
    const predictedHeap = units['sseConnectionHeapBytes']!.value;
    const perHeartbeat = units['heartbeatCpuUs']!.value;
    const perDelivery = units['deliveryCpuUs']!.value;
    const predictedIdleCpu = idleHeartbeats * perHeartbeat;
    const predictedLoadedCpu = loadedHeartbeats * perHeartbeat + deliveries * perDelivery;
    const measuredLoadedCpu = cpuWith - cpuWithout;
    const rssPerConnection = measuredRss.reduce((a, b) => a + b, 0) / measuredRss.length;
    const heapPerConnection = measuredHeap.reduce((a, b) => a + b, 0) / measuredHeap.length;
    const ratio = (measured: number, predicted: number): { measured: number; predicted: number; ratio: number; pass: boolean } => ({
      measured,
      predicted,
      ratio: measured / predicted,
      pass: Math.abs(measured / predicted - 1) <= 0.3,
    });
    const samePerHeartbeat = calibration['heartbeatCpuUs']!.value;
    const samePerDelivery = calibration['deliveryCpuUs']!.value;
    const checks = {
      rssPerConnection: ratio(rssPerConnection, predictedRss),
      heapPerConnection: ratio(heapPerConnection, predictedHeap),
      idleCpuPerConnectionPerSecond: ratio(idleCpu / idleSeconds / totalConnections, predictedIdleCpu / idleSeconds / totalConnections),
      loadedCpuPerConnection: ratio(measuredLoadedCpu / totalConnections, predictedLoadedCpu / totalConnections),
      idleCpuPerConnectionPerSecondSameMinutes: ratio(idleCpu / idleSeconds / totalConnections, (idleHeartbeats * samePerHeartbeat) / idleSeconds / totalConnections),
      loadedCpuPerConnectionSameMinutes: ratio(measuredLoadedCpu / totalConnections, (loadedHeartbeats * samePerHeartbeat + deliveries * samePerDelivery) / totalConnections),
    };
    return {
      units: {},
      detail: {
        watchers,
        readerProcesses,
        apiInstances: 2,
        products,
        exportsPerBatch: exportsPerProduct * products,
        heartbeatMs,
        openFilesLimit: limit,
        openFilesNeeded: needed,
        connectionsPerInstance: perInstance,
        streamsCountedByInstance: countedByInstance,
        rssPerConnectionByHalfByInstance: rssByHalf,
        stillOpenAtEnd: open,
        idleSeconds,
        idleHeartbeats,
        quietCpuUsPerSecond: quietCpuPerSecond,
        batchSeconds: { without: baseline.seconds, with: loaded.seconds },
        apiCpuUs: { without: baseline.cpuUs, with: loaded.cpuUs },
        deliveries,
        loadedHeartbeats,
        rssPerConnectionByInstance: measuredRss,
        checks,
        calibration: { heartbeatCpuUs: samePerHeartbeat, deliveryCpuUs: samePerDelivery },
        loadAverage: loadavg(),
      },
    };
  } finally {
    await Promise.all(readers.map((r) => r.exit()));
    await driver.exit();
    await worker?.exit();
    await Promise.all(apis.map((a) => a.exit()));
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

function merge(...runs: { units: Record<string, Unit>; detail: unknown }[]): { units: Record<string, Unit>; detail: unknown } {
  return { units: Object.assign({}, ...runs.map((r) => r.units)) as Record<string, Unit>, detail: { sqlite: runs[0]!.detail, redis: runs[1]!.detail } };
}

const RUN: Record<Part, (units: Record<string, Unit>) => Promise<{ units: Record<string, Unit>; detail: unknown }>> = {
  // Both modes: the SQLite service's costs, then an API instance's on Redis (the model's).
  append: async () => merge(await partAppend({ mode: 'sqlite' }), await partAppend({ mode: 'redis' })),
  idle: async () => merge(await partIdle({ mode: 'sqlite' }), await partIdle({ mode: 'redis' })),
  client: partClient,
  redis: partRedis,
  worker: partWorker,
  sim: partSim,
};

const previous: CapacityResults | undefined = existsSync(OUT) ? (JSON.parse(readFileSync(OUT, 'utf8')) as CapacityResults) : undefined;
if (argv.includes('--report') && partArg === undefined && argv.length === 1) {
  if (previous === undefined) throw new Error('No bench/results/capacity.json yet: run npm run bench:capacity first');
  writeCapacityDoc(previous);
  console.log('docs/capacity.md written from bench/results/capacity.json');
  process.exit(0);
}

const results: CapacityResults = previous ?? { machine: {} as CapacityResults['machine'], units: {}, parts: {} };
const t0 = performance.now();
const startLoad = loadavg();
for (const part of PARTS) {
  if (partArg !== undefined && partArg !== part) continue;
  const started = performance.now();
  const load = loadavg()[0]!;
  console.log(`${part}...`);
  const { units, detail } = await RUN[part](results.units);
  // What this part measured before and no longer measures goes, so that no stale cost stays in the file.
  for (const [name, value] of Object.entries(results.units)) if (value.part === part) delete results.units[name];
  for (const [name, value] of Object.entries(units)) {
    results.units[name] = { ...value, part };
    console.log(`  ${name}: ${value.value.toPrecision(4)} ${value.unit}`);
  }
  results.parts[part] = { detail, seconds: (performance.now() - started) / 1000, loadAverageAtStart: load, quick, at: new Date().toISOString() };
  if (part === 'sim') console.log(JSON.stringify((detail as { checks: unknown }).checks, null, 2));
}
results.machine = {
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  loadAverage: { start: startLoad, end: loadavg() },
  openFilesLimit: openFilesLimit(),
  redis: execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim(),
};
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
console.log(`written to bench/results/capacity.json (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
if (argv.includes('--report')) {
  writeCapacityDoc(results);
  console.log('docs/capacity.md written');
}
