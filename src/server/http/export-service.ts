import type { ExportRequest, ProductInfo } from '../../client/backend.js';
import type { Feature } from '../../client/geojson.js';
import type { SnapshotEvent } from '../../core/events.js';
import type { EventFeed, FeedOptions } from '../embedded/engine.js';
import type { ExportRecord } from '../embedded/export-record.js';
import type { StoredFile } from '../embedded/storage-area.js';

/** A value now, or once a store answers. @internal */
export type Answer<T> = T | Promise<T>;

/**
 * What the HTTP routes ask of the service behind them. The engine of one machine
 * (`EmbeddedEngine`, over SQLite) answers at once; the Redis one (`RedisEngine`) answers once
 * Redis has, so the routes await every answer. Errors are the client's HTTP errors
 * (`NotFoundError`, `BadRequestError`, ...), which the app maps to status codes.
 * @internal
 */
export interface ExportService {
  /** The absolute path of the data directory (features and exported files). */
  readonly dataDir: string;
  createProduct(productId: string, options: { readonly title?: string | undefined }): Answer<ProductInfo>;
  getProduct(productId: string): Answer<ProductInfo>;
  addFeatures(productId: string, features: readonly Feature[]): Answer<{ readonly added: number }>;
  startExport(
    productId: string,
    request: ExportRequest,
    options?: { readonly idempotencyKey?: string | undefined },
  ): Answer<{ readonly exportId: string }>;
  statusOf(productId: string, exportIds: readonly unknown[]): Answer<{ data: SnapshotEvent[]; missing: unknown[] }>;
  record(productId: string, exportId: string): Answer<ExportRecord>;
  listFinal(productId: string, continuationToken: string | null | undefined): Answer<{ records: ExportRecord[]; continuationToken: string | null }>;
  requestCancel(productId: string, exportId: string): Answer<ExportRecord>;
  /** The product's events after `after`, or (`from: 'now'`, without `after`) after the log's current end. */
  feed(productId: string, options: FeedOptions): Answer<EventFeed>;
  /**
   * The product's exports not final yet (queued or running), as snapshots, for clients that
   * follow every export in flight (`export-task watch PRODUCT`). Absent where the service
   * cannot list them cheaply: the route then answers 501.
   */
  inFlight?(productId: string): Answer<SnapshotEvent[]>;
  openFile(key: string, options?: { readonly signal?: AbortSignal | undefined }): Promise<StoredFile>;
  /** Stops the jobs this process runs (none for an API instance on Redis), recording how they ended. */
  stopJobs(): Promise<void>;
  close(): Promise<void>;
}
