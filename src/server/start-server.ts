import { describeValue } from '../core/errors.js';
import { signingKeyBytes } from './access-tokens.js';
import { checkOptionBag, checkCount } from '../internal/options.js';
import { checkRedisTarget } from './redis/check-redis-target.js';
import type { RedisTarget } from './redis/check-redis-target.js';
import { checkMemoryMb, checkTimeoutMs, MAX_TIMEOUT_MS } from './embedded/check-limits.js';
import { startEngine } from './embedded/engine.js';
import type { EngineStore } from './embedded/engine.js';
import type * as AppModule from './http/create-app.js';
import type { App } from './http/create-app.js';
import type { EventStreamStats } from './http/event-stream.js';
import { checkCorsOrigins, type CorsOptions } from './http/cors.js';
import type { ExportService } from './http/export-service.js';
import type { LoggerOptions } from './http/logging.js';
import type * as OpsModule from './http/service-ops.js';
import type * as ObservedStoreModule from './http/observed-store.js';
import type { ServiceOps } from './http/service-ops.js';
import type * as RedisMonitorModule from './http/redis-monitor.js';
import type * as RedisModule from './redis/redis-engine.js';
import type * as SqliteModule from './sqlite/open-sqlite-store.js';

/**
 * Options of {@link startServer}.
 *
 * @example
 * ```ts
 * const server = await startServer({
 *   port: 8080,
 *   host: '127.0.0.1',
 *   dataDir: './export-data',
 *   token: process.env['EXPORT_TASK_TOKEN'],
 *   jobTimeoutMs: 10 * 60_000,
 * } satisfies ServerOptions);
 * ```
 */
