import type { Observable } from 'rxjs';
import type { SnapshotEvent, TaskEvent } from '../core/events.js';
import type { ExportQuery, Feature } from './geojson.js';

/** Limits for one export's job. Missing fields take the backend's defaults. */
export interface ExportLimits {
  /** Wall-clock time the job may run before it fails with `failure_type: "timeout"`, ms. */
  readonly timeoutMs?: number | undefined;
  /** Heap the job may use before it fails with `failure_type: "oom"`, MiB. */
  readonly memoryMb?: number | undefined;
}

/** What {@link ExportBackend.startExport} is asked to do. */
export interface ExportRequest {
  readonly key: string;
  readonly query: ExportQuery;
  readonly limits?: ExportLimits | undefined;
}

/** A product (a feature collection) as the backend describes it. */
export interface ProductInfo {
  readonly id: string;
  readonly title: string;
  readonly featureCount: number;
}

/** One page of a product's completed exports. */
export interface ExportPage {
  /** One `snapshot` event per completed export, with its final attributes. */
  readonly data: readonly SnapshotEvent[];
  /** Pass it back to get the next page; `null` on the last page. */
  readonly continuationToken: string | null;
}

/**
 * Where tasks come from and where their requests go. The embedded service implements it
 * in-process; the HTTP client implements it over the network. Every method that takes a
 * product id rejects with `NotFoundError` when the product does not exist.
 */
export interface ExportBackend {
  /** Creates an empty product. Rejects with `ConflictError` when the id is taken. */
  createProduct(productId: string, options: { readonly title?: string | undefined }): Promise<ProductInfo>;
  /** Appends features to a product. Rejects with `BadRequestError` naming the first bad feature. */
  addFeatures(productId: string, features: readonly Feature[]): Promise<{ readonly added: number }>;
  /**
   * Starts an export and answers its id. The backend emits `queued` for it before it answers,
   * so a subscriber of {@link ExportBackend.events} sees the export's whole history.
   * The same `idempotencyKey` again answers the same export id without starting another.
   */
  startExport(
    productId: string,
    request: ExportRequest,
    options?: { readonly idempotencyKey?: string | undefined },
  ): Promise<{ readonly exportId: string }>;
  /** One `snapshot` event per export id, in the order asked. Rejects with `NotFoundError` for an unknown id. */
  status(productId: string, exportIds: readonly string[]): Promise<SnapshotEvent[]>;
  /** A page of the product's completed exports. */
  listExports(productId: string, continuationToken?: string | null): Promise<ExportPage>;
  /** Asks to cancel an export. Resolves once the request is recorded; a final export is left as it is. */
  cancel(productId: string, exportId: string): Promise<void>;
  /**
   * Every event of the product's exports, live: first those after `after` (a cursor from
   * {@link BackendEvent.cursor}; from the start when absent), then each new one. Never completes
   * on its own; unsubscribe to stop.
   */
  events(productId: string, options?: EventsOptions): Observable<BackendEvent>;
  /** The stored file at `key`. Rejects with `NotFoundError` when there is none, `BadRequestError` for an unsafe key. */
  readFile(key: string, options?: { readonly signal?: AbortSignal | undefined }): Promise<ReadableStream<Uint8Array>>;
  /** Stops everything the backend runs (jobs, timers, streams). */
  close(): Promise<void>;
}

/** Options of {@link ExportBackend.events}. */
export interface EventsOptions {
  /** Resume after this cursor (from {@link BackendEvent.cursor}); from the start when absent. */
  readonly after?: string | undefined;
  /**
   * Called each time a stream that was cut is connected again (it resumes by cursor), so
   * the caller can reconcile anything a cursor cannot vouch for with one status request.
   */
  readonly onReconnect?: (() => void) | undefined;
}

/** An event with the stream cursor that resumes right after it. */
export interface BackendEvent {
  readonly cursor: string;
  readonly event: TaskEvent;
}
