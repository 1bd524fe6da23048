/**
 * The fan-out case of `npm run bench:http`: one product's events to 1, 10 and 50 subscribers,
 * the service (Fastify + SQLite, its SSE route; `service-redis`: an API instance on a real
 * `redis-server`, its stream read by the product's tail) beside two bare `node:http` SSE servers, in the
 * same run: `bare` writes each appended event's frame to every subscriber at once, `bare-turn`
 * joins the frames of one event-loop turn and writes them once per subscriber (fewer writes, as
 * the service's shared feed does). The goal's ratio is against the cheaper of the two.
 *
 * Both servers run in this process and nothing else does while a run is measured: the
 * subscribers (raw TCP sockets) and the client that appends run in a child process
 * (`bench/fanout-subscribers.ts`). Server CPU is `process.cpuUsage()` (user + system) across a
 * run, from the first append to the moment every subscriber has every event. The service's
 * jobs are stopped first (exports stay queued, no worker thread runs), so an append is a request
 * that starts an export (`queued`) or one that cancels it (`cancel_requested`, `failed`): 3
 * events per export. The bare server appends one event per request.
 *
 * CPU per delivery is the marginal cost of a subscriber: (CPU per event with N subscribers − CPU
 * per event with none) / N, so what an append itself costs (the request, the SQLite
 * transaction) is left out for both servers. After a round that warms both up, each case runs
 * 3 times (1 with `--quick`), alternating the servers; the lowest CPU per event of a case is kept
 * (the machine's other load only adds). For `service-redis`, the `XREAD` and `XRANGE` calls
 * Redis counted in each case (INFO commandstats) are given per appended event: one read of the
 * product's stream per append at most, whatever the number of subscribers, is the point.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startEngine } from '../src/server/embedded/engine.js';
import { createApp } from '../src/server/http/create-app.js';
import type { ExportService } from '../src/server/http/export-service.js';
import { RedisEngine } from '../src/server/redis/redis-engine.js';
import { openSqliteStore } from '../src/server/sqlite/open-sqlite-store.js';
import { startRedisServer } from '../test/support/redis-server.js';
import type { FanoutRun } from './fanout-subscribers.js';

/** The goal: at 50 subscribers, the service's CPU per delivery at most this many times the bare server's. */
export const FANOUT_GOAL = 2;

export interface FanoutRow {
  readonly subscribers: number;
  readonly target: Target;
  readonly events: number;
  /** Events appended per second, from the first append until every subscriber had every event. */
  readonly appendsPerSecond: number;
  /** Server CPU per appended event, microseconds. */
  readonly cpuPerEventUs: number;
  /** (cpuPerEventUs − the same with no subscriber) / subscribers; undefined with none. */
  readonly cpuPerDeliveryUs: number | undefined;
}

/** The Redis commands the API instance sent to read the product's stream in a case of `service-redis` (INFO commandstats). */
export interface RedisReads {
  readonly subscribers: number;
  /** `XREAD` calls (the product's tail) per appended event. */
  readonly xreadPerEvent: number;
  /** `XRANGE` calls (streams reading by their own cursor) per appended event. */
  readonly xrangePerEvent: number;
}

export interface FanoutResult {
  readonly method: string;
  readonly rounds: number;
  readonly rows: FanoutRow[];
  /** Service / bare CPU per delivery at 50 subscribers, against the cheaper of the two bare servers. */
  readonly ratioAt50: number;
  /** The bare server the ratio is against. */
  readonly baseline: Target;
  readonly goal: number;
  readonly pass: boolean;
  /** The same for the service on Redis (`service-redis`), against the same bare server. */
  readonly redis: { readonly ratioAt50: number; readonly pass: boolean; readonly reads: RedisReads[] };
}

const SUBSCRIBERS = [0, 1, 10, 50];

type Target = 'service' | 'service-redis' | 'bare' | 'bare-turn';
const TARGETS: readonly Target[] = ['service', 'service-redis', 'bare', 'bare-turn'];

/**
 * A bare SSE server: each POST /append makes one frame (an event like the service's) and writes
 * it to every open stream at once (`perTurn` false), or (`perTurn` true) the frames of one
 * event-loop turn are joined and written once per stream in the next, as the service does.
 */
