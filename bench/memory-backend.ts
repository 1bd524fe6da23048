/**
 * A tiny in-memory `ExportBackend` for the benchmarks: it serves pages of final `snapshot`
 * events for `listExports`, and a live event stream per product that the bench pushes into,
 * so that what is measured is the client, not I/O.
 */
import { Subject, type Observable } from 'rxjs';
import type { BackendEvent, ExportBackend, ExportPage, ExportRequest, ProductInfo } from '../src/client/backend.js';
import type { SnapshotEvent, TaskEvent } from '../src/core/events.js';
import { exportId, finalSnapshotEvent, PRODUCT, type WireEvent } from './events.js';

export const PAGE_SIZE = 1000;

export class MemoryBackend implements ExportBackend {
  readonly #pages: ExportPage[] = [];
  readonly #streams = new Map<string, Subject<BackendEvent>>();
  #cursor = 0;
  #started = 0;

  /** @param completed - How many completed exports `listExports` answers, in pages of {@link PAGE_SIZE}. */
  constructor(completed = 0) {
    for (let from = 0; from < completed; from += PAGE_SIZE) {
      const data: WireEvent[] = [];
      for (let i = from; i < Math.min(completed, from + PAGE_SIZE); i++) data.push(finalSnapshotEvent(i));
      const next = from + PAGE_SIZE < completed ? String(this.#pages.length + 1) : null;
      // Wire JSON as a server sends it: the client validates it (parseTaskEvent).
      this.#pages.push({ data: data as unknown as SnapshotEvent[], continuationToken: next });
    }
  }

  /** Pushes events into the product's live stream, as a server would. */
  emit(events: Iterable<WireEvent>): void {
    const stream = this.#streams.get(PRODUCT);
    if (stream === undefined) throw new Error('nobody watches the product');
    for (const event of events) stream.next({ cursor: String(++this.#cursor), event: event as unknown as TaskEvent });
  }

  createProduct(productId: string, options: { readonly title?: string | undefined }): Promise<ProductInfo> {
    return Promise.resolve({ id: productId, title: options.title ?? productId, featureCount: 0 });
  }

  addFeatures(): Promise<{ readonly added: number }> {
    return Promise.resolve({ added: 0 });
  }

  startExport(productId: string, _request: ExportRequest): Promise<{ readonly exportId: string }> {
    const id = exportId(this.#started++);
    this.emit([{ type: 'queued', product_id: productId, export_id: id, seq: 1, time: '2026-01-01T00:00:00.000Z' }]);
    return Promise.resolve({ exportId: id });
  }

  status(): Promise<SnapshotEvent[]> {
    return Promise.resolve([]);
  }

  listExports(_productId: string, continuationToken?: string | null): Promise<ExportPage> {
    const page = this.#pages[continuationToken == null ? 0 : Number(continuationToken)];
    return Promise.resolve(page ?? { data: [], continuationToken: null });
  }

  cancel(): Promise<void> {
    return Promise.resolve();
  }

  events(productId: string): Observable<BackendEvent> {
    let stream = this.#streams.get(productId);
    if (stream === undefined) this.#streams.set(productId, (stream = new Subject()));
    return stream.asObservable();
  }

  readFile(): Promise<ReadableStream<Uint8Array>> {
    return Promise.reject(new Error('the bench backend stores no files'));
  }

  close(): Promise<void> {
    for (const stream of this.#streams.values()) stream.complete();
    this.#streams.clear();
    return Promise.resolve();
  }
}
