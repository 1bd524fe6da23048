/**
 * The Node implementation of the export service, shared by the embedded service (loaded on
 * first use by `createEmbeddedBackend`, so that importing the package in a browser pulls in no
 * Node module) and the HTTP server (which gives it a durable log).
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Observable } from 'rxjs';
import type { BackendEvent, ExportBackend, ExportPage, ExportRequest, ProductInfo } from '../../client/backend.js';
import type { Feature } from '../../client/geojson.js';
import { BadRequestError, NotFoundError } from '../../client/http-errors.js';
import type { FailureType, SnapshotEvent } from '../../core/events.js';
import { describeValue } from '../../core/errors.js';
import { checkExportRequest, checkIdempotencyKey } from './check-export-request.js';
import type { CheckedExportRequest } from './check-export-request.js';
import { decodeContinuationToken, encodeContinuationToken } from './continuation-token.js';
import { ExportJob } from './export-job.js';
import type { ExportJobOutcome } from './export-job.js';
import type { ExportLog } from './export-log.js';
import type { EventBody, ExportRecord } from './export-record.js';
import { JsonProductCatalog } from './json-product-catalog.js';
import { MemoryExportLog } from './memory-export-log.js';
import { ProductStore } from './product-store.js';
import type { ProductCatalog } from './product-store.js';
import { cleanStacktrace } from './clean-stacktrace.js';
import type { StacktraceOptions } from './clean-stacktrace.js';
import { StorageArea } from './storage-area.js';
import type { StoredFile } from './storage-area.js';

/** Where an engine keeps its exports and its products' meta. @internal */
export interface EngineStore {
  readonly log: ExportLog;
  readonly catalog: ProductCatalog;
  /** Releases the store, after the log was closed. */
  readonly close: () => void;
}

/** The factory's options, checked, with unlimited as `null`. @internal */
export interface EngineOptions {
  readonly dataDir: string | undefined;
  readonly jobTimeoutMs: number | null;
  readonly jobMemoryMb: number | null;
  /** The most an export may ask for as its own time limit; `null` for no maximum. @defaultValue null */
  readonly maxJobTimeoutMs?: number | null | undefined;
  /** The most an export may ask for as its own memory limit; `null` for no maximum. @defaultValue null */
  readonly maxJobMemoryMb?: number | null | undefined;
  /** Keep the service's absolute paths in failed exports' stack traces. @defaultValue false */
  readonly fullStacktraces?: boolean | undefined;
  /**
   * Told when the log or the disk fails (an append refused: disk full, database read-only) and
   * once it works again.
   * @defaultValue a line on stderr for each change
   */
  readonly onStorageHealth?: ((healthy: boolean, error: unknown) => void) | undefined;
  /** How often the final events that could not be appended are tried again, ms. @defaultValue 1000 */
  readonly storageRetryMs?: number | undefined;
  readonly concurrency: number | undefined;
  readonly pageSize: number;
  /**
   * Opens the store in the data directory.
   * @defaultValue exports in memory ({@link MemoryExportLog}), products' meta in `product.json` files
   */
  readonly openStore?: ((dataDir: string) => EngineStore | Promise<EngineStore>) | undefined;
}

/**
 * Opens the service's data directory (a new temporary one when none is given) and starts it.
 * With a durable store, the exports an earlier run left unfinished are settled first (see
 * {@link EmbeddedEngine}).
 * @internal
 */
