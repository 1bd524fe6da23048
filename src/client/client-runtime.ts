import type { Subscription } from 'rxjs';
import type { InspectionEvent } from 'xstate';
import { parseTaskEvent } from '../core/parse-task-event.js';
import type { ExportTaskSnapshot } from '../core/snapshot.js';
import type { TaskStore } from '../core/task-store.js';
import type { ExportBackend } from './backend.js';

/**
 * What every task and feature collection of one client shares: the backend, the store its
 * events fold into, the live subscriptions per product and the client's defaults.
 * @internal
 */
export class ClientRuntime {
  readonly backend: ExportBackend;
  readonly store: TaskStore;
  readonly waitTimeout: number | undefined;
  readonly inspect: ((event: InspectionEvent) => void) | undefined;
  readonly #streams = new Map<string, Subscription>();
  readonly #resync: Subscription;
  #closed = false;

  constructor(backend: ExportBackend, store: TaskStore, waitTimeout: number | undefined, inspect: ((event: InspectionEvent) => void) | undefined) {
    this.backend = backend;
    this.store = store;
    this.waitTimeout = waitTimeout;
    this.inspect = inspect;
    // A task whose gap cannot be held asks for a snapshot; one status request fills it.
    this.#resync = store.resyncRequests$.subscribe(({ productId, exportId }) => {
      this.refresh(productId, exportId).catch((error: unknown) => store.reportError(error as Error));
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Throws when the client is closed, so that no request goes out after `close()`. */
  assertOpen(): void {
    if (this.#closed) throw new Error('This export-task client is closed: create a new one with createClient()');
  }

  /**
   * Subscribes (once per product) to the product's events, so that every task of it is kept
   * up to date by push. Called before an export starts, so its first event is not missed.
   */
  watchProduct(productId: string): void {
    if (this.#closed || this.#streams.has(productId)) return;
    const subscription = this.backend.events(productId).subscribe({
      next: ({ event }) => {
        try {
          this.store.applyEvent(parseTaskEvent(event));
        } catch (error) {
          this.store.reportError(error as Error);
        }
      },
      error: (error: unknown) => {
        this.#streams.delete(productId);
        this.store.reportError(error instanceof Error ? error : new Error(String(error)));
      },
    });
    if (!subscription.closed) this.#streams.set(productId, subscription);
  }

  /** Asks the backend once for a task's state and folds the answer. */
  async refresh(productId: string, exportId: string): Promise<ExportTaskSnapshot> {
    this.assertOpen();
    const [snapshot] = await this.backend.status(productId, [exportId]);
    if (snapshot !== undefined) this.store.applyEvent(parseTaskEvent(snapshot));
    return this.store.get(exportId) ?? this.store.track(productId, exportId);
  }

  /** Ends every subscription and stops the backend. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#resync.unsubscribe();
    for (const subscription of this.#streams.values()) subscription.unsubscribe();
    this.#streams.clear();
    await this.backend.close();
  }
}
