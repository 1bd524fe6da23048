/**
 * The Node implementation of the embedded export service. Loaded on first use by
 * `createEmbeddedBackend`, so that importing the package in a browser pulls in no Node module.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defer, throwError } from 'rxjs';
import type { Observable } from 'rxjs';
import type { BackendEvent, ExportBackend, ExportPage, ExportRequest, ProductInfo } from '../../client/backend.js';
import type { Feature } from '../../client/geojson.js';
import { BadRequestError, NotFoundError } from '../../client/http-errors.js';
import type { FailureType, SnapshotEvent } from '../../core/events.js';
import { describeValue } from '../../core/errors.js';
import { checkExportRequest } from './check-export-request.js';
import type { CheckedExportRequest } from './check-export-request.js';
import { decodeContinuationToken, encodeContinuationToken } from './continuation-token.js';
import { ExportJob } from './export-job.js';
import type { ExportJobOutcome } from './export-job.js';
import { ExportRecord } from './export-record.js';
import type { EventBody } from './export-record.js';
import { ProductEventLog } from './product-event-log.js';
import { ProductStore } from './product-store.js';
import { StorageArea } from './storage-area.js';

/** The factory's options, checked, with unlimited as `null`. @internal */
export interface EngineOptions {
  readonly dataDir: string | undefined;
  readonly jobTimeoutMs: number | null;
  readonly jobMemoryMb: number | null;
  readonly concurrency: number | undefined;
  readonly pageSize: number;
}

/**
 * Opens the service's data directory (a new temporary one when none is given) and starts it.
 * @internal
 */
