import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import type { ExportRequest, ProductInfo } from '../../client/backend.js';
import type { Feature } from '../../client/geojson.js';
import { BadRequestError, NotFoundError } from '../../client/http-errors.js';
import { describeValue } from '../../core/errors.js';
import type { SnapshotEvent, TaskEvent } from '../../core/events.js';
import { checkExportRequest, checkIdempotencyKey } from '../embedded/check-export-request.js';
import { decodeContinuationToken, encodeContinuationToken } from '../embedded/continuation-token.js';
import { closedError, failedBody, failureOf } from '../embedded/engine.js';
import type { ExportRecord } from '../embedded/export-record.js';
import { StorageArea } from '../embedded/storage-area.js';
import type { StoredFile } from '../embedded/storage-area.js';
import type { ExportService } from '../http/export-service.js';
import type { FeedOptions } from '../embedded/engine.js';
import { connectRedis } from './connect-redis.js';
import { markDataDir } from './data-dir-marker.js';
import { RedisAvailability } from './redis-availability.js';
import type { ServiceLog } from './redis-availability.js';
import { RedisFeedSource } from './redis-event-feed.js';
import type { RedisEventFeed } from './redis-event-feed.js';
import { compareEntryIds, RedisExportLog } from './redis-export-log.js';
import { EXPORT_QUEUE, exportJobId, QUEUE_OPTIONS, redisKeys } from './redis-keys.js';
import type { ExportJobData } from './redis-keys.js';
import { RedisProducts } from './redis-products.js';
import type { RedisTarget } from './check-redis-target.js';
import type { RedisConnection } from './redis-target.js';
import { RedisTails } from './redis-tails.js';
import { refuseLegacyLayout } from './refuse-legacy-layout.js';

/** What an API instance on Redis runs with, checked. @internal */
export interface RedisEngineOptions {
  /** Hears each export event this instance appends (the service's metrics and logs). */
  readonly onEvent?: ((event: TaskEvent) => void) | undefined;
  /** The Redis, or the Redis Cluster. */
  readonly redis: RedisTarget;
  readonly dataDir: string;
  readonly pageSize: number;
  /** A request whose Redis commands have not answered within it is answered 503, ms. */
  readonly redisTimeoutMs: number;
  /** The `Retry-After` of those 503s, seconds. */
  readonly retryAfterSeconds: number;
  /** Where the outage and recovery lines go. */
  readonly log: ServiceLog;
  /** How long a final export's events stay in the stream and its full record in Redis, ms. */
  readonly retentionMs?: number | undefined;
  /** How long a final export's compact outcome stays (status routes, list route), ms. */
  readonly outcomeRetentionMs?: number | undefined;
  /** How long an `Idempotency-Key` names its export, ms. */
  readonly idempotencyTtlMs?: number | undefined;
}

/** {@link RedisEngineOptions.redisTimeoutMs} by default. @internal */
export const DEFAULT_REDIS_TIMEOUT_MS = 3_000;

/** The job options of every export: BullMQ keeps no finished job (the export's record is the outcome), one attempt. */
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: true, attempts: 1 } as const;

/**
 * An API instance of the service on Redis: stateless, any number of them on one Redis. The
 * products, the exports' records and their event log are in Redis ({@link RedisExportLog},
 * {@link RedisProducts}); exports are jobs on a BullMQ queue, run by `export-task worker`
 * processes; features and exported files are in `dataDir`, a directory every instance and
 * worker shares. Any instance answers any request the same, and serves any client's event
 * stream from its cursor (a stream entry id).
 * @internal
 */
export class RedisEngine implements ExportService {
  readonly dataDir: string;
  readonly #options: RedisEngineOptions;
  readonly #redis: RedisConnection;
  readonly #log: RedisExportLog;
  readonly #products: RedisProducts;
  readonly #tails: RedisTails;
  readonly #queue: Queue<ExportJobData>;
  readonly #storage: StorageArea;
  readonly #feeds = new Set<RedisEventFeed>();
  readonly #availability: RedisAvailability;
  #closing: Promise<void> | undefined;