export async function startEngine(options: EngineOptions): Promise<EmbeddedEngine> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'export-task-')) : resolve(options.dataDir);
  let store: EngineStore | undefined;
  try {
    await mkdir(join(dataDir, 'storage'), { recursive: true });
    await mkdir(join(dataDir, 'products'), { recursive: true });
    store = options.openStore === undefined ? memoryStore(dataDir) : await options.openStore(dataDir);
    const products = await ProductStore.open(join(dataDir, 'products'), store.catalog);
    const engine = new EmbeddedEngine(options, dataDir, ownsDataDir, products, store);
    await engine.recover();
    return engine;
  } catch (error) {
    if (store !== undefined) {
      store.log.close();
      store.close();
    }
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

function memoryStore(dataDir: string): EngineStore {
  return { log: new MemoryExportLog(), catalog: new JsonProductCatalog(join(dataDir, 'products')), close: () => undefined };
}

/** The error every method rejects with once the service is closed. @internal */
export function closedError(): Error {
  return new Error('This embedded export service is closed: create another one with createEmbeddedBackend()');
}

/** What the stacktrace of an export cut short by a restart or a shutdown says. @internal */
export const RESTART_STACKTRACE = 'The export service restarted while this export ran, so its job was lost: start the export again.';
/** @internal */
export const SHUTDOWN_STACKTRACE = 'The export service shut down while this export ran, so its job was stopped: start the export again.';

/**
 * What the event streams of one product share: feeds of the whole product's events, from any
 * cursor, so that the streams that are caught up can read each new event once between them.
 * Given by feeds of a whole product (not of one export). @internal
 */
export interface SharedFeedSource {
  /** Names the product: every feed with the same key reads the same events. */
  readonly key: string;
  /** A feed of the product's events after the cursor `after` (one this source's feeds gave). */
  from(after: number | string): EventFeed;
  /** Orders two cursors of these feeds: negative when `a` comes before `b`, 0 when they are the same place. */
  compare(a: number | string, b: number | string): number;
}

/** The product's events after a cursor, read a batch at a time: what an event stream pulls from. @internal */
export interface EventFeed {
  /**
   * How far the feed has read the product's log: every event of the feed at or below this
   * cursor was returned by {@link EventFeed.take}. A client given it as its last cursor misses nothing.
   * A number for the SQLite and in-memory logs, a stream entry id (`"1700000000000-0"`) for Redis.
   */
  readonly cursor: number | string;
  /** Up to `limit` events after {@link EventFeed.cursor}, moving it on. */
  take(limit: number): BackendEvent[];
  /** Calls `listener` after each event appended to the product's log. @returns The function that stops it. */
  onAppend(listener: () => void): () => void;
  /**
   * Set once the feed cannot go on, with why in words: its product's log vanished or was
   * replaced (Redis lost its data), or its cursor is not of this log. The listener is told;
   * the stream then sends `event: reset` and ends. Only the Redis feed sets it.
   */
  readonly lost?: string | undefined;
  /** For a feed of a whole product: how its streams can share reads; absent when each stream must read on its own. */
  readonly shared?: SharedFeedSource | undefined;
}

/**
 * Where a feed starts: after the cursor `after`; else, with `from: 'now'`, after the log's
 * current end (live only); else at the start. Only `exportId`'s events when given.
 * @internal
 */
export interface FeedOptions {
  readonly after?: string | undefined;
  readonly from?: 'now' | undefined;
  readonly exportId?: string | undefined;
}

/** Events read from the log per step while catching up. */
const READ_BATCH = 256;

type ExportState = 'queued' | 'preparing' | 'running';

/** An export that is not final yet, and what runs it. */
interface ActiveExport {
  readonly productId: string;
  readonly exportId: string;
  readonly request: CheckedExportRequest;
  state: ExportState;
  job: ExportJob | undefined;
  /** Whether its `started` event was appended. */
  started: boolean;
  /** Whether the service stopped its job (shutting down): the job's outcome is not the export's. */
  stoppedByService: boolean;
  /** Why the log refused one of its events, if it did: the job was stopped for it. */
  storageError: unknown;
  /** Resolves once the export is final (or the service closed). */
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

/**
 * The export service: products and exported files on disk under `dataDir`, export jobs in
 * worker threads (one per job, at most `concurrency` at a time, the rest queued in order),
 * events and export states in an {@link ExportLog}.
 *
 * With the in-memory log (the embedded service), `close()` stops running jobs, drops queued
 * ones, completes open event streams, and emits no further event: exports that were not final
 * stay so in the history.
 *
 * With a durable log (the HTTP server), `stopJobs()` (and `close()`, which calls it) stops
 * running jobs and ends their exports `failed` with `failure_type: "internal"`, as events
 * clients can still read; exports that never started stay queued in the log. The next start
 * on the same data directory re-queues those, ends any export still marked running (the
 * process died) the same way, and removes the temporary files of interrupted jobs.
 * @internal
 */
export class EmbeddedEngine implements ExportBackend {
  readonly #options: EngineOptions;
  readonly #dataDir: string;
  readonly #ownsDataDir: boolean;
  readonly #products: ProductStore;
  readonly #store: EngineStore;
  readonly #log: ExportLog;
  readonly #storage: StorageArea;
  readonly #concurrency: number;
  readonly #active = new Map<string, ActiveExport>();
  readonly #queue: ActiveExport[] = [];
  readonly #runs = new Set<Promise<void>>();
  /** Completes each open `events()` stream. */
  readonly #streams = new Set<() => void>();
  #running = 0;
  /** Final events the log refused (disk full), tried again every `storageRetryMs` until it takes them. */
  readonly #unrecorded: { readonly entry: ActiveExport; readonly body: EventBody }[] = [];
  #retryTimer: NodeJS.Timeout | undefined;
  /** Whether the last append failed: its failure was reported, its recovery will be. */
  #storageFailing = false;
  /** No job starts anymore; running ones were told to stop. */
  #stopping: Promise<void> | undefined;
  /** Events may still be appended (until close, or at once on close for the in-memory log). */
  #emitting = true;
  #closing: Promise<void> | undefined;

  constructor(options: EngineOptions, dataDir: string, ownsDataDir: boolean, products: ProductStore, store: EngineStore) {
    this.#options = options;
    this.#dataDir = dataDir;
    this.#ownsDataDir = ownsDataDir;
    this.#products = products;
    this.#store = store;
    this.#log = store.log;
    this.#storage = new StorageArea(join(dataDir, 'storage'));
    this.#concurrency = options.concurrency ?? availableParallelism();
  }

  /** How many final events the log refused and are waiting for it to take them. @internal */
  get unrecordedFinals(): number {
    return this.#unrecorded.length;
  }

  /** The absolute path of the data directory. */
  get dataDir(): string {
    return this.#dataDir;
  }

  /**
   * Settles what an earlier run on this data directory left unfinished (durable logs only):
   * exports that never started are queued again (in creation order), a cancelled one that never
   * started ends `cancelled`, one that was running ends `failed` with `failure_type:
   * "internal"`; temporary files of interrupted jobs are removed. Called once, by {@link startEngine}.
   */
  async recover(): Promise<void> {
    if (!this.#log.durable) return;
    await this.#storage.removeTemporaryFiles();
    for (const { record, request } of this.#log.unfinished()) {
      if (record.phase === 'pending' && !record.cancelRequested) {
        this.#queue.push(this.#activate(record.productId, record.exportId, request));
      } else {
        const outcome =
          record.phase === 'pending' ? failureOf(null, 'cancelled') : { ...failureOf(null, 'internal'), stacktrace: RESTART_STACKTRACE };
        this.#emit(record.productId, record.exportId, failedBody(record, outcome));
      }
    }
    this.#pump();
  }

  async createProduct(productId: string, options: { readonly title?: string | undefined }): Promise<ProductInfo> {
    this.#assertOpen();
    const title: unknown = (options as { title?: unknown } | undefined)?.title;
    return this.#products.create(productId, title);
  }

  /**
   * The product.
   * @throws NotFoundError when there is none.
   */
  getProduct(productId: string): ProductInfo {
    this.#assertOpen();
    const product = this.#products.get(productId);
    if (product === undefined) throw noProduct(productId);
    return product;
  }

  async addFeatures(productId: string, features: readonly Feature[] | Uint8Array): Promise<{ readonly added: number }> {
    this.#assertOpen();
    return { added: await this.#products.add(productId, features) };
  }

  startExport(
    productId: string,
    request: ExportRequest,
    options?: { readonly idempotencyKey?: string | undefined },
  ): Promise<{ readonly exportId: string }> {
    return settle(() => {
      this.#assertOpen();
      const checked = checkExportRequest(request);
      this.#checkMaxima(checked);
      this.#storage.resolve(checked.key);
      const idempotencyKey = checkIdempotencyKey(options?.idempotencyKey);
      this.#requireProduct(productId);
      // Everything from the idempotency check to the `queued` event is synchronous, so two
      // calls with one key cannot both start an export.
      const known = idempotencyKey === undefined ? undefined : this.#log.exportIdFor(productId, idempotencyKey);
      if (known !== undefined) return { exportId: known };
      const exportId = randomUUID();
      this.#recording(() => this.#log.create(productId, exportId, checked, idempotencyKey));
      this.#queue.push(this.#activate(productId, exportId, checked));
      this.#pump();
      return { exportId };
    });
  }

  status(productId: string, exportIds: readonly string[]): Promise<SnapshotEvent[]> {
    return settle(() => {
      const ids: unknown = exportIds;
      if (!Array.isArray(ids)) {
        throw new BadRequestError(`Expected \`exportIds\` to be an array of export ids, got ${describeValue(ids)}`);
      }
      const { data, missing } = this.statusOf(productId, ids);
      if (missing.length > 0) throw noExport(productId, missing[0]);
      return data;
    });
  }

  /**
   * One `snapshot` event per export id found, in the order asked, and the ids not found.
   * @throws NotFoundError for an unknown product.
   */
  statusOf(productId: string, exportIds: readonly unknown[]): { data: SnapshotEvent[]; missing: unknown[] } {
    this.#assertOpen();
    this.#requireProduct(productId);
    const data: SnapshotEvent[] = [];
    const missing: unknown[] = [];
    for (const exportId of exportIds) {
      const record = typeof exportId === 'string' ? this.#log.get(productId, exportId) : undefined;
      if (record === undefined) missing.push(exportId);
      else data.push(record.snapshot());
    }
    return { data, missing };
  }

  /**
   * The product's exports not final yet, as snapshots, in the order they were started: read
   * from the exports this engine runs or queues (it is their only runner), not from the log.
   * @throws NotFoundError for an unknown product.
   */
  inFlight(productId: string): SnapshotEvent[] {
    this.#assertOpen();
    this.#requireProduct(productId);
    const data: SnapshotEvent[] = [];
    for (const entry of this.#active.values()) {
      if (entry.productId !== productId) continue;
      const record = this.#log.get(productId, entry.exportId);
      if (record !== undefined && !record.final) data.push(record.snapshot());
    }
    return data;
  }

  /**
   * The export's record: its state as of its latest event.
   * @throws NotFoundError for an unknown product or export.
   */
  record(productId: string, exportId: string): ExportRecord {
    this.#assertOpen();
    return this.#record(productId, exportId);
  }

  listExports(productId: string, continuationToken?: string | null): Promise<ExportPage> {
    return settle(() => this.#listExports(productId, continuationToken));
  }

  /** A page of the product's completed exports, as records. */
  listFinal(productId: string, continuationToken: string | null | undefined): { records: ExportRecord[]; continuationToken: string | null } {
    this.#assertOpen();
    this.#requireProduct(productId);
    const after = decodeContinuationToken(continuationToken);
    const pageSize = this.#options.pageSize;
    const records = this.#log.listFinal(productId, after, pageSize + 1);
    const more = records.length > pageSize;
    if (more) records.length = pageSize;
    return { records, continuationToken: more ? encodeContinuationToken(records.at(-1)!.ordinal) : null };
  }

  #listExports(productId: string, continuationToken: string | null | undefined): ExportPage {
    const { records, continuationToken: next } = this.listFinal(productId, continuationToken);
    return { data: records.map((record) => record.snapshot()), continuationToken: next };
  }

  async cancel(productId: string, exportId: string): Promise<void> {
    this.requestCancel(productId, exportId);
    await this.#active.get(exportId)?.settled;
  }

  /**
   * Records a request to cancel the export and acts on it, without waiting for the export to
   * end: a queued export ends `cancelled` at once, a running one once its job has stopped.
   * A final export is left as it is.
   * @returns The export's record after the request.
   * @throws NotFoundError for an unknown product or export.
   */
  requestCancel(productId: string, exportId: string): ExportRecord {
    this.#assertOpen();
    const record = this.#record(productId, exportId);
    const entry = this.#active.get(exportId);
    if (record.final || record.cancelRequested || entry === undefined) return record;
    switch (entry.state) {
      case 'queued':
        this.#recording(() => this.#emit(productId, exportId, { type: 'cancel_requested' }));
        this.#queue.splice(this.#queue.indexOf(entry), 1);
        this.#finish(entry, failureOf(null, 'cancelled'));
        break;
      case 'preparing':
        // #runJob sees the request once the target is ready and starts no worker.
        this.#recording(() => this.#emit(productId, exportId, { type: 'cancel_requested' }));
        break;
      case 'running':
        // Too late once the job reported its end: the export ends as the job did.
        if (entry.job?.reported !== true) {
          this.#recording(() => this.#emit(productId, exportId, { type: 'cancel_requested' }));
          entry.job?.stop('cancelled');
        }
        break;
    }
    return this.#record(productId, exportId);
  }

  events(productId: string, options?: { readonly after?: string | undefined }): Observable<BackendEvent> {
    return new Observable<BackendEvent>((subscriber) => {
      if (this.#closing !== undefined) {
        subscriber.error(closedError());
        return undefined;
      }
      let feed: EventFeed;
      try {
        feed = this.feed(productId, { after: options?.after });
      } catch (error) {
        subscriber.error(error);
        return undefined;
      }
      // Deliver by cursor, not by pushing what was appended: an event appended while a
      // subscriber's handler runs (reentrantly) is delivered once, after the ones before it.
      let draining = false;
      const drain = (): void => {
        if (draining) return;
        draining = true;
        try {
          for (let batch = feed.take(READ_BATCH); batch.length > 0 && !subscriber.closed; batch = feed.take(READ_BATCH)) {
            for (const event of batch) {
              if (subscriber.closed) return;
              subscriber.next(event);
            }
          }
        } finally {
          draining = false;
        }
      };
      const complete = (): void => subscriber.complete();
      const stop = feed.onAppend(drain);
      this.#streams.add(complete);
      drain();
      return () => {
        stop();
        this.#streams.delete(complete);
      };
    });
  }

  /**
   * A feed of the product's events after `after` (all of them when absent), only those of
   * `exportId` when given.
   * @throws NotFoundError for an unknown product or export; BadRequestError for a cursor
   * this service never gave.
   */
  feed(productId: string, options: FeedOptions): EventFeed {
    this.#assertOpen();
    this.#requireProduct(productId);
    const { exportId } = options;
    if (exportId !== undefined) this.#record(productId, exportId);
    const log = this.#log;
    let cursor = options.after === undefined && options.from === 'now' ? log.lastCursor(productId) : this.#cursor(productId, options.after);
    return {
      get cursor() {
        return cursor;
      },
      take(limit: number): BackendEvent[] {
        const events = log.read(productId, cursor, limit, exportId);
        // A short read saw the whole log as it is now: nothing of the feed lies below its end.
        cursor = events.length < limit ? Math.max(cursor, log.lastCursor(productId)) : Number(events.at(-1)!.cursor);
        return events;
      },
      onAppend: (listener) => log.subscribe(productId, listener),
      ...(exportId === undefined ? { shared: productSource(log, productId) } : {}),
    };
  }

  async readFile(key: string, options?: { readonly signal?: AbortSignal | undefined }): Promise<ReadableStream<Uint8Array>> {
    return (await this.openFile(key, options)).stream;
  }

  /**
   * The stored file at `key`: its size and a stream of it.
   * @throws BadRequestError for an unsafe key, NotFoundError when there is no file.
   */
  async openFile(key: string, options?: { readonly signal?: AbortSignal | undefined }): Promise<StoredFile> {
    this.#assertOpen();
    return this.#storage.open(key, options?.signal);
  }

  /**
   * Starts no job anymore and stops the running ones, resolving once their workers have
   * exited. Requests are still answered; new exports stay queued (in a durable log, for the
   * next start). With a durable log, the stopped exports end `failed` with
   * `failure_type: "internal"`; those that had not reported `started` stay queued.
   */
  stopJobs(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const entry of this.#active.values()) {
        if (entry.job !== undefined) entry.stoppedByService = entry.job.stop('internal');
      }
      // Wait for the workers to exit and their temporary files to go.
      while (this.#runs.size > 0) await Promise.allSettled([...this.#runs]);
    })();
    return this.#stopping;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    // The in-memory log's history ends here; a durable one records how running exports ended.
    if (!this.#log.durable) this.#emitting = false;
    await this.stopJobs();
    // A last try for the final events the log refused; those it still refuses are settled by
    // the next start (as exports cut short by a restart).
    this.#retryUnrecorded();
    clearInterval(this.#retryTimer);
    for (const { entry } of this.#unrecorded.splice(0)) entry.settle();
    this.#emitting = false;
    await this.#products.idle();
    this.#storage.close();
    for (const complete of [...this.#streams]) complete();
    this.#streams.clear();
    for (const entry of this.#active.values()) entry.settle();
    this.#active.clear();
    this.#queue.length = 0;
    this.#log.close();
    this.#store.close();
    if (this.#ownsDataDir) await rm(this.#dataDir, { recursive: true, force: true });
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw closedError();
  }

  #requireProduct(productId: unknown): void {
    if (typeof productId !== 'string' || this.#products.get(productId) === undefined) throw noProduct(productId);
  }

  #record(productId: string, exportId: unknown): ExportRecord {
    this.#requireProduct(productId);
    const record = typeof exportId === 'string' ? this.#log.get(productId, exportId) : undefined;
    if (record === undefined) throw noExport(productId, exportId);
    return record;
  }

  #cursor(productId: string, after: unknown): number {
    if (after === undefined) return 0;
    const last = this.#log.lastCursor(productId);
    const n = typeof after === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(after) ? Number(after) : NaN;
    if (!Number.isSafeInteger(n) || n > last) {
      throw new BadRequestError(
        `Expected \`after\` to be a cursor this service gave (a decimal number from 0 to ${last}), got ${describeValue(after)}: ` +
          'resume from a cursor of a received event, or omit it to read the whole history',
      );
    }
    return n;
  }

  #activate(productId: string, exportId: string, request: CheckedExportRequest): ActiveExport {
    let markSettled!: () => void;
    const settled = new Promise<void>((resolve) => (markSettled = resolve));
    const entry: ActiveExport = {
      productId,
      exportId,
      request,
      state: 'queued',
      job: undefined,
      started: false,
      stoppedByService: false,
      storageError: undefined,
      settled,
      settle: () => markSettled(),
    };
    this.#active.set(exportId, entry);
    return entry;
  }

  #emit(productId: string, exportId: string, body: EventBody): void {
    if (this.#emitting) this.#log.append(productId, exportId, body);
  }

  /** Refuses an export's own limits above the service's maxima. @throws BadRequestError */
  #checkMaxima(request: CheckedExportRequest): void {
    const { maxJobTimeoutMs, maxJobMemoryMb } = this.#options;
    if (request.timeoutMs !== null && maxJobTimeoutMs != null && request.timeoutMs > maxJobTimeoutMs) {
      throw new BadRequestError(
        `Expected the export's time limit (\`limits.timeout_ms\`) to be at most this service's maximum of ${maxJobTimeoutMs} ms, got ${request.timeoutMs}: ask for less, or leave it out for the service's default`,
      );
    }
    if (request.memoryMb !== null && maxJobMemoryMb != null && request.memoryMb > maxJobMemoryMb) {
      throw new BadRequestError(
        `Expected the export's memory limit (\`limits.memory_mb\`) to be at most this service's maximum of ${maxJobMemoryMb} MiB, got ${request.memoryMb}: ask for less, or leave it out for the service's default`,
      );
    }
  }

  /** Runs a write to the log for a request: its failure is reported (and thrown to the request). */
  #recording<T>(write: () => T): T {
    try {
      const result = write();
      this.#storageWorks();
      return result;
    } catch (error) {
      this.#storageFails(error);
      throw error;
    }
  }

  /** Appends an event of a running job: a refused one stops the job, which then fails `internal`. */
  #emitForJob(entry: ActiveExport, body: EventBody): void {
    if (entry.storageError !== undefined) return;
    try {
      this.#emit(entry.productId, entry.exportId, body);
      this.#storageWorks();
    } catch (error) {
      this.#storageFails(error);
      entry.storageError = error;
      entry.job?.stop('internal');
    }
  }

  #storageFails(error: unknown): void {
    if (this.#storageFailing) return;
    this.#storageFailing = true;
    (this.#options.onStorageHealth ?? reportStorageHealth)(false, error);
  }

  #storageWorks(): void {
    // Not while final events wait for the log: one write that fit does not make it whole again.
    if (!this.#storageFailing || this.#unrecorded.length > 0) return;
    this.#storageFailing = false;
    (this.#options.onStorageHealth ?? reportStorageHealth)(true, undefined);
  }

  #stacktraceOptions(): StacktraceOptions {
    return { dataDir: this.#dataDir, fullPaths: this.#options.fullStacktraces };
  }

  #finish(entry: ActiveExport, outcome: ExportJobOutcome): void {
    if (this.#active.get(entry.exportId) !== entry) return;
    this.#active.delete(entry.exportId);
    let record: ExportRecord | undefined;
    try {
      record = this.#log.get(entry.productId, entry.exportId);
    } catch (error) {
      this.#storageFails(error);
    }
    if (record !== undefined && !record.final) {
      const body: EventBody = outcome.ok
        ? {
            type: 'succeeded',
            runtime: outcome.runtime,
            peak_memory_usage: outcome.peakMemory,
            key: record.key,
            labels: record.labels,
            size_bytes: outcome.sizeBytes,
            sha256: outcome.sha256,
          }
        : failedBody(record, outcome, this.#stacktraceOptions());
      try {
        this.#emit(entry.productId, entry.exportId, body);
        this.#storageWorks();
      } catch (error) {
        // The export stays running in the log until the log takes its end: it must not crash
        // the service, nor be forgotten.
        this.#storageFails(error);
        this.#unrecorded.push({ entry, body });
        this.#retryTimer ??= setInterval(() => this.#retryUnrecorded(), this.#options.storageRetryMs ?? 1000);
        return;
      }
    }
    entry.settle();
  }

  /** Appends the final events the log refused, in order, while it takes them. */
  #retryUnrecorded(): void {
    while (this.#unrecorded.length > 0) {
      const { entry, body } = this.#unrecorded[0]!;
      try {
        this.#emit(entry.productId, entry.exportId, body);
      } catch (error) {
        this.#storageFails(error);
        return;
      }
      this.#unrecorded.shift();
      this.#storageWorks();
      entry.settle();
    }
    clearInterval(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** Leaves an export that never started queued in the durable log, for the next start. */
  #leaveQueued(entry: ActiveExport): void {
    this.#active.delete(entry.exportId);
    entry.settle();
  }

  /** Starts queued exports while there are free slots, first come first served. */
  #pump(): void {
    while (this.#stopping === undefined && this.#running < this.#concurrency && this.#queue.length > 0) {
      const entry = this.#queue.shift()!;
      this.#running++;
      const run: Promise<void> = this.#run(entry).finally(() => {
        this.#running--;
        this.#runs.delete(run);
        this.#pump();
      });
      this.#runs.add(run);
    }
  }

  async #run(entry: ActiveExport): Promise<void> {
    try {
      await this.#runJob(entry);
    } catch (error) {
      // The service itself failed (a worker that could not be spawned, a file system error
      // while cleaning up): the export must still end, and exactly once.
      this.#finish(entry, failureOf(error, 'internal'));
    }
  }

  async #runJob(entry: ActiveExport): Promise<void> {
    const { productId, exportId, request } = entry;
    const durable = this.#log.durable;
    entry.state = 'preparing';
    let target;
    try {
      target = await this.#storage.prepare(request.key);
    } catch (error) {
      // A disk that refuses the directories is the service's fault; a key whose directory is a file, the export's.
      this.#finish(entry, failureOf(error, isSystemError(error) ? 'internal' : 'exception'));
      return;
    }
    if (this.#stopping !== undefined && durable && this.#log.get(productId, exportId)?.cancelRequested !== true) {
      this.#leaveQueued(entry);
      return;
    }
    if (this.#log.get(productId, exportId)?.cancelRequested === true || this.#stopping !== undefined) {
      this.#finish(entry, failureOf(null, 'cancelled'));
      return;
    }
    let features;
    try {
      features = this.#products.features(productId);
    } catch (error) {
      this.#finish(entry, failureOf(error, 'internal'));
      return;
    }
    entry.state = 'running';
    const job = new ExportJob(
      { featuresPath: features.path, featuresBytes: features.bytes, tempPath: target.temp, key: request.key, query: request.query },
      { timeoutMs: request.timeoutMs ?? this.#options.jobTimeoutMs, memoryMb: request.memoryMb ?? this.#options.jobMemoryMb },
      {
        onStarted: () => {
          entry.started = true;
          this.#emitForJob(entry, { type: 'started' });
        },
        onProgress: (fraction, message) => this.#emitForJob(entry, { type: 'progress', fraction, message }),
        onLog: (line) => this.#emitForJob(entry, { type: 'log', line }),
      },
    );
    entry.job = job;
    const jobOutcome = await job.outcome;
    // A job whose events the log refused ends `internal`, whatever it did: its history is incomplete.
    const outcome: ExportJobOutcome =
      entry.storageError === undefined
        ? jobOutcome
        : { ...failureOf(entry.storageError, 'internal'), runtime: jobOutcome.runtime, peakMemory: jobOutcome.peakMemory };
    const stopping = this.#stopping !== undefined;
    if (!outcome.ok || (stopping && !durable)) {
      await rm(target.temp, { force: true });
      if (stopping && durable && entry.stoppedByService) {
        // A job stopped before it said `started` never ran, as far as clients know: run it next time.
        if (!entry.started) this.#leaveQueued(entry);
        else this.#finish(entry, { ...failureOf(null, 'internal'), stacktrace: SHUTDOWN_STACKTRACE });
        return;
      }
      this.#finish(entry, outcome);
      return;
    }
    try {
      await rename(target.temp, target.target);
    } catch (error) {
      await rm(target.temp, { force: true });
      this.#finish(entry, failureOf(error, isSystemError(error) ? 'internal' : 'exception'));
      return;
    }
    this.#emitForJob(entry, { type: 'log', line: `wrote ${request.key} (${outcome.sizeBytes} bytes)` });
    this.#finish(entry, entry.storageError === undefined ? outcome : failureOf(entry.storageError, 'internal'));
  }
}

/** Whether `error` is a system call's (a file system's) rather than the export's own. @internal */
export function isSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** What the service says on stderr when its storage fails or recovers, once for each change. */
function reportStorageHealth(healthy: boolean, error: unknown): void {
  const code = (error as { code?: unknown } | undefined)?.code;
  const why = error instanceof Error ? `${typeof code === 'string' ? code : error.name}: ${error.message}` : String(error);
  process.stderr.write(
    healthy
      ? 'export-task: the storage takes writes again; exports go on\n'
      : `export-task: the storage refused a write (${why}): exports that need it fail "internal", reads go on; free space or fix the data directory\n`,
  );
}

/** Runs `fn` now; its result or error as a promise, so a bad call rejects rather than throws. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

function noProduct(productId: unknown): NotFoundError {
  return new NotFoundError(`No product ${describeValue(productId)}: create it first (client.createFeatureCollection() in code, "export-task add --create" on the command line)`);
}

function noExport(productId: string, exportId: unknown): NotFoundError {
  return new NotFoundError(`No export ${describeValue(exportId)} in product ${JSON.stringify(productId)}: check the export id`);
}

/** The longest stacktrace an event carries, in characters: a job's error can say anything (a feature's whole id). */
const MAX_STACKTRACE = 65_536;
/** The longest exception name, as clients accept it (`EVENT_LIMITS.id`). */
const MAX_EXCEPTION_NAME = 256;

function clip(text: string | null, max: number): string | null {
  return text === null || text.length <= max ? text : `${text.slice(0, max - 40)}\n... (${text.length - max + 40} characters cut)`;
}

/**
 * The `failed` event of an export whose job ended as `outcome` (what any engine appends), its
 * stack trace without the service's absolute paths unless `stacktrace.fullPaths` asks for them.
 * @internal
 */
export function failedBody(record: ExportRecord, outcome: Extract<ExportJobOutcome, { ok: false }>, stacktrace: StacktraceOptions = {}): EventBody {
  return {
    type: 'failed',
    failure_type: outcome.failureType,
    exception_name: clip(outcome.exceptionName, MAX_EXCEPTION_NAME),
    stacktrace: clip(cleanStacktrace(outcome.stacktrace, stacktrace), MAX_STACKTRACE),
    runtime: outcome.runtime,
    peak_memory_usage: outcome.peakMemory,
    key: record.key,
    labels: record.labels,
  };
}

/** A failed outcome for `failureType`, naming `error` when there is one. @internal */
export function failureOf(error: unknown, failureType: FailureType): Extract<ExportJobOutcome, { ok: false }> {
  const e = error instanceof Error ? error : null;
  return {
    ok: false,
    failureType,
    exceptionName: e?.name ?? null,
    stacktrace: e === null ? null : (e.stack ?? e.message),
    runtime: null,
    peakMemory: null,
  };
}

/** The {@link SharedFeedSource} of a product of `log`: cursors are numbers, increasing in append order. @internal */
export function productSource(log: ExportLog, productId: string): SharedFeedSource {
  const from = (after: number | string): EventFeed => {
    let cursor = Number(after);
    return {
      get cursor() {
        return cursor;
      },
      take(limit: number): BackendEvent[] {
        const events = log.read(productId, cursor, limit);
        // As the feeds of EmbeddedEngine.feed: a short read saw the whole log as it is now.
        cursor = events.length < limit ? Math.max(cursor, log.lastCursor(productId)) : Number(events.at(-1)!.cursor);
        return events;
      },
      onAppend: (listener) => log.subscribe(productId, listener),
      shared: source,
    };
  };
  const source: SharedFeedSource = { key: productId, from, compare: (a, b) => Number(a) - Number(b) };
  return source;
}
