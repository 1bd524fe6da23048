import type { Subscription } from 'rxjs';
import { inspectStore, type InspectionSubscription, type TaskInspector } from '../core/inspect-store.js';
import { parseTaskEvent } from '../core/parse-task-event.js';
import type { ExportTaskSnapshot } from '../core/snapshot.js';
import type { TaskStore } from '../core/task-store.js';
import { isFinalPhase } from '../core/events.js';
import { PollSource, type PollSourceOptions } from '../sources/poll-source.js';
import type { ExportBackend } from './backend.js';
import type { ByteSink } from './download.js';
import { NotFoundError } from './http-errors.js';

/** How a client learns of its tasks' events. @internal */
export interface TransportOptions extends PollSourceOptions {
  /** `push`: the backend's event stream (falling back to polling where it has none); `poll`: polling only. */
  readonly transport: 'push' | 'poll';
}

/**
 * What every task and feature collection of one client shares: the backend, the store its
 * events fold into, the live subscriptions per product and the client's defaults.
 * @internal
 */
export class ClientRuntime {
  readonly backend: ExportBackend;
  readonly store: TaskStore;
  readonly waitTimeout: number | undefined;
  readonly inspect: TaskInspector | undefined;
  /** Opens a path target of `getFile` (Node's entry gives it; a browser has no paths). */
  readonly openFile: ((path: string) => Promise<ByteSink>) | undefined;
  readonly #inspection: InspectionSubscription | undefined;
  readonly #streams = new Map<string, Subscription>();
  readonly #pollers = new Map<string, PollSource>();
  readonly #transport: TransportOptions;
  readonly #ownsBackend: boolean;
  readonly #resync: Subscription;
  #closed = false;

  constructor(
    backend: ExportBackend,
    store: TaskStore,
    waitTimeout: number | undefined,
    inspect: TaskInspector | undefined,
    transport: TransportOptions = { transport: 'push', pollInterval: 1_000, maxPollInterval: 30_000 },
    ownsBackend = true,
    openFile?: (path: string) => Promise<ByteSink>,
  ) {
    this.openFile = openFile;
    this.#ownsBackend = ownsBackend;
    this.backend = backend;
    this.#transport = transport;
    this.store = store;
    this.waitTimeout = waitTimeout;
    this.inspect = inspect;
    this.#inspection = inspect === undefined ? undefined : inspectStore(store, inspect);
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
    if (this.#closed) return;
    // A product has a stream or a poller, never both: the common case (streamed) is one lookup.
    if (this.#streams.has(productId)) return;
    const poller = this.#pollers.get(productId);
    if (poller !== undefined) return poller.wake();
    if (this.#transport.transport === 'poll') return this.#poll(productId);
    const options = { onReconnect: () => this.#reconcile(productId) };
    const subscription = this.backend.events(productId, options).subscribe({
      next: ({ event }) => {
        try {
          this.store.applyEvent(parseTaskEvent(event));
        } catch (error) {
          this.store.reportError(error as Error);
        }
      },
      error: (error: unknown) => {
        this.#streams.delete(productId);
        // A server without an events route (a DL server) is polled instead.
        if (error instanceof NotFoundError) return this.#poll(productId);
        this.store.reportError(error instanceof Error ? error : new Error(String(error)));
      },
    });
    if (!subscription.closed) this.#streams.set(productId, subscription);
  }

  #poll(productId: string): void {
    let poller = this.#pollers.get(productId);
    if (poller === undefined) {
      poller = new PollSource(this.store, this.backend, productId, this.#transport);
      this.#pollers.set(productId, poller);
    }
    poller.wake();
  }

  /** After a reconnection: one status request for every task of the product not yet final. */
  #reconcile(productId: string): void {
    const ids: string[] = [];
    for (const snapshot of this.store.snapshots()) {
      if (snapshot.productId === productId && !isFinalPhase(snapshot.phase)) ids.push(snapshot.exportId);
    }
    if (ids.length === 0) return;
    this.backend.status(productId, ids).then(
      (snapshots) => {
        for (const snapshot of snapshots) this.store.applyEvent(parseTaskEvent(snapshot));
      },
      (error: unknown) => this.store.reportError(error as Error),
    );
  }

  /** Status requests sent by polling, per product (for tests and metrics). */
  pollRequests(productId: string): number {
    return this.#pollers.get(productId)?.requests ?? 0;
  }

  /** Asks the backend once for a task's state and folds the answer. */
  async refresh(productId: string, exportId: string): Promise<ExportTaskSnapshot> {
    this.assertOpen();
    const [snapshot] = await this.backend.status(productId, [exportId]);
    if (snapshot !== undefined) this.store.applyEvent(parseTaskEvent(snapshot));
    return this.store.get(exportId) ?? this.store.track(productId, exportId);
  }

  /** Ends every subscription, and stops the backend if the client made it (a backend given to it is its owner's to close). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#resync.unsubscribe();
    this.#inspection?.unsubscribe();
    for (const subscription of this.#streams.values()) subscription.unsubscribe();
    this.#streams.clear();
    for (const poller of this.#pollers.values()) poller.stop();
    this.#pollers.clear();
    if (this.#ownsBackend) await this.backend.close();
  }
}