  private constructor(options: RedisEngineOptions, redis: RedisConnection, queue: Queue<ExportJobData>) {
    this.#options = options;
    this.dataDir = options.dataDir;
    this.#redis = redis;
    this.#log = new RedisExportLog(redis, {
      idempotencyTtlMs: options.idempotencyTtlMs,
      retentionMs: options.retentionMs,
      outcomeRetentionMs: options.outcomeRetentionMs,
      onAppended: options.onEvent,
    });
    this.#products = new RedisProducts(redis, join(options.dataDir, 'products'));
    this.#tails = new RedisTails(redis);
    this.#queue = queue;
    this.#storage = new StorageArea(join(options.dataDir, 'storage'));
    this.#availability = new RedisAvailability(redis, options.redis, { retryAfterSeconds: options.retryAfterSeconds, log: options.log });
  }

  /**
   * Whether Redis answers (as far as the last command and the connection say): false during an
   * outage, while requests are answered 503. For readiness checks.
   */
  get redisAvailable(): boolean {
    return this.#availability.available;
  }

  /** Connects to Redis and prepares the shared directory. */
  static async start(options: RedisEngineOptions): Promise<RedisEngine> {
    const dataDir = resolve(options.dataDir);
    await mkdir(join(dataDir, 'storage'), { recursive: true });
    await mkdir(join(dataDir, 'products'), { recursive: true });
    // Named, so that `CLIENT LIST` on each master tells which process holds a connection.
    const redis = await connectRedis(options.redis, { commandTimeoutMs: options.redisTimeoutMs, connectionName: `export-task-api:${hostname()}:${process.pid}` });
    try {
      await refuseLegacyLayout(redis, options.redis);
      await markDataDir(redis, options.redis, dataDir);
      const queue = new Queue<ExportJobData>(EXPORT_QUEUE, { ...QUEUE_OPTIONS, connection: redis, defaultJobOptions: JOB_OPTIONS });
      queue.on('error', () => undefined);
      return new RedisEngine({ ...options, dataDir }, redis, queue);
    } catch (error) {
      redis.disconnect();
      throw error;
    }
  }

  async createProduct(productId: string, options: { readonly title?: string | undefined }): Promise<ProductInfo> {
    return this.#guard(productId, async () => {
      return this.#products.create(productId, (options as { title?: unknown } | undefined)?.title);
    });
  }

  async getProduct(productId: string): Promise<ProductInfo> {
    return this.#guard(productId, async () => {
      return this.#products.get(productId);
    });
  }

  async addFeatures(productId: string, features: readonly Feature[] | Uint8Array): Promise<{ readonly added: number }> {
    return this.#guard(productId, async () => {
      return { added: await this.#products.add(productId, features) };
    });
  }

  async startExport(
    productId: string,
    request: ExportRequest,
    options?: { readonly idempotencyKey?: string | undefined },
  ): Promise<{ readonly exportId: string }> {
    return this.#guard(productId, async () => {
      const checked = checkExportRequest(request);
      this.#storage.resolve(checked.key);
      const idempotencyKey = checkIdempotencyKey(options?.idempotencyKey);
      await this.#products.require(productId);
      const created = await this.#log.create(productId, randomUUID(), checked, idempotencyKey);
      const exportId = created.created ? created.event.event.export_id : created.exportId;
      // Adding a job whose id exists does nothing, so a retry with the same key also queues an
      // export whose first request died between recording it and queueing it.
      const record = created.created ? undefined : await this.#log.get(productId, exportId);
      if (created.created || (record !== undefined && record.phase === 'pending' && !record.cancelRequested)) {
        await this.#queue.add('export', { productId, exportId }, { jobId: exportJobId(productId, exportId) });
      }
      return { exportId };
    });
  }

  async statusOf(productId: string, exportIds: readonly unknown[]): Promise<{ data: SnapshotEvent[]; missing: unknown[] }> {
    return this.#guard(productId, async () => {
      await this.#products.require(productId);
      const ids = exportIds.filter((id): id is string => typeof id === 'string');
      const records = new Map<string, ExportRecord | undefined>();
      const found = await this.#log.getMany(productId, ids);
      ids.forEach((id, i) => records.set(id, found[i]));
      const data: SnapshotEvent[] = [];
      const missing: unknown[] = [];
      for (const exportId of exportIds) {
        const record = typeof exportId === 'string' ? records.get(exportId) : undefined;
        if (record === undefined) missing.push(exportId);
        else data.push(record.snapshot());
      }
      return { data, missing };
    });
  }

  /** The product's exports not final yet, as snapshots, in the order they were created (its active set). */
  async inFlight(productId: string): Promise<SnapshotEvent[]> {
    return this.#guard(productId, async () => {
      await this.#products.require(productId);
      return (await this.#log.active(productId)).map((record) => record.snapshot());
    });
  }

  async record(productId: string, exportId: string): Promise<ExportRecord> {
    return this.#guard(productId, async () => {
      return this.#record(productId, exportId);
    });
  }

  async listFinal(productId: string, continuationToken: string | null | undefined): Promise<{ records: ExportRecord[]; continuationToken: string | null }> {
    return this.#guard(productId, async () => {
      await this.#products.require(productId);
      const after = decodeContinuationToken(continuationToken);
      const pageSize = this.#options.pageSize;
      const records = await this.#log.listFinal(productId, after, pageSize + 1);
      const more = records.length > pageSize;
      if (more) records.length = pageSize;
      return { records, continuationToken: more ? encodeContinuationToken(records.at(-1)!.ordinal) : null };
    });
  }

  /**
   * Records a request to cancel the export and acts on it without waiting: a job still
   * waiting on the queue is removed and its export ends `cancelled` at once; a running one is
   * told on the export's sharded pub/sub channel (`SPUBLISH`, in the product's slot, so that a
   * cancel needs no other shard than the product's), and the worker running it, subscribed
   * there, stops it (a worker that takes the job later sees the request in the export's record).
   */
  async requestCancel(productId: string, exportId: string): Promise<ExportRecord> {
    return this.#guard(productId, async () => {
      const record = await this.#record(productId, exportId);
      if (record.final || record.cancelRequested) return record;
      const asked = await this.#log.append(productId, exportId, (current) => (current.cancelRequested ? undefined : { type: 'cancel_requested' }));
      if (asked !== undefined) {
        await this.#redis.spublish(redisKeys.cancel(productId, exportId), 'cancel');
        // 1 when the job was waiting (or delayed) and is gone; 0 when a worker holds it.
        const removed = await this.#queue.remove(exportJobId(productId, exportId)).catch(() => 0);
        if (removed === 1) {
          await this.#log.append(productId, exportId, (current) => failedBody(current, failureOf(null, 'cancelled')));
        }
      }
      return this.#record(productId, exportId);
    });
  }

  /**
   * A feed of the product's events after the cursor `after` (a stream entry id; all events
   * when absent; from the log's current end with `from: 'now'`). A cursor this log never held
   * (ahead of its end, or of a log since replaced) gives a feed that is {@link RedisEventFeed.lost}
   * at once: its stream says `event: reset`.
   * @throws NotFoundError for an unknown product or export; BadRequestError for a malformed cursor.
   */
  async feed(
    productId: string,
    options: FeedOptions,
  ): Promise<RedisEventFeed> {
    return this.#guard(productId, async () => {
      const { logId } = await this.#products.require(productId);
      if (options.exportId !== undefined) await this.#record(productId, options.exportId);
      const after = options.after === undefined && options.from === 'now' ? await this.#log.lastCursor(productId) : checkCursor(options.after);
      const check = async (scanned: string): Promise<string | undefined> => {
        const meta = await this.#products.meta(productId);
        if (meta === undefined) {
          return `the product ${JSON.stringify(productId)} is no longer in Redis: Redis lost its data (restarted without persistence, or a failover to a replica without it)`;
        }
        if (meta.logId !== logId) return `the product ${JSON.stringify(productId)} was created again: its log is not the one this stream read`;
        if (compareEntryIds(await this.#log.lastCursor(productId), scanned) < 0) {
          return `the log of product ${JSON.stringify(productId)} now ends before this stream's cursor ${scanned}: it was replaced`;
        }
        return undefined;
      };
      const source = new RedisFeedSource({ log: this.#log, tails: this.#tails, productId, logId, check, open: this.#feeds });
      const feed = source.feed(after, options.exportId);
      try {
        await feed.open();
      } catch (error) {
        feed.close();
        throw error;
      }
      return feed;
    });
  }

  async openFile(key: string, options?: { readonly signal?: AbortSignal | undefined }): Promise<StoredFile> {
    this.#assertOpen();
    return this.#storage.open(key, options?.signal);
  }

  /** An API instance runs no job: the workers do. */
  async stopJobs(): Promise<void> {
    // Nothing to stop here.
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const feed of [...this.#feeds]) feed.close();
      this.#tails.close();
      this.#storage.close();
      await this.#queue.close();
      this.#availability.close();
      await this.#redis.quit().catch(() => undefined);
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw closedError();
  }

  /** Runs a request's Redis work on a product: at once a 503 while Redis is down, and a 503 when it (on a cluster: the product's master) does not answer in time. */
  #guard<T>(productId: string, task: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    return this.#availability.run(task, productId);
  }

  async #record(productId: string, exportId: unknown): Promise<ExportRecord> {
    await this.#products.require(productId);
    const record = typeof exportId === 'string' ? await this.#log.get(productId, exportId) : undefined;
    if (record === undefined) {
      throw new NotFoundError(`No export ${describeValue(exportId)} in product ${JSON.stringify(productId)}: check the export id`);
    }
    return record;
  }

}

/** A cursor as the events route got it, checked for its shape: where it stands in the log is the feed's to find. */
function checkCursor(after: unknown): string {
  if (after === undefined) return '0-0';
  if (typeof after !== 'string' || !/^[0-9]{1,20}-[0-9]{1,20}$/.test(after)) {
    throw new BadRequestError(
      `Expected \`after\` to be a cursor this service gave (a stream entry id such as "1700000000000-0"), got ${describeValue(after)}: ` +
        'resume from a cursor of a received event, or omit it to read the whole history',
    );
  }
  return after;
}
