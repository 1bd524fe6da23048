import { produce } from 'immer';
import { Observable, Subject, type Subscriber, type Subscription } from 'rxjs';
import { checkMilliseconds, checkOptionBag, checkSignal } from '../internal/options.js';
import { ClientClosedError, describeValue, InvalidEventError, TimeoutError } from './errors.js';
import { isFinalPhase, type TaskEvent } from './events.js';
import { checkClock, systemClock, type Clock } from './clock.js';
import { DeadlineQueue } from './internal/deadline-queue.js';
import { AbortListener, FINISHED_CHECKED, newWaitPromise, rejectWith, SETTLED_CHECKED, takeResolve, VoidWaiter, Waiter, type AbortTarget, type LastCheck } from './internal/waiters.js';

export type { LastCheck } from './internal/waiters.js';
import { initialSnapshot, advance } from './internal/advance.js';
import { parseTaskEvent } from './parse-task-event.js';
import { parseSnapshot } from './parse-snapshot.js';
import type { ExportTaskSnapshot } from './snapshot.js';

/**
 * Options of a {@link TaskStore}.
 *
 * @example
 * ```ts
 * const store = new TaskStore({ maxHeld: 64 } satisfies TaskStoreOptions);
 * store.resyncRequests$.subscribe(({ productId, exportId }) => void refresh(productId, exportId));
 * ```
 */
export interface TaskStoreOptions {
  /**
   * How many early events (with a gap before them) one task may hold. Past that, the event is
   * dropped and a {@link ResyncRequest} asks the source for a snapshot.
   * @defaultValue 1024
   */
  readonly maxHeld?: number | undefined;
  /**
   * Where the waits' deadlines read the time and arm their one timer: a simulated clock makes
   * timeouts testable without global fake timers (see `ManualClock` in `export-task/testing`).
   * @defaultValue the system clock
   */
  readonly clock?: Clock | undefined;
}

/**
 * Options of {@link TaskStore.settled}.
 *
 * @example
 * ```ts
 * const snapshot = await store.settled('e1', {
 *   timeout: 60_000,
 *   signal: AbortSignal.timeout(120_000),
 *   beforeTimeout: () => backend.status('roads', ['e1']).then(([s]) => s && store.apply(s)),
 * } satisfies SettledOptions);
 * ```
 */
export interface SettledOptions {
  /**
   * How long to wait, in ms, before rejecting with {@link TimeoutError}. `0` still makes the
   * last check. Unlimited when absent.
   * @defaultValue undefined (no limit)
   */
  readonly timeout?: number | undefined;
  /**
   * Aborts the wait (rejecting with the signal's reason). The task itself is not touched.
   * With `AbortSignal.timeout(ms)` the rejection is a `DOMException` also named `TimeoutError`, not this package's `TimeoutError`: tell them apart with `instanceof` or `error.code` (`'EXPORT_TASK_TIMEOUT'`), never `error.name`.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Called once at the deadline, before giving up, to look one last time (for example a
   * request for the task's status that feeds the store). The wait resolves if the task is
   * final once it settles; a rejection of it rejects the wait.
   */
  readonly beforeTimeout?: (() => Promise<unknown>) | undefined;
}

/**
 * Something the store noticed and ignored: kept apart from the snapshots.
 *
 * @example
 * ```ts
 * store.diagnostics$.subscribe((d: TaskDiagnostic) => {
 *   if (d.kind === 'conflict') console.warn(`export ${d.exportId}: a second, different outcome (seq ${d.seq}) was ignored`);
 * });
 * ```
 */
export interface TaskDiagnostic {
  /**
   * `duplicate`: an event whose seq was already applied or held; `stale-snapshot`: a snapshot
   * older than what is known; `conflict`: a terminal event (or final snapshot) that disagrees
   * with the task's final outcome; `after-final`: any other event after the task was final;
   * `overflow`: an early event dropped because the task held too many; `abandoned`: an event of
   * a task given up with {@link TaskStore.abandon}, which no longer changes.
   */
  readonly kind: 'duplicate' | 'stale-snapshot' | 'conflict' | 'after-final' | 'overflow' | 'abandoned';
  /** The product of the event's task. */
  readonly productId: string;
  /** The event's task. */
  readonly exportId: string;
  /** The event's `seq`. */
  readonly seq: number;
  /** The event's `type`. */
  readonly type: TaskEvent['type'];
}

/**
 * The store asks its source for a snapshot of a task whose gap it cannot fill by holding.
 *
 * @example
 * ```ts
 * store.resyncRequests$.subscribe(async ({ productId, exportId }: ResyncRequest) => {
 *   const [snapshot] = await backend.status(productId, [exportId]);
 *   if (snapshot) store.apply(snapshot);
 * });
 * ```
 */
export interface ResyncRequest {
  /** The task's product. */
  readonly productId: string;
  /** The task that needs a snapshot. */
  readonly exportId: string;
  /** The task's cursor: every event up to it is applied. */
  readonly seq: number;
}

/** A task's waits: one, or several in the order they began. */
type Waiters = Waiter | Waiter[];