export interface ServerOptions {
  /**
   * The TCP port to listen on; 0 picks a free one (read it from {@link ExportServer.port}).
   * @defaultValue 0
   */
  readonly port?: number | undefined;
  /**
   * The address to listen on. Anything but a loopback address exposes the service to the
   * network: set a `token` then.
   * @defaultValue `'127.0.0.1'`
   */
  readonly host?: string | undefined;
  /**
   * The directory holding everything: `export-task.sqlite` (products, exports, idempotency
   * keys and the event log), `products/` (the features, newline-delimited GeoJSON) and
   * `storage/` (the exported files). A service started again on it goes on where the last one
   * stopped (see {@link startServer}). One service at a time per directory.
   * @defaultValue a new temporary directory, removed by `close()` (a directory you give is never removed)
   */
  readonly dataDir?: string | undefined;
  /**
   * When set, every route needs `Authorization: Bearer <token>`; others are answered 401.
   * Printable ASCII without spaces.
   * @defaultValue none: no authentication
   */
  readonly token?: string | undefined;
  /**
   * The secret that scoped access tokens are signed with (HS256, at least 32 characters): with
   * it, the service also accepts tokens made by `createAccessToken(signingKey, ...)` (or
   * `export-task token`), each opening one product for reading or writing until it expires.
   * Every route then needs a token. Give `token` too, for what only the master token may do.
   * @defaultValue none: only the master token
   */
  readonly signingKey?: string | undefined;
  /**
   * The origins whose pages may call the service from a browser (CORS), such as
   * `{ origins: ['https://app.example.com'] }`: exact origins, never a wildcard.
   * @defaultValue none: browsers allow only pages of the service's own origin
   */
  readonly cors?: CorsOptions | undefined;
  /**
   * How long one export job may run, in ms, before it fails with `failure_type: "timeout"`.
   * An export's own `limits.timeout_ms` wins over it, up to {@link ServerOptions.maxJobTimeoutMs}.
   * @defaultValue 1800000 (30 minutes): a job that never ends cannot hold a slot for ever
   */
  readonly jobTimeoutMs?: number | undefined;
  /**
   * How much heap one export job may use, in MiB, before it fails with `failure_type: "oom"`.
   * An export's own `limits.memory_mb` wins over it, up to {@link ServerOptions.maxJobMemoryMb}.
   * @defaultValue 512
   */
  readonly jobMemoryMb?: number | undefined;
  /**
   * The longest time limit an export may ask for (`limits.timeout_ms`), in ms; more is answered 400.
   * @defaultValue 86400000 (24 hours)
   */
  readonly maxJobTimeoutMs?: number | undefined;
  /**
   * The largest memory limit an export may ask for (`limits.memory_mb`), in MiB; more is answered 400.
   * @defaultValue 4096
   */
  readonly maxJobMemoryMb?: number | undefined;
  /**
   * Whether failed exports' stack traces keep the service's absolute paths (for debugging the
   * service). Otherwise frames name their file from the package (`export-task/dist/...`) or the
   * module, and the data directory is `<data-dir>`.
   * @defaultValue false
   */
  readonly fullStacktraces?: boolean | undefined;
  /**
   * How many export jobs run at once; the others wait in a first-come, first-served queue.
   * @defaultValue `os.availableParallelism()`
   */
  readonly concurrency?: number | undefined;
  /**
   * How many completed exports one page of the list route holds.
   * @defaultValue 100
   */
  readonly pageSize?: number | undefined;
  /**
   * How often an event stream sends a `: heartbeat` comment, so that proxies keep it open, ms.
   * Each stream advertises it in its `X-Heartbeat-Interval` header: a client that hears nothing
   * for 3 intervals drops the stream and resumes it.
   * @defaultValue 15000
   */
  readonly heartbeatMs?: number | undefined;
  /** The same as {@link ServerOptions.heartbeatMs}, by the name docs/http-protocol.md gives it (give one of the two). */
  readonly heartbeatIntervalMs?: number | undefined;
  /**
   * The largest request body accepted, in bytes (a feature upload is the largest); larger
   * ones are answered 413.
   * @defaultValue 67108864 (64 MiB)
   */
  readonly bodyLimit?: number | undefined;
  /**
   * How many bytes an event-stream client may leave unread before it is disconnected (it
   * resumes by cursor, losing nothing). Bounds what a slow client costs the server.
   * @defaultValue 1048576 (1 MiB)
   */
  readonly sseBufferLimit?: number | undefined;
  /**
   * Logs, as JSON lines (pino): one line per request (its id, from `X-Request-Id` when the
   * client sent one, is echoed in that header of every answer), one when each export is
   * queued, starts and ends (with its outcome), the shutdown's steps, and in Redis mode
   * Redis going away and coming back. Tokens and `Authorization` headers are never logged.
   * `true` logs at `info` on stdout; {@link LoggerOptions} choose the level and where.
   * @defaultValue false
   */
  readonly logger?: boolean | LoggerOptions | undefined;
  /**
   * Whether `GET /metrics` (Prometheus) is answered without the token. `/health` and `/ready`
   * always are; they tell nothing of the products.
   * @defaultValue false
   */
  readonly metricsPublic?: boolean | undefined;
  /**
   * How long a shutdown keeps serving after `/ready` turned 503, ms, so that a load balancer
   * polling it stops sending requests before the service stops taking them.
   * @defaultValue 0
   */
  readonly shutdownDelayMs?: number | undefined;
  /**
   * Runs this process as one API instance of the service on Redis (`redis://host:port`):
   * products, exports and the event log in Redis (one Redis Stream per product, its entry ids
   * the event streams' cursors), exports queued on BullMQ for `export-task worker` processes
   * ({@link startWorker}); `dataDir` is then required, and must be the directory every
   * instance and worker shares. Any number of instances may serve the same Redis. Needs the
   * optional peer dependencies `bullmq` and `ioredis`. `jobTimeoutMs`, `jobMemoryMb` and
   * `concurrency` are the workers' options then, and are refused here.
   * @defaultValue none: SQLite in `dataDir`, jobs in this process
   */
  readonly redis?: string | undefined;
  /**
   * Instead of `redis`: runs this process as one API instance of the service on a Redis
   * Cluster, given by some of its nodes (`host:port` or `redis://[user:password@]host:port`
   * each; an array, or one comma-separated string), e.g. `['127.0.0.1:7000', '127.0.0.1:7001']`.
   * Every key of a product is in one hash slot (`export-task:{<product>}:...`), so the cluster
   * shards by product; the same options apply as with `redis`. Give the workers the same nodes
   * (`startWorker({ redisCluster })`). See the server docs, "Redis Cluster".
   * @defaultValue none
   */
  readonly redisCluster?: readonly string[] | string | undefined;
  /**
   * With `redis`: how long a request waits for Redis before it is answered `503` with
   * `Retry-After` (while Redis is unreachable, requests are answered 503 at once), ms. The
   * outage is logged once when it starts and once when it ends (Fastify's logger).
   * @defaultValue 3000
   */
  readonly redisTimeoutMs?: number | undefined;
  /**
   * With `redis`: how long a final export's events stay in its product's stream and its full
   * record (with its log lines) in Redis, ms. The stream is trimmed (`XTRIM MINID`) to the
   * events of this window and of every export not final yet; a client resuming from a cursor
   * trimmed away gets a `snapshot` of every export that changed since, then the live events.
   * @defaultValue 86400000 (a day)
   */
  readonly retentionMs?: number | undefined;
  /**
   * With `redis`: how long a final export's compact outcome (its status, attributes and list
   * entry, without its log lines) stays after it ended, ms; then the export is unknown
   * (`missing`, 404) and the list route no longer has it.
   * @defaultValue 2592000000 (30 days)
   */
  readonly outcomeRetentionMs?: number | undefined;
  /**
   * With `redis`: how long an `Idempotency-Key` names the export it started, ms; a request with
   * the key after that starts a new export.
   * @defaultValue 86400000 (a day)
   */
  readonly idempotencyTtlMs?: number | undefined;
}

