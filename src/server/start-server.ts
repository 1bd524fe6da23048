import { describeValue } from '../core/errors.js';
import { checkRedisUrl } from './redis/check-redis-url.js';
import { checkMemoryMb, checkTimeoutMs, MAX_TIMEOUT_MS } from './embedded/check-limits.js';
import { startEngine } from './embedded/engine.js';
import type * as AppModule from './http/create-app.js';
import type { App } from './http/create-app.js';
import type { EventStreamStats } from './http/event-stream.js';
import type { ExportService } from './http/export-service.js';
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
   * How long one export job may run, in ms, before it fails with `failure_type: "timeout"`.
   * An export's own `limits.timeout_ms` wins over it.
   * @defaultValue unlimited
   */
  readonly jobTimeoutMs?: number | undefined;
  /**
   * How much heap one export job may use, in MiB, before it fails with `failure_type: "oom"`.
   * An export's own `limits.memory_mb` wins over it.
   * @defaultValue unlimited
   */
  readonly jobMemoryMb?: number | undefined;
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
   * @defaultValue 15000
   */
  readonly heartbeatMs?: number | undefined;
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
   * Whether Fastify logs each request (JSON lines on stdout, via pino). Tokens are never logged.
   * @defaultValue false
   */
  readonly logger?: boolean | undefined;
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
}

/** The options with their defaults, checked. */
interface CheckedServerOptions {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string | undefined;
  readonly token: string | undefined;
  readonly jobTimeoutMs: number | null;
  readonly jobMemoryMb: number | null;
  readonly concurrency: number | undefined;
  readonly pageSize: number;
  readonly heartbeatMs: number;
  readonly bodyLimit: number;
  readonly sseBufferLimit: number;
  readonly logger: boolean;
  readonly redis: string | undefined;
  readonly redisTimeoutMs: number;
  readonly retentionMs: number | undefined;
  readonly outcomeRetentionMs: number | undefined;
  readonly idempotencyTtlMs: number | undefined;
}

/** How long a shutdown waits for requests in flight (a download to a client that stopped reading, say) before it cuts them. */
const SHUTDOWN_GRACE_MS = 10_000;

const OPTION_KEYS = [
  'port',
  'host',
  'dataDir',
  'token',
  'jobTimeoutMs',
  'jobMemoryMb',
  'concurrency',
  'pageSize',
  'heartbeatMs',
  'bodyLimit',
  'sseBufferLimit',
  'logger',
  'redis',
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
  if (checked.redis === undefined) {
    const [app, { openSqliteStore }] = await loadPeers();
    createApp = app.createApp;
    engine = await startEngine({
      dataDir: checked.dataDir,
      jobTimeoutMs: checked.jobTimeoutMs,
      jobMemoryMb: checked.jobMemoryMb,
      concurrency: checked.concurrency,
      pageSize: checked.pageSize,
      openStore: openSqliteStore,
    });
  } else {
    const [app, { RedisEngine }] = await loadRedisPeers();
    createApp = app.createApp;
    engine = await RedisEngine.start({
      redis: checked.redis,
      dataDir: checked.dataDir!,
      pageSize: checked.pageSize,
      redisTimeoutMs: checked.redisTimeoutMs,
      retryAfterSeconds: Math.max(1, Math.ceil(checked.redisTimeoutMs / 1000)),
      // The app (and its logger) comes next: lines before it are not lost, there are none.
      log: (level, message) => served?.fastify.log[level](message),
      retentionMs: checked.retentionMs,
      outcomeRetentionMs: checked.outcomeRetentionMs,
      idempotencyTtlMs: checked.idempotencyTtlMs,
    });
  }
  let app: App | undefined;
  try {
    app = createApp(engine, checked);
    served = app;
    await app.fastify.listen({ port: checked.port, host: checked.host });
  } catch (error) {
    await app?.fastify.close();
    await engine.close();
    throw error;
  }
  return new RunningServer(engine, app);
}

class RunningServer implements ExportServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly #engine: ExportService;
  readonly #app: App;
  #closing: Promise<void> | undefined;

  constructor(engine: ExportService, app: App) {
    this.#engine = engine;
    this.#app = app;
    const address = app.fastify.server.address();
    if (address === null || typeof address === 'string') throw new Error('The server listens on no TCP port');
    this.port = address.port;
    this.url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    this.dataDir = engine.dataDir;
  }

  get streamStats(): Readonly<EventStreamStats> {
    return { ...this.#app.streams.stats };
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
    app.refuseNewRequests();
    // Stops listening at once; resolves once the requests in flight and the streams are done.
    const closed = app.fastify.close();
    // The running exports' last events go into the log before the streams send their tails.
    await this.#engine.stopJobs();
    app.streams.endAll();
    app.connections.drain();
    const grace = setTimeout(() => app.connections.destroyAll(), SHUTDOWN_GRACE_MS);
    try {
      await closed;
    } finally {
      clearTimeout(grace);
    }
    await this.#engine.close();
  }
}