/** A task's listeners of one kind: one, or a set of several. */
type Listeners<T> = T | Set<T>;
/** A `watch()` subscription, as the store reaches it: told each change, and how it ends. */
type Watcher = Subscriber<ExportTaskSnapshot>;

const NO_WAITERS: ReadonlyMap<string, Waiters> = new Map();

/** What {@link TaskStore.onStep} calls: an applied event and the task before and after it. @internal */
export type StepListener = (event: TaskEvent, before: ExportTaskSnapshot, after: ExportTaskSnapshot) => void;

const SETTLED_OPTIONS = ['timeout', 'signal', 'beforeTimeout'] as const;

/**
 * Many tasks folded from one multiplexed stream of backend events.
 *
 * Each event is validated ({@link parseTaskEvent}), put in its task's `seq` order (duplicates
 * dropped, early events held until the gap fills or a snapshot covers it) and folded by the
 * task's state machine. Tasks are kept as plain snapshots; subscriptions and waits are routed
 * by export id, so an event costs the same whatever the number of tasks.
 *
 * @example
 * ```ts
 * const store = new TaskStore();
 * store.apply({ type: 'queued', product_id: 'roads', export_id: 'e1', seq: 1, time: '2026-01-01T00:00:00Z' });
 * store.get('e1')?.phase; // 'pending'
 * const final = await store.settled('e1', { timeout: 60_000 });
 * ```
 */
export class TaskStore {
  readonly #maxHeld: number;
  readonly #tasks = new Map<string, ExportTaskSnapshot>();
  readonly #held = new Map<string, Map<number, TaskEvent>>();
  readonly #resyncAsked = new Set<string>();
  readonly #watchers = new Map<string, Listeners<Watcher>>();
  readonly #eventListeners = new Map<string, Listeners<Subscriber<TaskEvent>>>();
  /**
   * The events applied by the call being delivered, with the task before and after each, kept
   * only while someone listens to steps or to the task's events: told once the store is
   * committed, so that a listener reading `get()` finds the event in it.
   */
  readonly #told: { event: TaskEvent; before: ExportTaskSnapshot; after: ExportTaskSnapshot }[] = [];
  /**
   * The cursor of each final task that received events after it was final: they no longer
   * change its snapshot (whose `seq` stays that of the event that made it final), but a
   * duplicate must still be told from a late event.
   */
  readonly #cursors = new Map<string, number>();
  /** Tasks given up with `abandon()`, with the error their waits and watchers ended with. */
  #abandoned: Map<string, Error> | undefined = undefined;
  #closed = false;
  /** Whether an event is being delivered: calls made meanwhile wait in `#mailbox`. */
  #delivering = false;
  #mailbox: (() => void)[] | undefined = undefined;
  /** The error given to `close()`, if any. */
  #closedWith: Error | undefined = undefined;
  /** Pending waits by export id; made at the first wait and dropped with the last (why: BENCHMARKS.md, "Shapes the numbers chose"). */
  #waiters: Map<string, Waiters> | undefined = undefined;
  readonly #deadlines: DeadlineQueue<Waiter>;
  readonly #errors = new Subject<Error>();
  readonly #diagnostics = new Subject<TaskDiagnostic>();
  readonly #resync = new Subject<ResyncRequest>();
  readonly #changes = new Subject<ExportTaskSnapshot>();
  #steps: Set<StepListener> | undefined = undefined;

  /** What a wait's abort listener calls: one object per store, not a closure per wait. */
  readonly #aborts: AbortTarget = {
    // The store does not own the signal, so it rejects with the signal's own reason.
    abortWait: (waiter) => {
      if (this.#release(waiter)) rejectWith(waiter, waiter.abort!.signal.reason);
    },
  };

  /**
   * Rejected input from {@link TaskStore.connect}ed sources ({@link InvalidEventError}s: the
   * stream goes on), and errors of the sources themselves.
   */
  readonly errors$: Observable<Error> = this.#errors.asObservable();
  /** What was ignored: duplicates, stale snapshots, conflicting terminal events, overflow. */
  readonly diagnostics$: Observable<TaskDiagnostic> = this.#diagnostics.asObservable();
  /** Tasks whose gap could not be held: a source should answer with a `snapshot` event. */
  readonly resyncRequests$: Observable<ResyncRequest> = this.#resync.asObservable();
  /** Every task's snapshot each time it changes. */
  readonly changes$: Observable<ExportTaskSnapshot> = this.#changes.asObservable();
  /**
   * The clock the store's waits time out on ({@link TaskStoreOptions.clock}, or the system
   * clock): a client given this store arms its own timers (polls, reconnects, request
   * timeouts) on it too, so one clock drives them all.
   */
  readonly clock: Clock;