/**
 * A running export service. Close it with {@link ExportServer.close} or `await using`.
 *
 * @example
 * ```ts
 * await using server: ExportServer = await startServer({ port: 0 });
 * const client = createClient({ url: server.url });
 * console.log(`serving on port ${server.port}, data in ${server.dataDir}`);
 * await client.close();
 * // the server closes gracefully at the end of the block
 * ```
 */
export interface ExportServer extends AsyncDisposable {
  /** Where it listens, e.g. `http://127.0.0.1:8080`: pass it to `createClient({ url })`. */
  readonly url: string;
  /** The TCP port it listens on. */
  readonly port: number;
  /** The absolute path of its data directory. */
  readonly dataDir: string;
  /**
   * Shuts the service down gracefully: it stops accepting connections (new requests on open
   * ones are answered 503), stops the running export jobs (their exports end `failed` with
   * `failure_type: "internal"`, as after a restart; exports that never started stay queued
   * for the next start), ends every event stream cleanly after its last events with a final
   * `id:` (clients resume from it), waits for the requests in flight to finish (for at most
   * 10 s; then they are cut), closes every connection, and closes the database. Resolves once all of that is done; calling it again returns the same promise.
   */
  close(): Promise<void>;
  /** The same as {@link ExportServer.close}. */
  [Symbol.asyncDispose](): Promise<void>;
  /** What the event streams have done (open, dropped, the most bytes left unread). @internal */
  readonly streamStats: Readonly<EventStreamStats>;
  /** Every route the service declared, as `METHOD url` (`GET /vector/v2/products/:product_id`). @internal */
  readonly routes: readonly string[];
  /** How many connections the server holds open. @internal */
  readonly connectionCount: number;
}

/** The options with their defaults, checked. */
interface CheckedServerOptions {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string | undefined;
  readonly token: string | undefined;
  readonly signingKey: Uint8Array | undefined;
  readonly corsOrigins: readonly string[];
  readonly jobTimeoutMs: number | null;
  readonly jobMemoryMb: number | null;
  readonly maxJobTimeoutMs: number;
  readonly maxJobMemoryMb: number;
  readonly fullStacktraces: boolean;
  readonly concurrency: number | undefined;
  readonly pageSize: number;
  readonly heartbeatMs: number;
  readonly bodyLimit: number;
  readonly sseBufferLimit: number;
  readonly logger: LoggerOptions | undefined;
  readonly metricsPublic: boolean;
  readonly shutdownDelayMs: number;
  readonly redis: RedisTarget | undefined;
  readonly redisTimeoutMs: number;
  readonly retentionMs: number | undefined;
  readonly outcomeRetentionMs: number | undefined;
  readonly idempotencyTtlMs: number | undefined;
}

/** A job's time limit when neither the service nor the export says, ms. @internal */
export const DEFAULT_JOB_TIMEOUT_MS = 30 * 60_000;
/** A job's memory limit when neither the service nor the export says, MiB. @internal */
export const DEFAULT_JOB_MEMORY_MB = 512;
/** The longest time limit an export may ask for unless the service says, ms. @internal */
export const DEFAULT_MAX_JOB_TIMEOUT_MS = 24 * 60 * 60_000;
/** The largest memory limit an export may ask for unless the service says, MiB. @internal */
export const DEFAULT_MAX_JOB_MEMORY_MB = 4096;

/** How long a shutdown waits for requests in flight (a download to a client that stopped reading, say) before it cuts them. */
const SHUTDOWN_GRACE_MS = 10_000;