export async function startEngine(options: EngineOptions): Promise<EmbeddedEngine> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'export-task-')) : resolve(options.dataDir);
  try {
    await mkdir(join(dataDir, 'storage'), { recursive: true });
    const products = await ProductStore.open(join(dataDir, 'products'));
    return new EmbeddedEngine(options, dataDir, ownsDataDir, products);
  } catch (error) {
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/** The error every method rejects with once the service is closed. @internal */
export function closedError(): Error {
  return new Error('This embedded export service is closed: create another one with createEmbeddedBackend()');
}

type ExportState = 'queued' | 'preparing' | 'running' | 'final';

/** One export and what runs it. */
interface ExportEntry {
  readonly record: ExportRecord;
  readonly request: CheckedExportRequest;
  state: ExportState;
  job: ExportJob | undefined;
  /** Resolves once the export is final (or the service closed). */
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

/** A product's exports and its event log. */
interface ProductExports {
  readonly log: ProductEventLog;
  readonly exports: Map<string, ExportEntry>;
  readonly byIdempotencyKey: Map<string, string>;
}

/**
 * The embedded export service: products and exported files on disk under `dataDir`, export
 * jobs in worker threads (one per job, at most `concurrency` at a time, the rest queued in
 * order), events and export states in memory.
 *
 * On `close()` running jobs are stopped, queued ones dropped, open event streams completed,
 * and no further event is emitted: exports that were not final stay so in the history.
 * @internal
 */
export class EmbeddedEngine implements ExportBackend {
  readonly #options: EngineOptions;
  readonly #dataDir: string;
  readonly #ownsDataDir: boolean;
  readonly #products: ProductStore;
  readonly #storage: StorageArea;
  readonly #concurrency: number;
  readonly #byProduct = new Map<string, ProductExports>();
  readonly #queue: ExportEntry[] = [];
  readonly #runs = new Set<Promise<void>>();
  #active = 0;
  #closing: Promise<void> | undefined;

  constructor(options: EngineOptions, dataDir: string, ownsDataDir: boolean, products: ProductStore) {
    this.#options = options;
    this.#dataDir = dataDir;
    this.#ownsDataDir = ownsDataDir;
    this.#products = products;
    this.#storage = new StorageArea(join(dataDir, 'storage'));
    this.#concurrency = options.concurrency ?? availableParallelism();
  }

  async createProduct(productId: string, options: { readonly title?: string | undefined }): Promise<ProductInfo> {
    this.#assertOpen();
    const title: unknown = (options as { title?: unknown } | undefined)?.title;
    return this.#products.create(productId, title);
  }

  async addFeatures(productId: string, features: readonly Feature[]): Promise<{ readonly added: number }> {
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
      this.#storage.resolve(checked.key);
      const idempotencyKey: unknown = options?.idempotencyKey;
      if (idempotencyKey !== undefined && (typeof idempotencyKey !== 'string' || idempotencyKey === '')) {
        throw new BadRequestError(`Expected \`idempotencyKey\` to be a non-empty string, got ${describeValue(idempotencyKey)}`);
      }
      const product = this.#product(productId);
      // Everything from the idempotency check to the `queued` event is synchronous, so two
      // calls with one key cannot both start an export.
      const known = idempotencyKey === undefined ? undefined : product.byIdempotencyKey.get(idempotencyKey);
      if (known !== undefined) return { exportId: known };
      const exportId = randomUUID();
      let markSettled!: () => void;
      const settled = new Promise<void>((resolve) => (markSettled = resolve));
      const entry: ExportEntry = {
        record: new ExportRecord(productId, exportId, checked.key, product.exports.size + 1),
        request: checked,
        state: 'queued',
        job: undefined,
        settled,
        settle: () => markSettled(),
      };
      product.exports.set(exportId, entry);
      if (idempotencyKey !== undefined) product.byIdempotencyKey.set(idempotencyKey, exportId);
      this.#emit(entry, { type: 'queued' });
      this.#queue.push(entry);
      this.#pump();
      return { exportId };
    });
  }

  status(productId: string, exportIds: readonly string[]): Promise<SnapshotEvent[]> {
    return settle(() => {
      this.#assertOpen();
      const ids: unknown = exportIds;
      if (!Array.isArray(ids)) {
        throw new BadRequestError(`Expected \`exportIds\` to be an array of export ids, got ${describeValue(ids)}`);
      }
      return ids.map((exportId: unknown) => this.#entry(productId, exportId).record.snapshot());
    });
  }

  listExports(productId: string, continuationToken?: string | null): Promise<ExportPage> {
    return settle(() => this.#listExports(productId, continuationToken));
  }

  #listExports(productId: string, continuationToken: string | null | undefined): ExportPage {
    this.#assertOpen();
    const { exports } = this.#product(productId);
    const after = decodeContinuationToken(continuationToken);
    const data: SnapshotEvent[] = [];
    let lastOrdinal = after;
    let more = false;
    // The map keeps insertion order, which is creation order.
    for (const { record } of exports.values()) {
      if (!record.final || record.ordinal <= after) continue;
      if (data.length === this.#options.pageSize) {
        more = true;
        break;
      }
      data.push(record.snapshot());
      lastOrdinal = record.ordinal;
    }
    return { data, continuationToken: more ? encodeContinuationToken(lastOrdinal) : null };
  }

  async cancel(productId: string, exportId: string): Promise<void> {
    this.#assertOpen();
    const entry = this.#entry(productId, exportId);
    const { record } = entry;
    if (record.final) return;
    if (!record.cancelRequested) {
      switch (entry.state) {
        case 'queued':
          this.#queue.splice(this.#queue.indexOf(entry), 1);
          this.#emit(entry, { type: 'cancel_requested' });
          this.#finish(entry, { ok: false, failureType: 'cancelled', exceptionName: null, stacktrace: null, runtime: null, peakMemory: null });
          return;
        case 'preparing':
          // #run sees the request once the target is ready and starts no worker.
          this.#emit(entry, { type: 'cancel_requested' });
          break;
        case 'running':
          // Too late once the job reported its end: the export ends as the job did.
          if (entry.job?.reported !== true) {
            this.#emit(entry, { type: 'cancel_requested' });
            entry.job?.stop('cancelled');
          }
          break;
        case 'final':
          return;
      }
    }
    await entry.settled;
  }

  events(productId: string, options?: { readonly after?: string | undefined }): Observable<BackendEvent> {
    return defer(() => {
      if (this.#closing !== undefined) return throwError(closedError);
      let product: ProductExports;
      try {
        product = this.#product(productId);
      } catch (error) {
        return throwError(() => error);
      }
      return product.log.events(options?.after);
    });
  }

  async readFile(key: string, options?: { readonly signal?: AbortSignal | undefined }): Promise<ReadableStream<Uint8Array>> {
    this.#assertOpen();
    return this.#storage.read(key, options?.signal);
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    const dropped = this.#queue.splice(0);
    for (const product of this.#byProduct.values()) {
      for (const entry of product.exports.values()) entry.job?.stop('internal');
    }
    // Wait for the workers to exit and their temporary files to go before removing anything.
    while (this.#runs.size > 0) await Promise.allSettled([...this.#runs]);
    await this.#products.idle();
    this.#storage.close();
    for (const product of this.#byProduct.values()) {
      product.log.close();
      for (const entry of product.exports.values()) entry.settle();
    }
    for (const entry of dropped) entry.settle();
    if (this.#ownsDataDir) await rm(this.#dataDir, { recursive: true, force: true });
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw closedError();
  }

  #product(productId: string): ProductExports {
    let product = this.#byProduct.get(productId);
    if (product === undefined) {
      if (typeof productId !== 'string' || this.#products.get(productId) === undefined) {
        throw new NotFoundError(`No product ${describeValue(productId)}: create it first with createProduct()`);
      }
      product = { log: new ProductEventLog(), exports: new Map(), byIdempotencyKey: new Map() };
      this.#byProduct.set(productId, product);
    }
    return product;
  }

  #entry(productId: string, exportId: unknown): ExportEntry {
    const entry = typeof exportId === 'string' ? this.#product(productId).exports.get(exportId) : undefined;
    if (entry === undefined) {
      throw new NotFoundError(`No export ${describeValue(exportId)} in product ${JSON.stringify(productId)}: check the export id`);
    }
    return entry;
  }

  #emit(entry: ExportEntry, body: EventBody): void {
    // After close nothing is emitted: the streams are complete and no one can ask anymore.
    if (this.#closing !== undefined) return;
    const event = entry.record.next(body);
    this.#byProduct.get(entry.record.productId)?.log.append(event);
  }

  #finish(entry: ExportEntry, outcome: ExportJobOutcome): void {
    if (entry.state === 'final') return;
    entry.state = 'final';
    const { record } = entry;
    if (outcome.ok) {
      this.#emit(entry, {
        type: 'succeeded',
        runtime: outcome.runtime,
        peak_memory_usage: outcome.peakMemory,
        key: record.key,
        labels: record.labels,
        size_bytes: outcome.sizeBytes,
        sha256: outcome.sha256,
      });
    } else {
      this.#emit(entry, {
        type: 'failed',
        failure_type: outcome.failureType,
        exception_name: outcome.exceptionName,
        stacktrace: outcome.stacktrace,
        runtime: outcome.runtime,
        peak_memory_usage: outcome.peakMemory,
        key: record.key,
        labels: record.labels,
      });
    }
    entry.settle();
  }

  /** Starts queued exports while there are free slots, first come first served. */
  #pump(): void {
    while (this.#closing === undefined && this.#active < this.#concurrency && this.#queue.length > 0) {
      const entry = this.#queue.shift()!;
      this.#active++;
      const run: Promise<void> = this.#run(entry).finally(() => {
        this.#active--;
        this.#runs.delete(run);
        this.#pump();
      });
      this.#runs.add(run);
    }
  }

  async #run(entry: ExportEntry): Promise<void> {
    try {
      await this.#runJob(entry);
    } catch (error) {
      // The service itself failed (a worker that could not be spawned, a file system error
      // while cleaning up): the export must still end, and exactly once.
      this.#finish(entry, failureOf(error, 'internal'));
    }
  }

  async #runJob(entry: ExportEntry): Promise<void> {
    const { record, request } = entry;
    entry.state = 'preparing';
    let target;
    try {
      target = await this.#storage.prepare(record.key);
    } catch (error) {
      this.#finish(entry, failureOf(error, 'exception'));
      return;
    }
    if (record.cancelRequested || this.#closing !== undefined) {
      this.#finish(entry, failureOf(null, 'cancelled'));
      return;
    }
    const features = this.#products.features(record.productId);
    entry.state = 'running';
    const job = new ExportJob(
      { featuresPath: features.path, featuresBytes: features.bytes, tempPath: target.temp, key: record.key, query: request.query },
      { timeoutMs: request.timeoutMs ?? this.#options.jobTimeoutMs, memoryMb: request.memoryMb ?? this.#options.jobMemoryMb },
      {
        onStarted: () => this.#emit(entry, { type: 'started' }),
        onProgress: (fraction, message) => this.#emit(entry, { type: 'progress', fraction, message }),
        onLog: (line) => this.#emit(entry, { type: 'log', line }),
      },
    );
    entry.job = job;
    const outcome = await job.outcome;
    if (!outcome.ok || this.#closing !== undefined) {
      await rm(target.temp, { force: true });
      this.#finish(entry, outcome);
      return;
    }
    try {
      await rename(target.temp, target.target);
    } catch (error) {
      await rm(target.temp, { force: true });
      this.#finish(entry, failureOf(error, 'exception'));
      return;
    }
    this.#emit(entry, { type: 'log', line: `wrote ${record.key} (${outcome.sizeBytes} bytes)` });
    this.#finish(entry, outcome);
  }
}

/** Runs `fn` now; its result or error as a promise, so a bad call rejects rather than throws. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

function failureOf(error: unknown, failureType: FailureType): ExportJobOutcome {
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
