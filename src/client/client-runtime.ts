import type { Subscription } from 'rxjs';
import { inspectStore, type InspectionSubscription, type TaskInspector } from '../core/inspect-store.js';
import { parseTaskEvent } from '../core/parse-task-event.js';
import type { ExportTaskSnapshot } from '../core/snapshot.js';
import type { TaskStore } from '../core/task-store.js';
import { ExportLostError } from '../core/errors.js';
import { isFinalPhase, type SnapshotEvent, type TaskEvent } from '../core/events.js';
import { PollSource, type PollSourceOptions, type StatusCheck } from '../sources/poll-source.js';
import type { EventsOptions, ExportBackend, ExportRequest } from './backend.js';
import type { ByteSink } from './download.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from './http-errors.js';
import { ProductGoneError, type HttpBackend } from './http/http-backend.js';

/** Events of exports being started (not yet known by id) held per product, at most. */
const MAX_EARLY_EVENTS = 4_096;

/** Whether an error means the client may not follow the product at all (wrong token, no right): every wait on it ends. */
function isPermanent(error: unknown): error is UnauthorizedError | ForbiddenError {
  return error instanceof UnauthorizedError || error instanceof ForbiddenError;
}

/** Exports being started on one product, and the events seen of exports not known yet meanwhile. */
interface Starting {
  count: number;
  /** By export id, in arrival order. */
  readonly early: Map<string, TaskEvent[]>;
  held: number;
  /** Set when events had to be dropped for the bound: every start answered then asks for a snapshot. */
  overflowed: boolean;
}

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
  /** Products whose event stream is connected now. */
  readonly #live = new Set<string>();
  /** Connections per product so far: a start that saw it change may have missed its first events. */
  readonly #connections = new Map<string, number>();
  readonly #starting = new Map<string, Starting>();
  /**
   * Products the service refused (401, 403) or lost: a task of them followed later ends the
   * same way at once, without asking again (a new client, with a new token, asks again).
   */
  readonly #refused = new Map<string, (exportId: string) => Error>();
  /** How many `ExportTask`s of each export are reachable: the store keeps a task while one is. */
  readonly #holders = new Map<string, number>();
  readonly #unheld = new FinalizationRegistry<string>((exportId) => this.#letGo(exportId));
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
   * Subscribes (once per product) to the product's events, so that every task of it the
   * client follows (those in its store) is kept up to date by push. Called before an export
   * starts, so its first event is not missed.
   *
   * Over HTTP the stream starts at the current end of the product's events (`from: 'now'`), and
   * each time it connects one batch status request brings every followed task up to that
   * point; events of exports the client does not follow are dropped. While the stream is
   * down, the product is polled.
   */
  watchProduct(productId: string): void {
    if (this.#closed) return;
    if (this.#refused.size !== 0 && this.#refused.has(productId)) return this.#endFollowed(productId);
    // The common case (streamed, connected) is one lookup; a poller runs beside a stream only while it is down.
    if (this.#streams.has(productId)) {
      if (this.#pollers.size !== 0) this.#pollers.get(productId)?.wake();
      return;
    }
    const poller = this.#pollers.get(productId);
    if (poller !== undefined) return poller.wake();
    if (this.#transport.transport === 'poll') return this.#poll(productId);
    const fromNow = (this.backend as Partial<HttpBackend>).followsFromNow === true;
    const options: EventsOptions = fromNow
      ? { from: 'now', onConnect: () => this.#connected(productId), onDisconnect: () => this.#disconnected(productId) }
      : { onReconnect: () => this.#reconcile(productId) };
    // A backend that replays the whole history misses nothing of a task: it is live from the start.
    if (!fromNow) this.#live.add(productId);
    const subscription = this.backend.events(productId, options).subscribe({
      next: ({ event }) => this.#receive(productId, event),
      error: (error: unknown) => {
        this.#streams.delete(productId);
        this.#live.delete(productId);
        if (error instanceof ProductGoneError) return this.#loseProduct(productId, error.message);
        if (isPermanent(error)) return this.#abandonProduct(productId, error);
        // A server without an events route (a DL server) is polled instead.
        if (error instanceof NotFoundError) return this.#poll(productId);
        this.store.reportError(error instanceof Error ? error : new Error(String(error)));
        this.#poll(productId);
      },
    });
    if (!subscription.closed) this.#streams.set(productId, subscription);
    // Until the stream is connected (its answer may be slow to come), the product is polled.
    if (fromNow && !subscription.closed && !this.#live.has(productId)) this.#poll(productId);
  }

  /**
   * Starts an export and tracks its task. Events of exports not known yet that come while the
   * request is out are held, so that the new export's first ones are not dropped for an
   * unknown id; a stream that (re)connected meanwhile may have started after them, so one
   * status request then brings the task up to date.
   */
  async startExport(
    productId: string,
    request: ExportRequest,
    options: { readonly idempotencyKey?: string | undefined; readonly signal?: AbortSignal | undefined },
  ): Promise<string> {
    this.assertOpen();
    // Subscribe before the export exists, so that its first event cannot be missed.
    this.watchProduct(productId);
    let starting = this.#starting.get(productId);
    if (starting === undefined) this.#starting.set(productId, (starting = { count: 0, early: new Map(), held: 0, overflowed: false }));
    starting.count++;
    const connections = this.#connections.get(productId) ?? 0;
    const wasLive = this.#live.has(productId);
    try {
      const { exportId } = await this.backend.startExport(productId, request, options);
      this.store.track(productId, exportId);
      if (this.#refused.has(productId)) {
        this.#endFollowed(productId);
        return exportId;
      }
      const early = starting.early.get(exportId);
      if (early !== undefined) {
        starting.early.delete(exportId);
        starting.held -= early.length;
        for (const event of early) this.#apply(event);
      }
      const missedSome = starting.overflowed || !wasLive || (this.#connections.get(productId) ?? 0) !== connections;
      // Not connected now: the next connection's reconcile covers the task.
      if (missedSome && this.#live.has(productId)) {
        this.refresh(productId, exportId).catch((error: unknown) => this.store.reportError(error as Error));
      }
      return exportId;
    } finally {
      if (--starting.count === 0 && this.#starting.get(productId) === starting) this.#starting.delete(productId);
    }
  }

  /** Products whose every export the client follows, whoever started it ({@link ClientRuntime.followAll}). */
  readonly #wholeProducts = new Set<string>();

  /**
   * Follows every export of the product from now on, not only those the client started or
   * asked for: the product's stream keeps each new export's events, and the exports in flight
   * now come from one status request (the in-flight route over HTTP). Answers their ids.
   */
  async followAll(productId: string): Promise<string[]> {
    this.assertOpen();
    this.#wholeProducts.add(productId);
    this.watchProduct(productId);
    const inFlight = (this.backend as Partial<HttpBackend>).inFlight;
    if (inFlight === undefined) {
      // A backend that replays the product's whole history brings every export by itself.
      return [...this.store.snapshots()].filter((s) => s.productId === productId && !isFinalPhase(s.phase)).map((s) => s.exportId);
    }
    const snapshots = await inFlight.call(this.backend, productId);
    for (const snapshot of snapshots) this.#apply(snapshot);
    return snapshots.map((snapshot) => snapshot.export_id);
  }

  /** An event from the product's stream: folded when its task is followed, else dropped (or held while exports are being started). */
  #receive(productId: string, event: TaskEvent): void {
    if (this.store.get(event.export_id) === undefined && !this.#wholeProducts.has(productId)) {
      const starting = this.#starting.get(productId);
      if (starting === undefined) return;
      if (starting.held >= MAX_EARLY_EVENTS) {
        starting.overflowed = true;
        return;
      }
      let early = starting.early.get(event.export_id);
      if (early === undefined) starting.early.set(event.export_id, (early = []));
      early.push(event);
      starting.held++;
      return;
    }
    this.#apply(event);
  }

  #apply(event: unknown): void {
    try {
      this.store.applyEvent(parseTaskEvent(event));
    } catch (error) {
      this.store.reportError(error as Error);
    }
  }

  /** The stream is connected (again): polling stops, and one status request brings the followed tasks up to date. */
  #connected(productId: string): void {
    this.#live.add(productId);
    this.#connections.set(productId, (this.#connections.get(productId) ?? 0) + 1);
    const poller = this.#pollers.get(productId);
    if (poller !== undefined) {
      poller.stop();
      this.#pollers.delete(productId);
    }
    this.#reconcile(productId);
  }

  /** The stream was lost and reconnects by itself: poll meanwhile, so waits go on. */
  #disconnected(productId: string): void {
    this.#live.delete(productId);
    if (!this.#closed) this.#poll(productId);
  }

  #poll(productId: string): void {
    let poller = this.#pollers.get(productId);
    if (poller === undefined) {
      // Timed on the store's clock, as the store's waits and the HTTP backend's timers are.
      poller = new PollSource(this.store, this.#check, productId, { pollInterval: this.#transport.pollInterval, maxPollInterval: this.#transport.maxPollInterval, clock: this.store.clock });
      this.#pollers.set(productId, poller);
    }
    poller.wake();
  }

  /** The followed tasks of a product that are not final. */
  #followed(productId: string): string[] {
    const ids: string[] = [];
    for (const snapshot of this.store.snapshots()) {
      if (snapshot.productId === productId && !isFinalPhase(snapshot.phase)) ids.push(snapshot.exportId);
    }
    return ids;
  }

  /** After a (re)connection: one status request for every followed task of the product not yet final. */
  #reconcile(productId: string): void {
    const ids = this.#followed(productId);
    if (ids.length === 0) return;
    this.#check(productId, ids).catch((error: unknown) => this.store.reportError(error as Error));
  }

  /**
   * One batch status request for `ids`, folded: an export the service no longer knows is lost
   * (its waits reject with `ExportLostError`), and a 401 or 403 ends every followed task of the
   * product with it. Answers the snapshots applied; rejects with other errors.
   */
  #check: StatusCheck = async (productId, ids) => {
    let data: readonly SnapshotEvent[];
    let missing: readonly string[] = [];
    try {
      const http = this.backend as Partial<HttpBackend>;
      if (http.statusOf !== undefined) ({ data, missing } = await http.statusOf(productId, ids));
      else data = await this.backend.status(productId, ids);
    } catch (error) {
      if (isPermanent(error)) {
        this.#abandonProduct(productId, error);
        return [];
      }
      throw error;
    }
    for (const snapshot of data) this.#apply(snapshot);
    for (const id of missing) {
      this.store.abandon(id, new ExportLostError(id, `the service no longer knows it (product ${JSON.stringify(productId)})`, this.store.get(id)));
    }
    return data;
  };

  /** Every followed task of the product ends with `error` (a wrong token, no right to the product), now and later. */
  #abandonProduct(productId: string, error: Error): void {
    this.#refuse(productId, () => error);
  }

  /** The product vanished from the service: every followed task of it is lost, now and later. */
  #loseProduct(productId: string, why: string): void {
    this.#refuse(productId, (id) => new ExportLostError(id, why, this.store.get(id)));
  }

  #refuse(productId: string, errorFor: (exportId: string) => Error): void {
    this.#refused.set(productId, errorFor);
    const poller = this.#pollers.get(productId);
    if (poller !== undefined) {
      poller.stop();
      this.#pollers.delete(productId);
    }
    this.#endFollowed(productId);
  }

  #endFollowed(productId: string): void {
    const errorFor = this.#refused.get(productId)!;
    for (const id of this.#followed(productId)) this.store.abandon(id, errorFor(id));
  }

  /**
   * Keeps the task's snapshot in the store while `task` (an `ExportTask` of it) is reachable;
   * once none is, and the task no longer changes and nothing watches it, the store lets it go,
   * so that a long-lived client holds only what someone holds.
   */
  hold<T extends object & { readonly tuid: string }>(task: T): T {
    const exportId = task.tuid;
    this.#holders.set(exportId, (this.#holders.get(exportId) ?? 0) + 1);
    this.#unheld.register(task, exportId);
    return task;
  }

  /** The last `ExportTask` of an export was collected. */
  #letGo(exportId: string): void {
    const left = (this.#holders.get(exportId) ?? 1) - 1;
    if (left > 0) {
      this.#holders.set(exportId, left);
      return;
    }
    this.#holders.delete(exportId);
    if (this.#closed || this.store.forget(exportId)) return;
    const snapshot = this.store.get(exportId);
    if (snapshot === undefined) return;
    // Still changing (or watched): let it go once it has ended, unless it is held again by then.
    const forgetLater = (): void =>
      queueMicrotask(() => {
        if (!this.#holders.has(exportId)) this.store.forget(exportId);
      });
    this.store.watch(exportId).subscribe({ complete: forgetLater, error: forgetLater });
  }

  /** Status requests sent by polling, per product (for tests and metrics). */
  pollRequests(productId: string): number {
    return this.#pollers.get(productId)?.requests ?? 0;
  }

  /**
   * Asks the backend once for a task's state and folds the answer. A task the store follows
   * that the service no longer knows is lost (its waits reject with `ExportLostError`, and so
   * does this); one it does not follow is a `NotFoundError`.
   */
  async refresh(productId: string, exportId: string, signal?: AbortSignal): Promise<ExportTaskSnapshot> {
    this.assertOpen();
    const followed = this.store.get(exportId) !== undefined;
    try {
      const [snapshot] = await this.backend.status(productId, [exportId], { signal });
      if (snapshot !== undefined) this.store.applyEvent(parseTaskEvent(snapshot));
    } catch (error) {
      if (followed && error instanceof NotFoundError && (this.backend as Partial<HttpBackend>).hasStatusRoutes !== false) {
        const lost = new ExportLostError(exportId, `the service no longer knows it: ${error.message}`, this.store.get(exportId));
        this.store.abandon(exportId, lost);
        throw lost;
      }
      if (followed && isPermanent(error)) this.store.abandon(exportId, error);
      throw error;
    }
    return this.store.get(exportId) ?? this.store.track(productId, exportId);
  }

  /**
   * Ends every subscription, closes the store (every pending wait rejects with
   * `ClientClosedError`, every `state$` of a task not final errors with it, no deadline timer is
   * left), and stops the backend if the client made it (a backend given to it is its owner's
   * to close).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#resync.unsubscribe();
    this.#inspection?.unsubscribe();
    for (const subscription of this.#streams.values()) subscription.unsubscribe();
    this.#streams.clear();
    this.#live.clear();
    this.#starting.clear();
    for (const poller of this.#pollers.values()) poller.stop();
    this.#pollers.clear();
    // After the sources stopped: nothing feeds the store any more, so no wait could end otherwise.
    this.store.close();
    if (this.#ownsBackend) await this.backend.close();
  }
}