const OPTION_KEYS = [
  'port',
  'host',
  'dataDir',
  'token',
  'signingKey',
  'cors',
  'jobTimeoutMs',
  'jobMemoryMb',
  'maxJobTimeoutMs',
  'maxJobMemoryMb',
  'fullStacktraces',
  'concurrency',
  'pageSize',
  'heartbeatMs',
  'heartbeatIntervalMs',
  'bodyLimit',
  'sseBufferLimit',
  'logger',
  'metricsPublic',
  'shutdownDelayMs',
  'redis',
  'redisCluster',
  'redisTimeoutMs',
  'retentionMs',
  'outcomeRetentionMs',
  'idempotencyTtlMs',
];

/**
 * Starts the reference export service over HTTP: the protocol of `docs/http-protocol.md`
 * (DL's Vector and Storage routes, plus products, status, batch status, cancel and
 * Server-Sent Events), with its state in SQLite in `dataDir`.
 *
 * Restart safety: started on the data directory of a service that was killed (or closed),
 * it first settles what was left unfinished: exports that never started are queued again,
 * exports that were running end `failed` with `failure_type: "internal"` (an event with the
 * next `seq`, so clients following the stream see it), and the temporary files of their jobs
 * are removed. Cursors go on from the last one.
 *
 * Needs the optional peer dependencies `fastify` (5) and `better-sqlite3` (12).
 *
 * @example
 * ```ts
 * import { startServer } from 'export-task/server';
 * import { createClient } from 'export-task';
 *
 * await using server = await startServer({ dataDir: './data', token: process.env.TOKEN });
 * const client = createClient({ url: server.url, token: process.env.TOKEN });
 * ```
 * @param options - See {@link ServerOptions}.
 * @returns The running service; it listens once the promise resolves.
 * @throws TypeError (a rejection, before anything is opened) for an unknown option or a bad
 * value; Error when the port is taken, another service uses `dataDir`, or a peer dependency
 * is missing.
 */
export async function startServer(options: ServerOptions = {}): Promise<ExportServer> {
  const checked = checkServerOptions(options);
  let engine: ExportService;
  let served: App | undefined;
  let createApp: typeof AppModule.createApp;
  let ops: ServiceOps;
  /** Whether jobs are taken (until the shutdown stops them). */
  let runningJobs = true;
  let release = (): Promise<void> => Promise.resolve();
  if (checked.redis === undefined) {
    const [app, { openSqliteStore }, { createServiceOps }, { observeStore }] = await loadPeers();
    createApp = app.createApp;
    ops = createServiceOps(checked.logger);
    const { metrics } = ops;
    // This process appends every event of its exports, their ends too: the gauges can follow them.
    metrics.followPhases();
    let store: EngineStore | undefined;
    engine = await startEngine({
      dataDir: checked.dataDir,
      jobTimeoutMs: checked.jobTimeoutMs,
      jobMemoryMb: checked.jobMemoryMb,
      maxJobTimeoutMs: checked.maxJobTimeoutMs,
      maxJobMemoryMb: checked.maxJobMemoryMb,
      fullStacktraces: checked.fullStacktraces,
      concurrency: checked.concurrency,
      pageSize: checked.pageSize,
      openStore: (dir) => (store = observeStore(openSqliteStore(dir), ops.onEvent, (id, phase) => metrics.trackActive(id, phase))),
    });
    metrics.gauge('exports_running', 'Exports whose job runs now.', () => metrics.countActive('running'));
    metrics.gauge('exports_queued', 'Exports waiting for a job slot.', () => metrics.countActive('queued'));
    ops.checks.push(
      // A read of the database (of no product: nothing is told of the data).
      { name: 'sqlite', check: () => (store!.log.lastCursor('') >= 0 ? undefined : 'gave no answer') },
      { name: 'jobs', check: () => (runningJobs ? undefined : 'stopped: the service is shutting down') },
    );
  } else {
    const [app, { RedisEngine }, { createServiceOps }, { startRedisMonitor }] = await loadRedisPeers();
    createApp = app.createApp;
    ops = createServiceOps(checked.logger);
    // The engine first: it refuses a Redis it must not write to (the old key layout) before
    // the monitor's queue handle writes the queue's meta there.
    engine = await RedisEngine.start({
      redis: checked.redis,
      dataDir: checked.dataDir!,
      pageSize: checked.pageSize,
      onEvent: ops.onEvent,
      redisTimeoutMs: checked.redisTimeoutMs,
      retryAfterSeconds: Math.max(1, Math.ceil(checked.redisTimeoutMs / 1000)),
      // The app (and its logger) comes next: lines before it are not lost, there are none.
      log: (level, message) => served?.fastify.log[level](message),
      retentionMs: checked.retentionMs,
      outcomeRetentionMs: checked.outcomeRetentionMs,
      idempotencyTtlMs: checked.idempotencyTtlMs,
    });
    try {
      const monitor = await startRedisMonitor(checked.redis, ops);
      release = () => monitor.close();
    } catch (error) {
      await engine.close();
      throw error;
    }
  }
  let app: App | undefined;
  try {
    app = createApp(engine, { ...checked, logger: ops.logger, ops: { metrics: ops.metrics, checks: ops.checks, metricsPublic: checked.metricsPublic } });
    served = app;
    await app.fastify.listen({ port: checked.port, host: checked.host });
  } catch (error) {
    await app?.fastify.close();
    await engine.close();
    await release();
    throw error;
  }
  return new RunningServer(engine, app, {
    logger: ops.logger,
    shutdownDelayMs: checked.shutdownDelayMs,
    stopJobs: () => {
      runningJobs = false;
    },
    release,
  });
}

