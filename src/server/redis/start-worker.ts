import { rename, rm } from 'node:fs/promises';
import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { QueueEvents, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import { describeValue } from '../../core/errors.js';
import type { TaskEvent } from '../../core/events.js';
import { checkOptionBag } from '../../internal/options.js';
import { checkMemoryMb, checkTimeoutMs } from '../embedded/check-limits.js';
import { failedBody, failureOf, isSystemError } from '../embedded/engine.js';
import { ExportJob } from '../embedded/export-job.js';
import type { ExportJobOutcome } from '../embedded/export-job.js';
import type { EventBody } from '../embedded/export-record.js';
import { StorageArea } from '../embedded/storage-area.js';
import { connectRedis } from './connect-redis.js';
import { checkDataDir } from './data-dir-marker.js';
import { RedisExportLog } from './redis-export-log.js';
import { EXPORT_QUEUE, fromExportJobId, QUEUE_OPTIONS, redisKeys } from './redis-keys.js';
import type { ExportJobData } from './redis-keys.js';
import { RedisProducts } from './redis-products.js';
import { checkRedisTarget } from './check-redis-target.js';
import type { RedisTarget } from './check-redis-target.js';
import { duplicateConnection } from './redis-target.js';
import type { RedisConnection } from './redis-target.js';
import { refuseLegacyLayout } from './refuse-legacy-layout.js';

/**
 * Options of {@link startWorker}.
 *
 * @example
 * ```ts
 * const worker = await startWorker({ redis: 'redis://127.0.0.1:6379', dataDir: '/srv/export-data', concurrency: 4 } satisfies WorkerOptions);
 * ```
 */
export interface WorkerOptions {
  /** The Redis the API instances use, e.g. `redis://127.0.0.1:6379`; or give {@link WorkerOptions.redisCluster}. */
  readonly redis?: string | undefined;
  /**
   * Instead of `redis`: the Redis Cluster the API instances use, by some of its nodes
   * (`host:port` or `redis://[user:password@]host:port` each; an array, or one comma-separated
   * string), e.g. `['127.0.0.1:7000', '127.0.0.1:7001']`. The client learns the other masters from them.
   */
  readonly redisCluster?: readonly string[] | string | undefined;
  /** The directory the API instances share (features in `products/`, exported files in `storage/`). */
  readonly dataDir: string;
  /**
   * Export jobs this process runs at once, each in its own worker thread.
   * @defaultValue `os.availableParallelism()`
   */
  readonly concurrency?: number | undefined;
  /**
   * How long one job may run, ms, before it fails with `failure_type: "timeout"`; an export's own `limits` win.
   * @defaultValue unlimited
   */
  readonly jobTimeoutMs?: number | undefined;
  /**
   * How much heap one job may use, MiB, before it fails with `failure_type: "oom"`; an export's own `limits` win.
   * @defaultValue unlimited
   */
  readonly jobMemoryMb?: number | undefined;
  /**
   * BullMQ's `lockDuration`: a worker renews the lock of each job it runs every half of it;
   * a job whose lock ran out (its worker died) is taken back by another worker's stalled-job
   * check, which runs every half of it too, and ends `failed` (`internal`) if it had started.
   * So a worker killed mid-job has its exports end within about 1.5 times this (7.5 s by
   * default) once another worker runs. The trade-off: smaller notices a dead worker sooner, at
   * more Redis traffic (two commands per running job per half), and a worker whose event loop
   * is blocked longer than this (jobs run in threads, so only a starved machine does that)
   * loses its jobs as if dead. BullMQ's own default is 30000.
   * @defaultValue 5000
   */
  readonly lockDurationMs?: number | undefined;
  /** Hears each export event this worker appends (the worker's metrics and logs). @internal */
  readonly onEvent?: ((event: TaskEvent) => void) | undefined;
}

/**
 * A running worker process's share of the export jobs.
 *
 * @example
 * ```ts
 * const worker: ExportWorker = await startWorker({ redis: 'redis://127.0.0.1:6379', dataDir: '/srv/export-data' });
 * process.once('SIGTERM', () => void worker.close()); // running jobs end as they would have
 * ```
 */
export interface ExportWorker extends AsyncDisposable {
  /**
   * Stops taking jobs and waits for the running ones to end (they end as they would have),
   * then disconnects. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /** Same as {@link ExportWorker.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** {@link WorkerOptions.lockDurationMs} by default, ms. @internal */
export const DEFAULT_LOCK_DURATION_MS = 5_000;

/** What the stacktrace of an export whose worker died says. @internal */
export const WORKER_LOST_STACKTRACE =
  'The worker running this export stopped (it was killed or crashed) after the export had started, so its job was lost: start the export again.';

/** A job this process runs, seen by the cancellation listener. */
interface Running {
  job: ExportJob | undefined;
  cancelled: boolean;
}

const OPTION_KEYS = ['redis', 'redisCluster', 'dataDir', 'concurrency', 'jobTimeoutMs', 'jobMemoryMb', 'lockDurationMs', 'onEvent'];

/**
 * Starts a worker of the service on Redis: it takes export jobs from the BullMQ queue the
 * API instances (`startServer({ redis })`) add to, runs each in a worker thread with the same
 * code and limits as the service of one machine (exceptions, time and memory limits), and
 * appends the export's events to its Redis log. Any number of workers on any number of
 * machines may share one Redis and one data directory.
 *
 * - Cancellation reaches the job wherever it runs: API instances publish it on a Redis
 *   channel every worker listens to, and a worker taking a job checks the export's record.
 * - A worker that dies (SIGKILL, a crash) stops renewing its jobs' locks; BullMQ's
 *   stalled-job check in another worker moves each job back to the queue, and the worker
 *   that takes it ends the export `failed` with `failure_type: "internal"` if it had started
 *   (its events so far cannot be taken back), or runs it if it had not. A job BullMQ itself
 *   fails (stalled too often) ends its export the same way, so no export hangs.
 *
 * @example
 * ```ts
 * import { startWorker } from 'export-task/server';
 *
 * await using worker = await startWorker({ redis: 'redis://127.0.0.1:6379', dataDir: '/shared/export-task', concurrency: 4 });
 * ```
 * @param options - See {@link WorkerOptions}.
 * @returns The running worker.
 * @throws TypeError (a rejection) for a bad option; Error when Redis cannot be reached, or
 * when `dataDir` is not the directory the API instances of that Redis use (it has not their
 * `.export-task-data-dir` marker).
 */
export async function startWorker(options: WorkerOptions): Promise<ExportWorker> {
  const checked = checkWorkerOptions(options);
  // Named as its jobs' `pb` names it, so that `CLIENT LIST` on each master tells which process holds a connection.
  const redis = await connectRedis(checked.redis, { connectionName: workerName() });
  try {
    await refuseLegacyLayout(redis, checked.redis);
    await checkDataDir(redis, checked.redis, checked.dataDir);
    return await RedisWorker.start(checked, redis);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
}

interface CheckedWorkerOptions {
  readonly redis: RedisTarget;
  readonly dataDir: string;
  readonly concurrency: number;
  readonly jobTimeoutMs: number | null;
  readonly jobMemoryMb: number | null;
  readonly lockDurationMs: number;
  readonly onEvent: ((event: TaskEvent) => void) | undefined;
}

class RedisWorker implements ExportWorker {
  readonly #options: CheckedWorkerOptions;
  readonly #redis: RedisConnection;
  readonly #subscriber: RedisConnection;
  readonly #log: RedisExportLog;
  readonly #products: RedisProducts;
  readonly #storage: StorageArea;
  readonly #running = new Map<string, Running>();
  /** The running jobs by the cancel channel of their export (what a cancel message names). */
  readonly #byChannel = new Map<string, Running>();
  /** The connections given to BullMQ, which leaves closing them to their owner. */
  readonly #connections: RedisConnection[] = [];
  #worker: Worker<ExportJobData> | undefined;
  #events: QueueEvents | undefined;
  #closing: Promise<void> | undefined;

  private constructor(options: CheckedWorkerOptions, redis: RedisConnection, subscriber: RedisConnection) {
    this.#options = options;
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#log = new RedisExportLog(redis, { onAppended: options.onEvent });
    this.#products = new RedisProducts(redis, join(options.dataDir, 'products'));
    this.#storage = new StorageArea(join(options.dataDir, 'storage'));
  }

  static async start(options: CheckedWorkerOptions, redis: RedisConnection): Promise<RedisWorker> {
    // Cancels come on each export's sharded channel, in its product's slot (SSUBSCRIBE while
    // the job runs): on a cluster, on the master of the product, so that a cancel needs no
    // other master, and a worker hears only of the exports it runs.
    const subscriber = duplicateConnection(redis, { shardedSubscribers: true });
    subscriber.on('error', () => undefined);
    const self = new RedisWorker(options, redis, subscriber);
    subscriber.on('smessage', (channel: string) => self.#onCancel(channel));
    // A job BullMQ fails by itself (stalled more than `maxStalledCount` times, a lost lock)
    // must still end its export: every worker hears it, one append wins.
    const events = new QueueEvents(EXPORT_QUEUE, { ...QUEUE_OPTIONS, connection: self.#connection() });
    events.on('error', () => undefined);
    events.on('failed', ({ jobId, failedReason }) => void self.#onJobFailed(jobId, failedReason));
    self.#events = events;
    await events.waitUntilReady();
    const worker = new Worker<ExportJobData>(EXPORT_QUEUE, (job) => self.#process(job), {
      ...QUEUE_OPTIONS,
      // BullMQ writes it into each job it takes (field `pb`): which process runs an export.
      name: workerName(),
      connection: self.#connection(),
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: Math.max(500, Math.floor(options.lockDurationMs / 2)),
      maxStalledCount: 1,
    });
    worker.on('error', () => undefined);
    self.#worker = worker;
    await worker.waitUntilReady();
    return self;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#worker?.close();
      await this.#events?.close();
      for (const connection of this.#connections) await connection.quit().catch(() => undefined);
      await this.#subscriber.quit().catch(() => undefined);
      this.#storage.close();
      await this.#redis.quit().catch(() => undefined);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #connection(): RedisConnection {
    const connection = duplicateConnection(this.#redis);
    connection.on('error', () => undefined);
    this.#connections.push(connection);
    return connection;
  }

  #onCancel(channel: string): void {
    const running = this.#byChannel.get(channel);
    if (running === undefined) return;
    running.cancelled = true;
    if (running.job !== undefined && !running.job.reported) running.job.stop('cancelled');
  }

  async #onJobFailed(jobId: string, failedReason: string): Promise<void> {
    const job = fromExportJobId(jobId);
    if (job === undefined) return;
    const { productId, exportId } = job;
    await this.#log
      .append(productId, exportId, (record) =>
        failedBody(record, {
          ...failureOf(null, 'internal'),
          stacktrace: `The job queue gave up on this export (${failedReason}): start the export again.`,
        }),
      )
      .catch(() => undefined);
  }

  async #process(job: Job<ExportJobData>): Promise<void> {
    const { productId, exportId } = job.data;
    const running: Running = { job: undefined, cancelled: false };
    const channel = redisKeys.cancel(productId, exportId);
    this.#running.set(exportId, running);
    this.#byChannel.set(channel, running);
    try {
      // Subscribed before the export's record is read: a cancel from then on is heard, one
      // before is in the record.
      await this.#subscriber.ssubscribe(channel);
      await this.#run(productId, exportId, running);
    } finally {
      this.#running.delete(exportId);
      this.#byChannel.delete(channel);
      await this.#subscriber.sunsubscribe(channel).catch(() => undefined);
    }
  }

  async #run(productId: string, exportId: string, running: Running): Promise<void> {
    const log = this.#log;
    const record = await log.get(productId, exportId);
    const request = await log.request(productId, exportId);
    if (record === undefined || request === undefined || record.final) return;
    const fail = (outcome: Extract<ExportJobOutcome, { ok: false }>): Promise<unknown> =>
      log.append(productId, exportId, (current) => failedBody(current, outcome));
    if (record.phase === 'running') {
      // Taken back from a worker that died mid-job (BullMQ's stalled-job check).
      await fail({ ...failureOf(null, 'internal'), stacktrace: WORKER_LOST_STACKTRACE });
      return;
    }
    if (record.cancelRequested || running.cancelled) {
      await fail(failureOf(null, 'cancelled'));
      return;
    }
    let target;
    try {
      target = await this.#storage.prepare(request.key);
    } catch (error) {
      await fail(failureOf(error, isSystemError(error) ? 'internal' : 'exception'));
      return;
    }
    const product = await this.#products.meta(productId);
    if (product === undefined || running.cancelled || (await log.get(productId, exportId))?.cancelRequested === true) {
      await fail(product === undefined ? failureOf(new Error(`The product ${productId} is gone`), 'internal') : failureOf(null, 'cancelled'));
      return;
    }
    // The job's reports are appended one after the other, in the order it made them.
    let appends: Promise<unknown> = Promise.resolve();
    const emit = (body: EventBody): void => {
      appends = appends.then(() => log.append(productId, exportId, body)).catch(() => undefined);
    };
    const job = new ExportJob(
      {
        featuresPath: this.#products.featuresPath(productId),
        featuresBytes: product.byteLength,
        tempPath: target.temp,
        key: request.key,
        query: request.query,
      },
      { timeoutMs: request.timeoutMs ?? this.#options.jobTimeoutMs, memoryMb: request.memoryMb ?? this.#options.jobMemoryMb },
      {
        onStarted: () => emit({ type: 'started' }),
        onProgress: (fraction, message) => emit({ type: 'progress', fraction, message }),
        onLog: (line) => emit({ type: 'log', line }),
      },
    );
    running.job = job;
    // A cancellation heard while the job was being set up.
    if (running.cancelled) job.stop('cancelled');
    const outcome = await job.outcome;
    await appends;
    if (!outcome.ok) {
      await rm(target.temp, { force: true });
      await fail(outcome);
      return;
    }
    try {
      await rename(target.temp, target.target);
    } catch (error) {
      await rm(target.temp, { force: true });
      await fail(failureOf(error, isSystemError(error) ? 'internal' : 'exception'));
      return;
    }
    await log.append(productId, exportId, { type: 'log', line: `wrote ${request.key} (${outcome.sizeBytes} bytes)` });
    await log.append(productId, exportId, (current) => ({
      type: 'succeeded',
      runtime: outcome.runtime,
      peak_memory_usage: outcome.peakMemory,
      key: current.key,
      labels: current.labels,
      size_bytes: outcome.sizeBytes,
      sha256: outcome.sha256,
    }));
  }
}

/** What names this process's worker: in its jobs (`pb`) and its Redis connections. */
function workerName(): string {
  return `export-task-worker:${hostname()}:${process.pid}`;
}

function checkWorkerOptions(options: unknown): CheckedWorkerOptions {
  checkOptionBag('startWorker()', options, OPTION_KEYS, true);
  const o = options as Record<string, unknown>;
  const dataDir = o['dataDir'];
  if (typeof dataDir !== 'string' || dataDir === '' || dataDir.includes('\0')) {
    throw new TypeError(`Expected \`dataDir\` to be the directory the API instances share (features and exported files), got ${describeValue(dataDir)}`);
  }
  const redis = checkRedisTarget(o['redis'], o['redisCluster']);
  if (redis === undefined) {
    throw new TypeError('Expected `redis` (the URL of the Redis the API instances use, e.g. "redis://127.0.0.1:6379") or `redisCluster` (some nodes of their Redis Cluster, e.g. ["127.0.0.1:7000"]), got neither');
  }
  return {
    redis,
    dataDir: resolve(dataDir),
    concurrency: checkPositive(o['concurrency'], 'concurrency') ?? availableParallelism(),
    jobTimeoutMs: checkTimeoutMs(o['jobTimeoutMs'], 'jobTimeoutMs'),
    jobMemoryMb: checkMemoryMb(o['jobMemoryMb'], 'jobMemoryMb'),
    lockDurationMs: checkPositive(o['lockDurationMs'], 'lockDurationMs') ?? DEFAULT_LOCK_DURATION_MS,
    onEvent: typeof o['onEvent'] === 'function' ? (o['onEvent'] as (event: TaskEvent) => void) : undefined,
  };
}

function checkPositive(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new TypeError(`Expected \`${name}\` to be a positive integer, got ${describeValue(value)}`);
  }
  return value as number;
}