  /**
   * @param options - See {@link TaskStoreOptions}.
   * @throws TypeError for an unknown option, a `maxHeld` that is not a positive integer or a `clock` that is not a {@link Clock}.
   */
  constructor(options?: TaskStoreOptions) {
    checkOptionBag('new TaskStore()', options, ['maxHeld', 'clock']);
    this.clock = checkClock('new TaskStore()', options?.clock) ?? systemClock;
    this.#deadlines = new DeadlineQueue<Waiter>((waiter) => void this.#timeOut(waiter), this.clock);
    const maxHeld = options?.maxHeld ?? 1024;
    if (!Number.isSafeInteger(maxHeld) || maxHeld < 1) {
      throw new TypeError(`new TaskStore(): expected \`maxHeld\` to be a positive integer, got ${String(maxHeld)}`);
    }
    this.#maxHeld = maxHeld;
  }

  /** How many tasks the store knows. */
  get size(): number {
    return this.#tasks.size;
  }

  /**
   * Validates one wire event and folds it into its task.
   *
   * @param input - An event object or its JSON text.
   * @returns The task's snapshot after the event (unchanged when the event was a duplicate or held).
   * @throws {@link InvalidEventError} when the input is malformed; nothing changes.
   */
  apply(input: unknown): ExportTaskSnapshot {
    return this.applyEvent(parseTaskEvent(input));
  }