/** What a running server does besides its app and engine on shutdown. */
interface ShutdownSteps {
  readonly logger: ServiceOps['logger'];
  readonly shutdownDelayMs: number;
  readonly stopJobs: () => void;
  readonly release: () => Promise<void>;
}

class RunningServer implements ExportServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly #engine: ExportService;
  readonly #app: App;
  readonly #steps: ShutdownSteps;
  #closing: Promise<void> | undefined;

  constructor(engine: ExportService, app: App, steps: ShutdownSteps) {
    this.#engine = engine;
    this.#app = app;
    this.#steps = steps;
    const address = app.fastify.server.address();
    if (address === null || typeof address === 'string') throw new Error('The server listens on no TCP port');
    this.port = address.port;
    this.url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    this.dataDir = engine.dataDir;
  }

  get streamStats(): Readonly<EventStreamStats> {
    return { ...this.#app.streams.stats };
  }

  get connectionCount(): number {
    return this.#app.connections.size;
  }

  get routes(): readonly string[] {
    return this.#app.routes;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutDown(): Promise<void> {
    const app = this.#app;
    const { logger, shutdownDelayMs } = this.#steps;
    // Readiness first, so that whoever routes requests here stops before the service does.
    app.ops.drain();
    logger?.info({ event: 'shutdown', step: 'not_ready', delay_ms: shutdownDelayMs }, 'shutting down: /ready answers 503');
    if (shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, shutdownDelayMs));
    app.refuseNewRequests();
    this.#steps.stopJobs();
    // Stops listening at once; resolves once the requests in flight and the streams are done.
    const closed = app.fastify.close();
    // The running exports' last events go into the log before the streams send their tails.
    await this.#engine.stopJobs();
    const streams = app.streams.stats.open;
    app.streams.endAll();
    logger?.info({ event: 'shutdown', step: 'streams_ended', streams }, `shutting down: ${streams} event streams ended with their resume cursor`);
    app.connections.drain();
    const grace = setTimeout(() => app.connections.destroyAll(), SHUTDOWN_GRACE_MS);
    try {
      await closed;
    } finally {
      clearTimeout(grace);
    }
    await this.#engine.close();
    await this.#steps.release();
    logger?.info({ event: 'shutdown', step: 'stopped' }, 'export service stopped');
    logger?.flush();
  }
}

