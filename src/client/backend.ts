import type { Observable } from 'rxjs';
import type { SnapshotEvent, TaskEvent } from '../core/events.js';
import type { ExportQuery, Feature } from './geojson.js';

/**
 * Limits for one export's job. Missing fields take the backend's defaults.
 *
 * @example
 * ```ts
 * const limits: ExportLimits = { timeoutMs: 10 * 60_000, memoryMb: 512 };
 * await roads.export('exports/everything.ndjson', { limits });
 * ```
 */
export interface ExportLimits {
  /** Wall-clock time the job may run before it fails with `failure_type: "timeout"`, ms. */
  readonly timeoutMs?: number | undefined;
  /** Heap the job may use before it fails with `failure_type: "oom"`, MiB. */
  readonly memoryMb?: number | undefined;
}

/**
 * What {@link ExportBackend.startExport} is asked to do.
 *
 * @example
 * ```ts
 * const request: ExportRequest = { key: 'exports/roads.ndjson', query: { query_limit: 10 } };
 * const { exportId } = await backend.startExport('roads', request, { idempotencyKey: 'nightly-2026-01-01' });
 * ```
 */
export interface ExportRequest {
  /** Storage key to write the file to. */
  readonly key: string;
  /** What to export. */
  readonly query: ExportQuery;
  /** Limits of the job (the backend's defaults otherwise). */
  readonly limits?: ExportLimits | undefined;
}

/**
 * A product (a feature collection) as the backend describes it.
 *
 * @example
 * ```ts
 * const info: ProductInfo = await client.backend.createProduct('roads', { title: 'Roads' });
 * console.log(info.featureCount); // 0
 * ```
 */
export interface ProductInfo {
  /** The product id. */
  readonly id: string;
  /** Its title, for people. */
  readonly title: string;
  /** How many features it holds. */
  readonly featureCount: number;
}

/**
 * One page of a product's completed exports.
 *
 * @example
 * ```ts
 * let token: string | null = null;
 * do {
 *   const page: ExportPage = await backend.listExports('roads', token);
 *   for (const snapshot of page.data) console.log(snapshot.export_id, snapshot.attributes?.status);
 *   token = page.continuationToken;
 * } while (token !== null);
 * ```
 */
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
 *
 * @example
 * ```ts
 * const backend: ExportBackend = createEmbeddedBackend();
 * const a = createClient({ backend });
 * const b = createClient({ backend }); // two clients, one service
 * await Promise.all([a.close(), b.close()]);
 * await backend.close();
 * ```
 */
export interface ExportBackend {
  /** Creates an empty product. Rejects with `ConflictError` when the id is taken. */
  createProduct(productId: string, options: { readonly title?: string | undefined }): Promise<ProductInfo>;
  /** Appends features to a product. Rejects with `BadRequestError` naming the first bad feature. */
  addFeatures(productId: string, features: readonly Feature[], options?: { readonly signal?: AbortSignal | undefined }): Promise<{ readonly added: number }>;
  /**
   * Starts an export and answers its id. The backend emits `queued` for it before it answers,
   * so a subscriber of {@link ExportBackend.events} sees the export's whole history.
   * The same `idempotencyKey` again answers the same export id without starting another.
   */
  startExport(
    productId: string,
    request: ExportRequest,
    options?: { readonly idempotencyKey?: string | undefined; readonly signal?: AbortSignal | undefined },
  ): Promise<{ readonly exportId: string }>;
  /** One `snapshot` event per export id, in the order asked. Rejects with `NotFoundError` for an unknown id. */
  status(productId: string, exportIds: readonly string[], options?: { readonly signal?: AbortSignal | undefined }): Promise<SnapshotEvent[]>;
  /** A page of the product's completed exports. */
  listExports(productId: string, continuationToken?: string | null, options?: { readonly signal?: AbortSignal | undefined }): Promise<ExportPage>;
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

/**
 * Options of {@link ExportBackend.events}.
 *
 * @example
 * ```ts
 * const subscription = backend.events('roads', { after: savedCursor, onReconnect: () => console.log('resumed') })
 *   .subscribe(({ cursor, event }) => {
 *     savedCursor = cursor;
 *     store.apply(event);
 *   });
 * ```
 */
export interface EventsOptions {
  /** Resume after this cursor (from {@link BackendEvent.cursor}); from the start when absent. */
  readonly after?: string | undefined;
  /**
   * Called each time a stream that was cut is connected again (it resumes by cursor), so
   * the caller can reconcile anything a cursor cannot vouch for with one status request.
   */
  readonly onReconnect?: (() => void) | undefined;
  /**
   * `'now'`: without `after`, start at the current end of the product's events (live only),
   * not at the start. A backend that cannot ignores it; the HTTP one starts there, and after an
   * `event: reset` starts there again.
   */
  readonly from?: 'now' | undefined;
  /**
   * Called each time a stream is connected, the first time included, once the backend has
   * fixed where it starts: a status request sent from here on cannot miss an event. The HTTP
   * backend calls it; others may not.
   */
  readonly onConnect?: (() => void) | undefined;
  /** Called each time a connected stream is lost (it reconnects by itself): a caller may poll meanwhile. */
  readonly onDisconnect?: (() => void) | undefined;
}

/**
 * An event with the stream cursor that resumes right after it.
 *
 * @example
 * ```ts
 * backend.events('roads').subscribe(({ cursor, event }: BackendEvent) => console.log(cursor, event.type));
 * ```
 */
export interface BackendEvent {
  /** Opaque: pass it as `after` to resume right after this event. */
  readonly cursor: string;
  /** The event. */
  readonly event: TaskEvent;
}