function startBare(perTurn: boolean): Promise<{ readonly port: number; readonly close: () => Promise<void> }> {
  const streams = new Set<ServerResponse>();
  let cursor = 0;
  let pending = '';
  let flush: NodeJS.Immediate | undefined;
  const write = (frame: string): void => {
    if (!perTurn) {
      for (const stream of streams) stream.write(frame);
      return;
    }
    pending += frame;
    flush ??= setImmediate(() => {
      const text = pending;
      pending = '';
      flush = undefined;
      for (const stream of streams) stream.write(text);
    });
  };
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'close' });
      res.write(': connected\n\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    req.resume();
    req.on('end', () => {
      cursor++;
      const event = {
        type: 'failed',
        export_id: `0000000${cursor}-aaaa-4bbb-8ccc-dddddddddddd`.slice(-36),
        seq: 3,
        time: new Date().toISOString(),
        failure_type: 'cancelled',
        error: { message: 'The export was cancelled' },
      };
      const frame = `id: ${cursor}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
      write(frame);
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise((done) => {
            for (const stream of streams) stream.destroy();
            server.closeAllConnections();
            server.close(() => done());
          }),
      }),
    );
  });
}

export interface Service {
  readonly port: number;
  readonly openStreams: () => number;
  readonly close: () => Promise<void>;
}

/** The reference service in this process, its jobs stopped so that exports stay queued (also used by `bench/capacity.ts`). */
export async function startService(dataDir: string, heartbeatMs = 15_000): Promise<Service> {
  const engine = await startEngine({ dataDir, jobTimeoutMs: null, jobMemoryMb: null, concurrency: 1, pageSize: 1000, openStore: openSqliteStore });
  await engine.stopJobs();
  return serve(engine, heartbeatMs);
}

/** An API instance of the service on Redis in this process; no worker runs, so exports stay queued. */
async function startRedisService(dataDir: string, redis: string): Promise<Service> {
  const engine = await RedisEngine.start({ redis: { kind: 'server', url: redis }, dataDir, pageSize: 1000, redisTimeoutMs: 10_000, retryAfterSeconds: 10, log: () => undefined });
  return serve(engine);
}

async function serve(engine: ExportService, heartbeatMs = 15_000): Promise<Service> {
  const app = createApp(engine, { token: undefined, signingKey: undefined, corsOrigins: [], bodyLimit: 1024 * 1024, heartbeatMs, sseBufferLimit: 1024 * 1024, logger: false });
  await app.fastify.listen({ port: 0, host: '127.0.0.1' });
  return {
    port: (app.fastify.server.address() as AddressInfo).port,
    openStreams: () => app.streams.stats.open,
    close: async () => {
      app.streams.endAll();
      app.fastify.server.closeAllConnections();
      await app.fastify.close();
      await engine.close();
    },
  };
}

class Peer {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<string, (message: Record<string, unknown>) => void>();

  constructor() {
    this.#child = fork(fileURLToPath(new URL('./fanout-subscribers.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.#child.on('message', (message: Record<string, unknown>) => {
      const wake = this.#waiting.get(message['cmd'] as string);
      this.#waiting.delete(message['cmd'] as string);
      wake?.(message);
    });
  }

  ask(message: Record<string, unknown>, answer: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error(`The subscribers' process exited while waiting for ${answer}`));
      this.#child.once('exit', onExit);
      this.#waiting.set(answer, (reply) => {
        this.#child.off('exit', onExit);
        resolve(reply);
      });
      this.#child.send(message);
    });
  }

  exit(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.send({ cmd: 'exit' });
    });
  }
}

