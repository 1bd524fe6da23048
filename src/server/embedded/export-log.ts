import type { BackendEvent } from '../../client/backend.js';
import type { CheckedExportRequest } from './check-export-request.js';
import type { EventBody, ExportRecord } from './export-record.js';

/** An export as a log keeps it: its fold and what it was asked to do. @internal */
export interface StoredExport {
  readonly record: ExportRecord;
  readonly request: CheckedExportRequest;
}

/**
 * Where the service keeps its exports: an append-only log of their events, each with a cursor,
 * and the projections the routes read (every export's fold, the completed ones in creation
 * order, the idempotency keys). The engine is the log's only writer, and every method is
 * synchronous, so what the engine checks and what it appends cannot be interleaved.
 *
 * Two implementations: {@link MemoryExportLog} (the embedded service, gone with the process)
 * and `SqliteExportLog` (the HTTP server, in `export-task.sqlite`, kept across restarts).
 *
 * Cursors are positive integers, increasing in append order within a product; 0 is "before
 * everything". They need not be dense: the SQLite log numbers every product's events with one
 * counter.
 * @internal
 */
export interface ExportLog {
  /** Whether what it holds outlives the process: a durable log's unfinished exports are settled on the next start. */
  readonly durable: boolean;

  /** The export an idempotency key of the product was given to, if any. */
  exportIdFor(productId: string, idempotencyKey: string): string | undefined;

  /**
   * Records a new export (its request and idempotency key) and appends its `queued` event, as
   * one atomic step.
   * @returns The `queued` event with its cursor.
   */
  create(productId: string, exportId: string, request: CheckedExportRequest, idempotencyKey: string | undefined): BackendEvent;

  /**
   * Appends the next event of an export (the log gives its `seq` and `time`) and folds it into
   * the export's record, as one atomic step; then tells the product's subscribers.
   * @returns The event with its cursor.
   */
  append(productId: string, exportId: string, body: EventBody): BackendEvent;

  /** The export's record (a copy the caller may keep), or `undefined` when the product has no such export. */
  get(productId: string, exportId: string): ExportRecord | undefined;

  /** Up to `limit` of the product's final exports created after `afterOrdinal`, in creation order. */
  listFinal(productId: string, afterOrdinal: number, limit: number): ExportRecord[];

  /** Up to `limit` of the product's events after the cursor `after`, in order; only one export's when `exportId` is given. */
  read(productId: string, after: number, limit: number, exportId?: string): BackendEvent[];

  /** The highest cursor that is valid for the product: every event of it is at or below it. */
  lastCursor(productId: string): number;

  /** Calls `listener` after each append to the product's events. @returns The function that stops it. */
  subscribe(productId: string, listener: () => void): () => void;

  /** The exports that are not final, in creation order, with their requests: what a restart must settle. */
  unfinished(): StoredExport[];

  /** Releases what the log holds; it must not be used afterwards. */
  close(): void;
}

/** Listeners by product, for {@link ExportLog.subscribe}. @internal */
export class AppendListeners {
  readonly #byProduct = new Map<string, Set<() => void>>();

  add(productId: string, listener: () => void): () => void {
    let listeners = this.#byProduct.get(productId);
    if (listeners === undefined) this.#byProduct.set(productId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.#byProduct.get(productId) === listeners) this.#byProduct.delete(productId);
    };
  }

  notify(productId: string): void {
    const listeners = this.#byProduct.get(productId);
    if (listeners !== undefined) for (const listener of [...listeners]) listener();
  }

  clear(): void {
    this.#byProduct.clear();
  }
}
