import type { BackendEvent } from '../../client/backend.js';
import type { CheckedExportRequest } from './check-export-request.js';
import { AppendListeners } from './export-log.js';
import type { ExportLog, StoredExport } from './export-log.js';
import { ExportRecord } from './export-record.js';
import type { EventBody } from './export-record.js';

/** One product's part of the log. */
interface ProductLog {
  /** Its events; the cursor of each is its rank from 1. */
  readonly events: BackendEvent[];
  /** Its exports in creation order (a Map keeps insertion order). */
  readonly exports: Map<string, StoredExport>;
  readonly byIdempotencyKey: Map<string, string>;
}

/**
 * The embedded service's {@link ExportLog}: everything in memory, gone with the process. Each
 * product has its own cursors, the ranks of its events (`"1"` for the first).
 * @internal
 */
export class MemoryExportLog implements ExportLog {
  readonly durable = false;
  readonly #products = new Map<string, ProductLog>();
  readonly #listeners = new AppendListeners();

  exportIdFor(productId: string, idempotencyKey: string): string | undefined {
    return this.#products.get(productId)?.byIdempotencyKey.get(idempotencyKey);
  }

  create(productId: string, exportId: string, request: CheckedExportRequest, idempotencyKey: string | undefined): BackendEvent {
    const product = this.#product(productId);
    const record = new ExportRecord(productId, exportId, request.key, product.exports.size + 1);
    product.exports.set(exportId, { record, request });
    if (idempotencyKey !== undefined) product.byIdempotencyKey.set(idempotencyKey, exportId);
    return this.append(productId, exportId, { type: 'queued' });
  }

  append(productId: string, exportId: string, body: EventBody): BackendEvent {
    const product = this.#product(productId);
    const stored = product.exports.get(exportId);
    if (stored === undefined) throw new Error(`No export ${exportId} in product ${productId} to append to`);
    const appended = { cursor: String(product.events.length + 1), event: stored.record.next(body) };
    product.events.push(appended);
    this.#listeners.notify(productId);
    return appended;
  }

  get(productId: string, exportId: string): ExportRecord | undefined {
    const record = this.#products.get(productId)?.exports.get(exportId)?.record;
    return record && ExportRecord.fromState(record.state());
  }

  listFinal(productId: string, afterOrdinal: number, limit: number): ExportRecord[] {
    const found: ExportRecord[] = [];
    for (const { record } of this.#products.get(productId)?.exports.values() ?? []) {
      if (found.length === limit) break;
      if (record.final && record.ordinal > afterOrdinal) found.push(ExportRecord.fromState(record.state()));
    }
    return found;
  }

  read(productId: string, after: number, limit: number, exportId?: string): BackendEvent[] {
    const events = this.#products.get(productId)?.events ?? [];
    const found: BackendEvent[] = [];
    for (let i = after; i < events.length && found.length < limit; i++) {
      const event = events[i]!;
      if (exportId === undefined || event.event.export_id === exportId) found.push(event);
    }
    return found;
  }

  lastCursor(productId: string): number {
    return this.#products.get(productId)?.events.length ?? 0;
  }

  subscribe(productId: string, listener: () => void): () => void {
    return this.#listeners.add(productId, listener);
  }

  unfinished(): StoredExport[] {
    const found: StoredExport[] = [];
    for (const product of this.#products.values()) {
      for (const stored of product.exports.values()) if (!stored.record.final) found.push(stored);
    }
    return found;
  }

  close(): void {
    this.#listeners.clear();
  }

  #product(productId: string): ProductLog {
    let product = this.#products.get(productId);
    if (product === undefined) {
      product = { events: [], exports: new Map(), byIdempotencyKey: new Map() };
      this.#products.set(productId, product);
    }
    return product;
  }
}