/** The modules that need the optional peers, loaded on first use with a clear error when a peer is missing. */
async function loadPeers(): Promise<[typeof AppModule, typeof SqliteModule]> {
  try {
    return await Promise.all([import('./http/create-app.js'), import('./sqlite/open-sqlite-store.js')]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && /fastify|better-sqlite3/.test(message)) {
      throw new Error(`export-task/server needs its optional peer dependencies: npm install fastify@5 better-sqlite3@12 (${message})`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** The modules of the Redis mode, loaded only when it is asked for. */
async function loadRedisPeers(): Promise<[typeof AppModule, typeof RedisModule]> {
  try {
    return await Promise.all([import('./http/create-app.js'), import('./redis/redis-engine.js')]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && /fastify|bullmq|ioredis/.test(message)) {
      throw new Error(`startServer({ redis }) needs the optional peer dependencies: npm install fastify@5 bullmq@6 ioredis@6 (${message})`, {
        cause: error,
      });
    }
    throw error;
  }
}

function checkServerOptions(options: unknown): CheckedServerOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`Expected the options of startServer() to be an object, got ${describeValue(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new TypeError(`Unknown option \`${key}\` of startServer(): expected only ${OPTION_KEYS.map((k) => `\`${k}\``).join(', ')}`);
    }
  }
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
  const heartbeatMs = o['heartbeatMs'] ?? 15_000;
  if (typeof heartbeatMs !== 'number' || !(heartbeatMs > 0) || heartbeatMs > MAX_TIMEOUT_MS) {
    throw new TypeError(`Expected \`heartbeatMs\` to be a positive number of milliseconds up to ${MAX_TIMEOUT_MS}, got ${describeValue(heartbeatMs)}`);
  }
  const logger = o['logger'] ?? false;
  if (typeof logger !== 'boolean') throw new TypeError(`Expected \`logger\` to be a boolean, got ${describeValue(logger)}`);
  const redis = o['redis'] === undefined ? undefined : checkRedisUrl(o['redis'], 'redis');
  for (const key of ['redisTimeoutMs', 'retentionMs', 'outcomeRetentionMs', 'idempotencyTtlMs']) {
    if (redis === undefined && o[key] !== undefined) throw new TypeError(`Unexpected \`${key}\` without \`redis\`: it is an option of the service on Redis`);
  }
  if (redis !== undefined) {
    if (dataDir === undefined) {
      throw new TypeError(
        'Expected `dataDir` with `redis`: the directory every API instance and worker shares (features and exported files); give the same one to `export-task worker --data-dir`',
      );
    }
    for (const key of ['jobTimeoutMs', 'jobMemoryMb', 'concurrency']) {
      if (o[key] !== undefined) {
        throw new TypeError(`Unexpected \`${key}\` with \`redis\`: jobs run in \`export-task worker\` processes, so give it to them (startWorker() or the worker's flags)`);
      }
    }
  }
  return {
    port: port as number,
    host,
    dataDir,
    token,
    jobTimeoutMs: checkTimeoutMs(o['jobTimeoutMs'], 'jobTimeoutMs'),
    jobMemoryMb: checkMemoryMb(o['jobMemoryMb'], 'jobMemoryMb'),
    concurrency: checkCount(o['concurrency'], 'concurrency', 'jobs'),
    pageSize: checkCount(o['pageSize'], 'pageSize', 'exports') ?? 100,
    heartbeatMs,
    bodyLimit: checkCount(o['bodyLimit'], 'bodyLimit', 'bytes') ?? 64 * 1024 * 1024,
    sseBufferLimit: checkCount(o['sseBufferLimit'], 'sseBufferLimit', 'bytes') ?? 1024 * 1024,
    logger,
    redis,
    redisTimeoutMs: checkCount(o['redisTimeoutMs'], 'redisTimeoutMs', 'milliseconds') ?? 3_000,
    retentionMs: checkCount(o['retentionMs'], 'retentionMs', 'milliseconds'),
    outcomeRetentionMs: checkCount(o['outcomeRetentionMs'], 'outcomeRetentionMs', 'milliseconds'),
    idempotencyTtlMs: checkCount(o['idempotencyTtlMs'], 'idempotencyTtlMs', 'milliseconds'),
  };
}

function checkCount(value: unknown, name: string, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new TypeError(`Expected \`${name}\` to be a positive integer number of ${what}, got ${describeValue(value)}`);
  }
  return value as number;
}