  /**
   * Folds an event that is already validated (by {@link parseTaskEvent}); {@link TaskStore.apply}
   * is the entry point for untrusted input.
   *
   * The store delivers one event at a time, as an XState actor's mailbox: an event applied
   * while another is being delivered (from a `watch()`, `changes$` or `appliedEvents()`
   * subscriber, say) is queued and applied once that one is delivered, in the order it came, so
   * every subscriber sees each task's snapshots in `seq` order. Such a call answers the task's
   * snapshot as it is then (the queued event not applied yet), and an error of the queued
   * event (an export of another product) goes to {@link TaskStore.errors$}. Subscribers are told
   * after the store is updated: `store.get()` in a listener already holds the event it was told of.
   *
   * @throws {@link InvalidEventError} when the event's export is known under another product; nothing changes.
   */
  applyEvent(event: TaskEvent): ExportTaskSnapshot {
    if (this.#delivering) return this.#enqueue(() => void this.#applyOne(event), event.product_id, event.export_id);
    this.#delivering = true;
    try {
      return this.#applyOne(event);
    } finally {
      this.#deliverQueued();
    }
  }

  #applyOne(event: TaskEvent): ExportTaskSnapshot {
    const id = event.export_id;
    const known = this.#tasks.get(id);
    const before = known ?? initialSnapshot(event.product_id, id);
    if (before.productId !== event.product_id) {
      throw new InvalidEventError(
        'product_id',
        event.product_id,
        `"${before.productId}", the product this export belongs to (export ${id})`,
      );
    }
    // A task given up: its waits and watchers have ended, and it no longer changes.
    if (this.#abandoned !== undefined && this.#abandoned.has(id)) {
      this.#diagnose('abandoned', event);
      return before;
    }
    let snapshot = before;
    // `#held`, `#cursors` and the listener maps are empty on the hot path: their size is checked before any lookup.
    const cursor = this.#cursorOf(snapshot);
    if (event.type === 'snapshot' ? event.seq <= cursor : event.seq <= cursor || (this.#held.size !== 0 && this.#held.get(id)?.has(event.seq))) {
      this.#diagnose(event.type === 'snapshot' ? 'stale-snapshot' : 'duplicate', event);
    } else if (event.type !== 'snapshot' && event.seq > cursor + 1) {
      this.#hold(snapshot, event);
    } else {
      // A new task's first state is this call's own until committed, so the event folds into it
      // in place, unless a step listener is to see it as it was.
      snapshot = this.#step(snapshot, event, known === undefined && this.#steps === undefined);
      const held = this.#held.size === 0 ? undefined : this.#held.get(id);
      if (held !== undefined) snapshot = this.#drain(snapshot, held);
    }
    // A new task is known from its first event on, even one held or ignored.
    if (snapshot !== before || known === undefined) this.#commit(snapshot);
    if (this.#told.length !== 0) this.#tell();
    return snapshot;
  }

  /** Queues a call made while an event is being delivered; answers the task's snapshot as it is now. */
  #enqueue(apply: () => void, productId: string, exportId: string): ExportTaskSnapshot {
    (this.#mailbox ??= []).push(apply);
    return this.#tasks.get(exportId) ?? initialSnapshot(productId, exportId);
  }

  /** Delivers what was queued meanwhile, in order; then the store takes calls again. */
  #deliverQueued(): void {
    const mailbox = this.#mailbox;
    try {
      if (mailbox !== undefined) {
        for (let i = 0; i < mailbox.length; i++) {
          try {
            mailbox[i]!();
          } catch (error) {
            this.#errors.next(error instanceof Error ? error : new Error(String(error)));
          }
        }
      }
    } finally {
      this.#mailbox = undefined;
      this.#delivering = false;
    }
  }

  /** The task's snapshot, or `undefined` when the store has not seen it. */
  get(exportId: string): ExportTaskSnapshot | undefined {
    return this.#tasks.get(exportId);
  }

  /** Every task's snapshot. */
  snapshots(): IterableIterator<ExportTaskSnapshot> {
    return this.#tasks.values();
  }

  /**
   * Makes sure the store knows a task (pending at seq 0 when new) and answers its snapshot.
   * Used when a task is created before any of its events arrive.
   */
  track(productId: string, exportId: string): ExportTaskSnapshot {
    const known = this.#tasks.get(exportId);
    if (known !== undefined) return known;
    const snapshot = initialSnapshot(productId, exportId);
    this.#tasks.set(exportId, snapshot);
    return snapshot;
  }

  /**
   * Restores a persisted snapshot (for example `JSON.parse` of a stored `JSON.stringify`), so
   * the task resumes from its cursor: later events with a higher `seq` fold onto it, and events
   * the store already holds above the cursor follow at once. A snapshot older than what the
   * store knows is ignored, and so is any snapshot of a task the store knows to be final.
   *
   * @throws TypeError when `input` is not a valid snapshot, or is one of an export the store
   * knows under another product; nothing changes.
   */
  restore(input: unknown): ExportTaskSnapshot {
    const snapshot = parseSnapshot(input);
    if (this.#delivering) return this.#enqueue(() => void this.#restoreOne(snapshot), snapshot.productId, snapshot.exportId);
    this.#delivering = true;
    try {
      return this.#restoreOne(snapshot);
    } finally {
      this.#deliverQueued();
    }
  }

  #restoreOne(snapshot: ExportTaskSnapshot): ExportTaskSnapshot {
    const id = snapshot.exportId;
    const known = this.#tasks.get(id);
    if (known !== undefined && known.productId !== snapshot.productId) {
      throw new TypeError(`TaskStore.restore(): export ${id} belongs to product "${known.productId}", got a snapshot of product "${snapshot.productId}"`);
    }
    // A restore resumes a task; it never takes one back, and a final outcome is kept (rule 3).
    if (known !== undefined && (this.#cursorOf(known) >= snapshot.seq || isFinalPhase(known.phase))) return known;
    if (this.#abandoned?.has(id)) return known ?? snapshot;
    // Phase and progress never go back (rule 2), even for a restored snapshot. A restore is
    // rare, so immer's clarity costs nothing here (the hot path builds snapshots by hand).
    let next =
      known === undefined
        ? snapshot
        : produce(snapshot, (draft) => {
            if (known.phase === 'running' && draft.phase === 'pending') draft.phase = 'running';
            if (known.progress > draft.progress) draft.progress = known.progress;
          });
    const held = this.#held.get(id);
    if (held !== undefined) {
      // As for a snapshot event: what it covers is dropped, what follows it is applied.
      for (const seq of held.keys()) if (seq <= snapshot.seq) held.delete(seq);
      next = this.#drain(next, held);
    }
    this.#commit(next);
    if (this.#told.length !== 0) this.#tell();
    // A task made final by a restore ends its event streams (no event of it will come).
    if (isFinalPhase(next.phase)) this.#completeEvents(id);
    return next;
  }

  /**
   * The task's snapshot now (when known), then each change; completes once the task is final.
   * Routed by export id: one subscriber costs nothing to the others.
   *
   * A task given up ({@link TaskStore.abandon}, an `ExportLostError` for a lost export) ends
   * its watchers with that error, so that a subscriber can tell a finished task from a lost one;
   * a store {@link TaskStore.close}d completes them (the close was asked for: the waits reject
   * with `ClientClosedError`, and a subscriber with no error handler is not taken down). A
   * watch begun after either gets the last snapshot, then ends the same way.
   */
  watch(exportId: string): Observable<ExportTaskSnapshot> {
    return new Observable<ExportTaskSnapshot>((subscriber) => {
      const current = this.#tasks.get(exportId);
      if (current !== undefined) {
        subscriber.next(current);
        if (isFinalPhase(current.phase)) {
          subscriber.complete();
          return undefined;
        }
      }
      if (this.#endedWatch(exportId, subscriber)) return undefined;
      addTo(this.#watchers, exportId, subscriber);
      return () => removeFrom(this.#watchers, exportId, subscriber);
    });
  }

  /**
   * The task's events as they are applied, in `seq` order without duplicates (what its machine
   * receives). Completes once the task is final or the store is closed, and errors as
   * {@link TaskStore.watch} does when the task is abandoned. For feeding an XState actor of the task.
   */
  appliedEvents(exportId: string): Observable<TaskEvent> {
    return new Observable<TaskEvent>((subscriber) => {
      if (this.#finalNow(exportId) !== undefined) {
        subscriber.complete();
        return undefined;
      }
      if (this.#endedWatch(exportId, subscriber)) return undefined;
      addTo(this.#eventListeners, exportId, subscriber);
      return () => removeFrom(this.#eventListeners, exportId, subscriber);
    });
  }

  /**
   * Resolves with the task's final snapshot once it is final.
   *
   * All waits of a store share one timer. A settled, timed-out or aborted wait leaves no timer,
   * listener or subscription behind.
   *
   * @example
   * ```ts
   * const final = await store.settled('e1', { timeout: 30_000 });
   * ```
   * @throws TypeError at once for an unknown option, a negative or non-numeric `timeout`, a bad `signal`.
   * @throws {@link TimeoutError} (rejection) when `timeout` passes first; it carries the last snapshot.
   */
  settled(exportId: string, options?: SettledOptions): Promise<ExportTaskSnapshot> {
    const where = 'TaskStore.settled()';
    try {
      checkOptionBag(where, options, SETTLED_OPTIONS);
      const timeout = checkMilliseconds(where, 'timeout', options?.timeout);
      const signal = checkSignal(where, options?.signal);
      const beforeTimeout = options?.beforeTimeout;
      if (beforeTimeout !== undefined && typeof beforeTimeout !== 'function') {
        throw new TypeError(`${where}: expected \`beforeTimeout\` to be a function returning a promise`);
      }
      return this.#settled(exportId, timeout, signal, beforeTimeout === undefined ? undefined : { refresh: () => beforeTimeout() });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Gives a task up: it can never become final (the backend lost it, for example). Every
   * pending wait on it ({@link TaskStore.settled}, and so the client's attribute promises and
   * `getResult`) rejects with `error`, every {@link TaskStore.watch} of it (and so `task.state$`)
   * errors with it, and so does any wait or watch begun later. Its later events go only to
   * {@link TaskStore.diagnostics$} (kind `abandoned`); {@link TaskStore.get} keeps its last
   * snapshot. A task already final, or already given up, is left as it is.
   *
   * @example
   * ```ts
   * store.abandon('e1', new ExportLostError('e1', 'the service no longer knows it', store.get('e1')));
   * await store.settled('e1').catch((error: unknown) => error instanceof ExportLostError); // true
   * ```
   * @param exportId - The task.
   * @param error - What its waits reject with: an `ExportLostError` for a lost export.
   * @throws TypeError when `error` is not an Error.
   */
  abandon(exportId: string, error: Error): void {
    if (!(error instanceof Error)) throw new TypeError(`TaskStore.abandon(): expected \`error\` to be an Error, got ${describeValue(error)}`);
    if (this.#finalNow(exportId) !== undefined || this.#abandoned?.has(exportId)) return;
    (this.#abandoned ??= new Map()).set(exportId, error);
    this.#held.delete(exportId);
    this.#resyncAsked.delete(exportId);
    this.#end(exportId, error);
  }

  /**
   * Ends everything the store keeps going: every pending wait rejects with `error` (by default
   * a `ClientClosedError` naming the wait's export), every {@link TaskStore.watch} and
   * `appliedEvents` of a task not final completes (the close was asked for: a subscriber without
   * an error handler is not taken down by it; {@link TaskStore.abandon} errors them), every deadline timer
   * is cleared, and `changes$`, `diagnostics$`, `resyncRequests$` and `errors$` complete. Nothing
   * stays scheduled. A wait or watch begun after it ends at once the same way (a final task
   * still answers with its snapshot). Events applied after it still fold, and `get()` answers.
   * Closing twice does nothing more.
   *
   * @example
   * ```ts
   * const waiting = store.settled('e1');
   * store.close();
   * await waiting.catch((error: unknown) => error instanceof ClientClosedError); // true
   * ```
   * @param error - What the waits reject with; a `ClientClosedError` per wait by default.
   * @throws TypeError when `error` is given and is not an Error.
   */
  close(error?: Error): void {
    if (error !== undefined && !(error instanceof Error)) {
      throw new TypeError(`TaskStore.close(): expected \`error\` to be an Error or nothing, got ${describeValue(error)}`);
    }
    if (this.#closed) return;
    this.#closed = true;
    this.#closedWith = error;
    const ids = new Set([...(this.#waiters ?? NO_WAITERS).keys(), ...this.#watchers.keys(), ...this.#eventListeners.keys()]);
    // The waits reject (they can never have the final state now); the streams complete: the
    // close was asked for, and a subscriber with no error handler must not be taken down by it.
    for (const id of ids) this.#end(id, error ?? new ClientClosedError(id), true);
    this.#changes.complete();
    this.#diagnostics.complete();
    this.#resync.complete();
    this.#errors.complete();
  }

  /**
   * Lets go of a task that no longer changes (final, or given up with
   * {@link TaskStore.abandon}) and that nothing waits on or watches: `get()` answers
   * `undefined` for it afterwards, and a later event of it starts it again as a new task. A
   * client calls it once no `ExportTask` of the export is reachable any more, so that a
   * long-lived client holds only the tasks someone holds.
   *
   * @example
   * ```ts
   * await store.settled('e1');
   * store.forget('e1'); // true: final, and no one waits or watches
   * store.get('e1'); // undefined
   * ```
   * @returns Whether the task was let go (false for a task not final, waited on or watched, or unknown).
   */
  forget(exportId: string): boolean {
    const snapshot = this.#tasks.get(exportId);
    if (snapshot === undefined || !(isFinalPhase(snapshot.phase) || this.#abandoned?.has(exportId) === true)) return false;
    if (this.#waiters?.has(exportId) === true || this.#watchers.has(exportId) || this.#eventListeners.has(exportId)) return false;
    this.#tasks.delete(exportId);
    this.#held.delete(exportId);
    this.#resyncAsked.delete(exportId);
    this.#abandoned?.delete(exportId);
    return true;
  }

  /** Whether {@link TaskStore.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Folds every event of `source` into the store. Malformed events go to {@link TaskStore.errors$}
   * and the stream goes on; so does a source's own error (the subscription then ends).
   *
   * @returns The subscription; unsubscribe to stop.
   */
  connect(source: Observable<unknown>): Subscription {
    return source.subscribe({
      next: (input) => {
        try {
          this.apply(input);
        } catch (error) {
          if (!(error instanceof InvalidEventError)) throw error;
          this.#errors.next(error);
        }
      },
      error: (error: unknown) => this.#errors.next(error instanceof Error ? error : new Error(String(error))),
    });
  }

  /**
   * Calls `listener` with every event the store folds (in each task's `seq` order, as its
   * machine receives it) and the task's snapshots before and after it. For inspection.
   * @internal
   * @returns A function that removes the listener.
   */
  onStep(listener: StepListener): () => void {
    (this.#steps ??= new Set()).add(listener);
    return () => {
      this.#steps?.delete(listener);
      if (this.#steps?.size === 0) this.#steps = undefined;
    };
  }

  /** Reports an error to {@link TaskStore.errors$} (for sources that apply events themselves). */
  reportError(error: Error): void {
    this.#errors.next(error);
  }

  /** Whether any wait is pending on any task, and how many (for leak checks and sources that poll). */
  get pendingWaits(): number {
    let n = 0;
    if (this.#waiters !== undefined) for (const waiters of this.#waiters.values()) n += Array.isArray(waiters) ? waiters.length : 1;
    return n;
  }

  /**
   * The export ids of a product's tasks that are not final and that someone waits for or
   * watches: what a polling source must ask about, and nothing more. O(observed tasks).
   */
  observedPending(productId: string): string[] {
    const ids = new Set<string>();
    for (const map of [this.#waiters ?? NO_WAITERS, this.#watchers, this.#eventListeners] as const) {
      for (const id of map.keys()) {
        const snapshot = this.#tasks.get(id);
        if (snapshot !== undefined && snapshot.productId === productId && !isFinalPhase(snapshot.phase) && !this.#abandoned?.has(id)) ids.add(id);
      }
    }
    return [...ids];
  }

  /** Whether the store's shared wait timer is armed (for leak checks). */
  get timerArmed(): boolean {
    return this.#deadlines.armed;
  }

  /**
   * @internal `settled()` for a caller that checked its options already (`ExportTask`, through
   * `settledChecked` in `internal/waiters.ts`): a wait there pays for one check, not two. Not
   * part of the package's API (its key is not exported).
   */
  [SETTLED_CHECKED](exportId: string, timeout: number | undefined, signal: AbortSignal | undefined, lastCheck: LastCheck | undefined): Promise<ExportTaskSnapshot> {
    return this.#settled(exportId, timeout, signal, lastCheck);
  }

  /** @internal The same, resolving with nothing, and `undefined` instead of a promise when the task is final already. */
  [FINISHED_CHECKED](exportId: string, timeout: number | undefined, signal: AbortSignal | undefined, lastCheck: LastCheck | undefined): Promise<void> | undefined {
    return this.#finalNow(exportId) === undefined ? (this.#wait(exportId, timeout, signal, lastCheck, VoidWaiter) as Promise<unknown> as Promise<void>) : undefined;
  }

  #settled(
    exportId: string,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
    lastCheck: LastCheck | undefined,
  ): Promise<ExportTaskSnapshot> {
    const final = this.#finalNow(exportId);
    return final === undefined ? this.#wait(exportId, timeout, signal, lastCheck, Waiter) : Promise.resolve(final);
  }

  /** The task's snapshot if it is final now, else `undefined`. */
  #finalNow(exportId: string): ExportTaskSnapshot | undefined {
    const current = this.#tasks.get(exportId);
    return current !== undefined && isFinalPhase(current.phase) ? current : undefined;
  }

  /** How far the task's events are applied: its snapshot's `seq`, unless events came after it was final. */
  #cursorOf(snapshot: ExportTaskSnapshot): number {
    return this.#cursors.size === 0 ? snapshot.seq : (this.#cursors.get(snapshot.exportId) ?? snapshot.seq);
  }

  /**
   * Ends a watch begun on a task that can no longer become final: with the task's error when it
   * was abandoned, complete when the store was closed (as the watches open then did).
   * @returns Whether it ended the watch.
   */
  #endedWatch(exportId: string, subscriber: { error(error: Error): void; complete(): void }): boolean {
    const abandoned = this.#abandoned?.get(exportId);
    if (abandoned !== undefined) subscriber.error(abandoned);
    else if (this.#closed) subscriber.complete();
    else return false;
    return true;
  }

  /** Why a task not final can no longer become final (abandoned, or the store closed), else `undefined`. */
  #endOf(exportId: string): Error | undefined {
    const abandoned = this.#abandoned?.get(exportId);
    if (abandoned !== undefined) return abandoned;
    return this.#closed ? (this.#closedWith ?? new ClientClosedError(exportId)) : undefined;
  }

  /** Ends a task's waits and watchers with `error`. */
  #end(exportId: string, error: Error, complete = false): void {
    const all = this.#waiters;
    const waiters = all?.get(exportId);
    if (waiters !== undefined) {
      all!.delete(exportId);
      if (all!.size === 0) this.#waiters = undefined;
      for (const waiter of Array.isArray(waiters) ? waiters : [waiters]) {
        this.#detach(waiter);
        rejectWith(waiter, error);
      }
    }
    for (const map of [this.#watchers, this.#eventListeners] as const) {
      const subscribers = map.get(exportId);
      if (subscribers === undefined) continue;
      map.delete(exportId);
      for (const subscriber of subscribers instanceof Set ? [...subscribers] : [subscribers]) {
        if (complete) subscriber.complete();
        else subscriber.error(error);
      }
    }
  }

  /** A new wait on a task not final. */
  #wait(
    exportId: string,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
    lastCheck: LastCheck | undefined,
    Kind: typeof Waiter,
  ): Promise<ExportTaskSnapshot> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed || this.#abandoned !== undefined) {
      const ended = this.#endOf(exportId);
      if (ended !== undefined) return Promise.reject(ended);
    }
    const promise = newWaitPromise();
    const waiter = new Kind(exportId, takeResolve(), timeout, lastCheck);
    addWaiter((this.#waiters ??= new Map<string, Waiters>()), exportId, waiter);
    if (signal !== undefined) {
      waiter.abort = new AbortListener(signal, this.#aborts, waiter);
      signal.addEventListener('abort', waiter.abort, { once: true });
    }
    if (timeout !== undefined) this.#deadlines.insert(waiter, timeout);
    return promise;
  }

  /** A wait's deadline has passed: one last check, if it has one, then a TimeoutError unless that settled it. */
  async #timeOut(waiter: Waiter): Promise<void> {
    const { exportId, lastCheck } = waiter;
    if (lastCheck !== undefined) {
      try {
        await lastCheck.refresh();
      } catch (error) {
        if (this.#release(waiter)) rejectWith(waiter, error);
        return;
      }
    }
    // Settled meanwhile (by the last check or by the stream): the waiter is already released.
    if (this.#release(waiter)) rejectWith(waiter, new TimeoutError(waiter.timeout!, this.#tasks.get(exportId)));
  }

  /** Detaches a waiter from everything it holds; false once released already (the caller then leaves it). */
  #release(waiter: Waiter): boolean {
    const exportId = waiter.exportId;
    const all = this.#waiters;
    const waiters = all?.get(exportId);
    if (waiters === undefined) return false;
    if (waiters === waiter) {
      all!.delete(exportId);
    } else {
      const i = Array.isArray(waiters) ? waiters.indexOf(waiter) : -1;
      if (i < 0) return false;
      (waiters as Waiter[]).splice(i, 1);
      if ((waiters as Waiter[]).length === 0) all!.delete(exportId);
    }
    if (all!.size === 0) this.#waiters = undefined;
    this.#detach(waiter);
    return true;
  }

  #detach(waiter: Waiter): void {
    // A no-op for a deadline that has fired.
    if (waiter.timeout !== undefined) this.#deadlines.cancel(waiter);
    if (waiter.abort !== undefined) waiter.abort.signal.removeEventListener('abort', waiter.abort);
  }

  /**
   * Applies one event that comes next in the task's order; its step and event listeners are
   * told once the call's result is committed (`#tell`).
   */
  #step(snapshot: ExportTaskSnapshot, event: TaskEvent, owned = false): ExportTaskSnapshot {
    if (isFinalPhase(snapshot.phase)) {
      const terminal = event.type === 'succeeded' || event.type === 'failed' || (event.type === 'snapshot' && isFinalPhase(event.phase));
      const outcome = event.type === 'succeeded' ? 'success' : event.type === 'failed' ? 'failure' : event.type === 'snapshot' ? event.phase : undefined;
      this.#diagnose(terminal && outcome !== snapshot.phase ? 'conflict' : 'after-final', event);
    }
    const next = advance(snapshot, event, owned);
    if (event.type === 'snapshot') {
      const held = this.#held.get(event.export_id);
      if (held !== undefined) for (const seq of held.keys()) if (seq <= event.seq) held.delete(seq);
    }
    // A final snapshot never changes (advance answers it as it is): only the cursor moves, kept apart.
    if (next === snapshot && next.seq !== event.seq) this.#cursors.set(event.export_id, event.seq);
    // `#steps` is undefined unless someone inspects the store: one comparison on the hot path.
    if (this.#steps !== undefined || (this.#eventListeners.size !== 0 && this.#eventListeners.has(event.export_id))) {
      this.#told.push({ event, before: snapshot, after: next });
    }
    return next;
  }

  /** Tells the step and event listeners of the events just committed, in order. */
  #tell(): void {
    const told = this.#told.splice(0);
    for (const { event, before, after } of told) {
      if (this.#steps !== undefined) for (const listener of [...this.#steps]) listener(event, before, after);
      const subscribers = this.#eventListeners.size === 0 ? undefined : this.#eventListeners.get(event.export_id);
      if (subscribers === undefined) continue;
      const final = isFinalPhase(after.phase);
      for (const subscriber of subscribers instanceof Set ? [...subscribers] : [subscribers]) {
        subscriber.next(event);
        if (final) subscriber.complete();
      }
    }
  }

  /** Completes the task's `appliedEvents()` streams. */
  #completeEvents(exportId: string): void {
    const subscribers = this.#eventListeners.get(exportId);
    if (subscribers === undefined) return;
    for (const subscriber of subscribers instanceof Set ? [...subscribers] : [subscribers]) subscriber.complete();
  }

  #hold(snapshot: ExportTaskSnapshot, event: TaskEvent): void {
    const id = event.export_id;
    let held = this.#held.get(id);
    if (held === undefined) this.#held.set(id, (held = new Map<number, TaskEvent>()));
    if (held.size < this.#maxHeld) {
      held.set(event.seq, event);
      // A held end: the task has ended, but a gap keeps its end from applying, and nothing
      // may ever fill it (a lost event). Only a snapshot can tell what happened in between, so
      // it is asked for now rather than once the held events overflow: a wait on the task must
      // not hang on the gap.
      if (event.type === 'succeeded' || event.type === 'failed') this.#askResync(snapshot);
      return;
    }
    this.#diagnose('overflow', event);
    this.#askResync(snapshot);
  }

  /** Asks the source for a snapshot of the task, once per gap; a final task no longer changes, so it is not asked for. */
  #askResync(snapshot: ExportTaskSnapshot): void {
    const id = snapshot.exportId;
    if (this.#resyncAsked.has(id) || isFinalPhase(snapshot.phase)) return;
    this.#resyncAsked.add(id);
    this.#resync.next({ productId: snapshot.productId, exportId: id, seq: this.#cursorOf(snapshot) });
  }

  #drain(snapshot: ExportTaskSnapshot, held: Map<number, TaskEvent>): ExportTaskSnapshot {
    let next = held.get(this.#cursorOf(snapshot) + 1);
    while (next !== undefined) {
      held.delete(next.seq);
      snapshot = this.#step(snapshot, next);
      next = held.get(next.seq + 1);
    }
    if (held.size === 0) {
      this.#held.delete(snapshot.exportId);
      this.#resyncAsked.delete(snapshot.exportId);
    }
    return snapshot;
  }

  #commit(snapshot: ExportTaskSnapshot): void {
    const id = snapshot.exportId;
    this.#tasks.set(id, snapshot);
    if (this.#changes.observed) this.#changes.next(snapshot);
    const final = isFinalPhase(snapshot.phase);
    const watchers = this.#watchers.size === 0 ? undefined : this.#watchers.get(id);
    if (watchers !== undefined) {
      if (watchers instanceof Set) for (const watcher of [...watchers]) tell(watcher, snapshot, final);
      else tell(watchers, snapshot, final);
    }
    if (!final) return;
    // Held events stay held once final: they no longer change the snapshot, but they still move
    // the store's cursor when their gap fills (so a duplicate is told from a late event) and a
    // conflicting terminal event among them must still be reported. Holding stays bounded by `maxHeld`.
    const all = this.#waiters;
    const waiters = all?.get(id);
    if (waiters === undefined) return;
    all!.delete(id);
    if (all!.size === 0) this.#waiters = undefined;
    if (!Array.isArray(waiters)) {
      this.#detach(waiters);
      waiters.settle(snapshot);
      return;
    }
    for (const waiter of waiters) {
      this.#detach(waiter);
      waiter.settle(snapshot);
    }
  }

  #diagnose(kind: TaskDiagnostic['kind'], event: TaskEvent): void {
    if (!this.#diagnostics.observed) return;
    this.#diagnostics.next({ kind, productId: event.product_id, exportId: event.export_id, seq: event.seq, type: event.type });
  }
}

function addTo<T extends object>(map: Map<string, Listeners<T>>, id: string, listener: T): void {
  // Most tasks have one watcher: it is kept as it is, without a set.
  const listeners = map.get(id);
  if (listeners === undefined) map.set(id, listener);
  else if (listeners instanceof Set) listeners.add(listener);
  else map.set(id, new Set([listeners, listener]));
}

function removeFrom<T extends object>(map: Map<string, Listeners<T>>, id: string, listener: T): void {
  const listeners = map.get(id);
  if (listeners === listener) {
    map.delete(id);
  } else if (listeners instanceof Set) {
    listeners.delete(listener);
    if (listeners.size === 0) map.delete(id);
  }
}

/** Tells a watcher of a change, and that it was the last once the task is final. */
function tell(watcher: Watcher, snapshot: ExportTaskSnapshot, final: boolean): void {
  watcher.next(snapshot);
  if (final) watcher.complete();
}

function addWaiter(map: Map<string, Waiters>, id: string, waiter: Waiter): void {
  // Most tasks have one wait: it is kept as it is, without an array.
  const waiters = map.get(id);
  if (waiters === undefined) map.set(id, waiter);
  else if (Array.isArray(waiters)) waiters.push(waiter);
  else map.set(id, [waiters, waiter]);
}