/** The modules that need the optional peers, loaded on first use with a clear error when a peer is missing. */
async function loadPeers(): Promise<[typeof AppModule, typeof SqliteModule, typeof OpsModule, typeof ObservedStoreModule]> {
  try {
    return await Promise.all([
      import('./http/create-app.js'),
      import('./sqlite/open-sqlite-store.js'),
      import('./http/service-ops.js'),
      import('./http/observed-store.js'),
    ]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && /fastify|better-sqlite3|pino|prom-client/.test(message)) {
      throw new Error(`export-task/server needs its optional peer dependencies: npm install fastify@5 better-sqlite3@12 pino@10 prom-client@15 (${message})`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** The modules of the Redis mode, loaded only when it is asked for. */
async function loadRedisPeers(): Promise<[typeof AppModule, typeof RedisModule, typeof OpsModule, typeof RedisMonitorModule]> {
  try {
    return await Promise.all([
      import('./http/create-app.js'),
      import('./redis/redis-engine.js'),
      import('./http/service-ops.js'),
      import('./http/redis-monitor.js'),
    ]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && /fastify|bullmq|ioredis|pino|prom-client/.test(message)) {
      throw new Error(`startServer({ redis }) needs the optional peer dependencies: npm install fastify@5 bullmq@6 ioredis@6 pino@10 prom-client@15 (${message})`, {
        cause: error,
      });
    }
    throw error;
  }
}

function checkServerOptions(options: unknown): CheckedServerOptions {
  checkOptionBag('startServer()', options, OPTION_KEYS, true);
  const o = options as Record<string, unknown>;
  const port = o['port'] ?? 0;
  if (!Number.isSafeInteger(port) || (port as number) < 0 || (port as number) > 65_535) {
    throw new TypeError(`Expected \`port\` to be an integer from 0 to 65535 (0 picks a free port), got ${describeValue(port)}`);
  }
  const host = o['host'] ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') {
    throw new TypeError(`Expected \`host\` to be an address to listen on, such as "127.0.0.1" or "::1", got ${describeValue(host)}`);
  }
  const dataDir = o['dataDir'];
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir === '' || dataDir.includes('\0'))) {
    throw new TypeError(`Expected \`dataDir\` to be a directory path, got ${describeValue(dataDir)}: leave it out for a temporary directory`);
  }
  const token = o['token'];
  if (token !== undefined && (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token))) {
    // The token is not shown: it may be a real one with a typo.
    throw new TypeError(
      typeof token === 'string'
        ? `Expected \`token\` to be a non-empty string of printable ASCII characters without spaces, got a string of ${token.length} characters with others (not shown)`
        : `Expected \`token\` to be a non-empty string of printable ASCII characters without spaces, got ${describeValue(token)}`,
    );
  }
  if (o['heartbeatMs'] !== undefined && o['heartbeatIntervalMs'] !== undefined) {
    throw new TypeError('Expected one of `heartbeatMs` and `heartbeatIntervalMs` (they are the same option), got both: remove one');
  }
  const heartbeatName = o['heartbeatIntervalMs'] === undefined ? 'heartbeatMs' : 'heartbeatIntervalMs';
  const heartbeatMs = o[heartbeatName] ?? 15_000;
  if (typeof heartbeatMs !== 'number' || !(heartbeatMs > 0) || heartbeatMs > MAX_TIMEOUT_MS) {
    throw new TypeError(`Expected \`${heartbeatName}\` to be a positive number of milliseconds up to ${MAX_TIMEOUT_MS}, got ${describeValue(heartbeatMs)}`);
  }
  const logger = checkLogger(o['logger']);
  const metricsPublic = o['metricsPublic'] ?? false;
  if (typeof metricsPublic !== 'boolean') throw new TypeError(`Expected \`metricsPublic\` to be a boolean, got ${describeValue(metricsPublic)}`);
  const shutdownDelayMs = o['shutdownDelayMs'] ?? 0;
  if (typeof shutdownDelayMs !== 'number' || !(shutdownDelayMs >= 0) || shutdownDelayMs > MAX_TIMEOUT_MS) {
    throw new TypeError(`Expected \`shutdownDelayMs\` to be a number of milliseconds from 0 to ${MAX_TIMEOUT_MS}, got ${describeValue(shutdownDelayMs)}`);
  }
  const redis = checkRedisTarget(o['redis'], o['redisCluster']);
  for (const key of ['redisTimeoutMs', 'retentionMs', 'outcomeRetentionMs', 'idempotencyTtlMs']) {
    if (redis === undefined && o[key] !== undefined) throw new TypeError(`Unexpected \`${key}\` without \`redis\` (or \`redisCluster\`): it is an option of the service on Redis`);
  }
  if (redis !== undefined) {
    if (dataDir === undefined) {
      throw new TypeError(
        'Expected `dataDir` with `redis`: the directory every API instance and worker shares (features and exported files); give the same one to `export-task worker --data-dir`',
      );
    }
    for (const key of ['jobTimeoutMs', 'jobMemoryMb', 'maxJobTimeoutMs', 'maxJobMemoryMb', 'fullStacktraces', 'concurrency']) {
      if (o[key] !== undefined) {
        throw new TypeError(`Unexpected \`${key}\` with \`redis\`: jobs run in \`export-task worker\` processes, so give it to them (startWorker() or the worker's flags)`);
      }
    }
  }
  const fullStacktraces = o['fullStacktraces'] ?? false;
  if (typeof fullStacktraces !== 'boolean') throw new TypeError(`Expected \`fullStacktraces\` to be a boolean, got ${describeValue(fullStacktraces)}`);
  const maxJobTimeoutMs = checkTimeoutMs(o['maxJobTimeoutMs'], 'maxJobTimeoutMs') ?? DEFAULT_MAX_JOB_TIMEOUT_MS;
  const maxJobMemoryMb = checkMemoryMb(o['maxJobMemoryMb'], 'maxJobMemoryMb') ?? DEFAULT_MAX_JOB_MEMORY_MB;
  const jobTimeoutMs = checkTimeoutMs(o['jobTimeoutMs'], 'jobTimeoutMs') ?? Math.min(DEFAULT_JOB_TIMEOUT_MS, maxJobTimeoutMs);
  const jobMemoryMb = checkMemoryMb(o['jobMemoryMb'], 'jobMemoryMb') ?? Math.min(DEFAULT_JOB_MEMORY_MB, maxJobMemoryMb);
  if (jobTimeoutMs > maxJobTimeoutMs) {
    throw new TypeError(`Expected \`jobTimeoutMs\` (${jobTimeoutMs}) to be at most \`maxJobTimeoutMs\` (${maxJobTimeoutMs}): the default cannot exceed the maximum`);
  }
  if (jobMemoryMb > maxJobMemoryMb) {
    throw new TypeError(`Expected \`jobMemoryMb\` (${jobMemoryMb}) to be at most \`maxJobMemoryMb\` (${maxJobMemoryMb}): the default cannot exceed the maximum`);
  }
  return {
    port: port as number,
    host,
    dataDir,
    token,
    signingKey: o['signingKey'] === undefined ? undefined : signingKeyBytes('startServer()', o['signingKey']),
    corsOrigins: o['cors'] === undefined ? [] : checkCorsOrigins('startServer()', o['cors']),
    jobTimeoutMs,
    jobMemoryMb,
    maxJobTimeoutMs,
    maxJobMemoryMb,
    fullStacktraces,
    concurrency: checkCount('startServer()', 'concurrency', o['concurrency'], 'jobs'),
    pageSize: checkCount('startServer()', 'pageSize', o['pageSize'], 'exports') ?? 100,
    heartbeatMs,
    bodyLimit: checkCount('startServer()', 'bodyLimit', o['bodyLimit'], 'bytes') ?? 64 * 1024 * 1024,
    sseBufferLimit: checkCount('startServer()', 'sseBufferLimit', o['sseBufferLimit'], 'bytes') ?? 1024 * 1024,
    logger,
    metricsPublic,
    shutdownDelayMs,
    redis,
    redisTimeoutMs: checkCount('startServer()', 'redisTimeoutMs', o['redisTimeoutMs'], 'milliseconds') ?? 3_000,
    retentionMs: checkCount('startServer()', 'retentionMs', o['retentionMs'], 'milliseconds'),
    outcomeRetentionMs: checkCount('startServer()', 'outcomeRetentionMs', o['outcomeRetentionMs'], 'milliseconds'),
    idempotencyTtlMs: checkCount('startServer()', 'idempotencyTtlMs', o['idempotencyTtlMs'], 'milliseconds'),
  };
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function checkLogger(value: unknown): LoggerOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`logger\` to be a boolean or { level, destination }, got ${describeValue(value)}`);
  }
  const { level, destination, pretty, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new TypeError(`Unknown option \`logger.${unknown}\`: expected only \`level\`, \`destination\` and \`pretty\``);
  if (pretty !== undefined && typeof pretty !== 'boolean') throw new TypeError(`Expected \`logger.pretty\` to be a boolean, got ${describeValue(pretty)}`);
  if (level !== undefined && (typeof level !== 'string' || !LEVELS.includes(level))) {
    throw new TypeError(`Expected \`logger.level\` to be one of ${LEVELS.join(', ')}, got ${describeValue(level)}`);
  }
  if (destination !== undefined && typeof (destination as { write?: unknown }).write !== 'function') {
    throw new TypeError(`Expected \`logger.destination\` to be a writable stream (something with a write method), got ${describeValue(destination)}`);
  }
  return value;
}