async function waitUntil(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Calls of each command so far, from INFO commandstats. */
async function commandCalls(db: Redis): Promise<Map<string, number>> {
  return new Map([...(await db.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
}

export async function runFanout(options: { readonly dataDir: string; readonly quick: boolean }): Promise<FanoutResult> {
  const rounds = options.quick ? 1 : 3;
  const exports = options.quick ? 300 : 800;
  const service = await startService(options.dataDir);
  const redisServer = await startRedisServer();
  const db = new Redis(redisServer.url);
  const redisService = await startRedisService(`${options.dataDir}-redis`, redisServer.url);
  const reads = new Map<number, RedisReads>();
  const bare = await startBare(false);
  const bareTurn = await startBare(true);
  const peer = new Peer();
  const best = new Map<string, { events: number; cpuPerEventUs: number; appendsPerSecond: number }>();
  let product = 0;
  try {
    // Round 0 warms both servers up (the JIT, SQLite's cache) and is not counted.
    for (let round = 0; round <= rounds; round++) {
      for (const subscribers of SUBSCRIBERS) {
        for (const target of TARGETS) {
          let run: FanoutRun;
          const served = target === 'service' ? service : redisService;
          if (target === 'service' || target === 'service-redis') {
            const productId = `fanout-${product++}`;
            const created = await fetch(`http://127.0.0.1:${served.port}/vector/v2/products`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ id: productId }),
            });
            if (created.status !== 201) throw new Error(`Creating the product ${productId}: ${created.status} ${await created.text()}`);
            const streamPath = `/vector/v2/products/${productId}/search/export/events`;
            run = { cmd: 'open', host: '127.0.0.1', port: served.port, streamPath, subscribers, target: 'service', productId, count: exports, concurrency: 8 };
          } else {
            const port = target === 'bare' ? bare.port : bareTurn.port;
            run = { cmd: 'open', host: '127.0.0.1', port, streamPath: '/events', subscribers, target, productId: '', count: 3 * exports, concurrency: 8 };
          }
          await peer.ask({ ...run }, 'ready');
          global.gc?.();
          const calls0 = target === 'service-redis' ? await commandCalls(db) : undefined;
          const cpu = process.cpuUsage();
          const start = process.hrtime.bigint();
          const done = await peer.ask({ cmd: 'go' }, 'done');
          const seconds = Number(process.hrtime.bigint() - start) / 1e9;
          const used = process.cpuUsage(cpu);
          const events = 3 * exports;
          if (calls0 !== undefined) {
            const calls1 = await commandCalls(db);
            const delta = (name: string): number => (calls1.get(name) ?? 0) - (calls0.get(name) ?? 0);
            if (round > 0) reads.set(subscribers, { subscribers, xreadPerEvent: delta('xread') / events, xrangePerEvent: delta('xrange') / events });
          }
          if (done['received'] !== done['expected']) throw new Error(`The subscribers received ${String(done['received'])} events of ${String(done['expected'])}`);
          await peer.ask({ cmd: 'close' }, 'closed');
          if (target === 'service' || target === 'service-redis') await waitUntil(() => served.openStreams() === 0);
          const row = { events, cpuPerEventUs: (used.user + used.system) / events, appendsPerSecond: events / seconds };
          if (round === 0) continue;
          const key = `${target}/${subscribers}`;
          const previous = best.get(key);
          if (previous === undefined || row.cpuPerEventUs < previous.cpuPerEventUs) {
            best.set(key, { ...row, appendsPerSecond: Math.max(row.appendsPerSecond, previous?.appendsPerSecond ?? 0) });
          } else {
            previous.appendsPerSecond = Math.max(previous.appendsPerSecond, row.appendsPerSecond);
          }
        }
      }
    }
  } finally {
    await peer.exit();
    await bare.close();
    await bareTurn.close();
    await service.close();
    await redisService.close();
    db.disconnect();
    await redisServer.stop();
  }
  const rows: FanoutRow[] = [];
  for (const target of TARGETS) {
    const none = best.get(`${target}/0`)!;
    for (const subscribers of SUBSCRIBERS) {
      const row = best.get(`${target}/${subscribers}`)!;
      rows.push({
        subscribers,
        target,
        events: row.events,
        appendsPerSecond: row.appendsPerSecond,
        cpuPerEventUs: row.cpuPerEventUs,
        cpuPerDeliveryUs: subscribers === 0 ? undefined : (row.cpuPerEventUs - none.cpuPerEventUs) / subscribers,
      });
    }
  }
  const at50 = (target: Target): number => rows.find((r) => r.target === target && r.subscribers === 50)!.cpuPerDeliveryUs!;
  const baseline: Target = at50('bare') <= at50('bare-turn') ? 'bare' : 'bare-turn';
  const ratioAt50 = at50('service') / at50(baseline);
  const redisRatioAt50 = at50('service-redis') / at50(baseline);
  return {
    method:
      'both servers in one process, subscribers (raw TCP) and appender in a child process; server CPU = process.cpuUsage() from the first append until every subscriber had every event; ' +
      'CPU per delivery = (CPU per event with N subscribers - with none) / N; lowest of the rounds',
    rounds,
    rows,
    ratioAt50,
    baseline,
    goal: FANOUT_GOAL,
    pass: ratioAt50 <= FANOUT_GOAL,
    redis: { ratioAt50: redisRatioAt50, pass: redisRatioAt50 <= FANOUT_GOAL, reads: [...reads.values()].sort((a, b) => a.subscribers - b.subscribers) },
  };
}

/** Prints the result as a table. */
export function printFanout(result: FanoutResult): void {
  console.log(`fan-out, one product, ${result.rows[0]!.events} events per case, lowest of ${result.rounds} round(s):`);
  console.log('  server     subscribers  appends/s  CPU/event (us)  CPU/delivery (us)');
  for (const row of result.rows) {
    console.log(
      `  ${row.target.padEnd(10)} ${String(row.subscribers).padStart(11)}  ${row.appendsPerSecond.toFixed(0).padStart(9)}  ${row.cpuPerEventUs.toFixed(1).padStart(14)}  ${
        row.cpuPerDeliveryUs === undefined ? '-'.padStart(17) : row.cpuPerDeliveryUs.toFixed(2).padStart(17)
      }`,
    );
  }
  console.log(
    `  service / ${result.baseline} CPU per delivery at 50 subscribers: ${result.ratioAt50.toFixed(2)}x (goal <= ${result.goal}x): ${result.pass ? 'pass' : 'FAIL'}`,
  );
  console.log(
    `  service-redis / ${result.baseline} CPU per delivery at 50 subscribers: ${result.redis.ratioAt50.toFixed(2)}x (goal <= ${result.goal}x): ${result.redis.pass ? 'pass' : 'FAIL'}`,
  );
  console.log('  service-redis, the product stream read per appended event (INFO commandstats, last round):');
  for (const r of result.redis.reads) console.log(`    ${String(r.subscribers).padStart(2)} subscribers: XREAD ${r.xreadPerEvent.toFixed(3)}, XRANGE ${r.xrangePerEvent.toFixed(3)}`);
}
