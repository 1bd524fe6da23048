/**
 * The wait machinery of `TaskStore.settled()`: one object per wait, no closure of its own (the
 * costs are in BENCHMARKS.md, goal 2).
 */
import type { ExportTaskSnapshot } from '../snapshot.js';
import type { Deadline } from './deadline-queue.js';

/**
 * What a wait runs at its deadline before it times out: one more look at the task. An object
 * with a method, not a function, so that a caller such as `ExportTask` can pass itself
 * (BENCHMARKS.md, goal 2).
 */
export interface LastCheck {
  refresh(): Promise<unknown>;
}

type Resolve = (value: ExportTaskSnapshot | PromiseLike<ExportTaskSnapshot>) => void;

/**
 * One pending wait. With a timeout it is its own entry in the store's deadline queue (`at` and
 * its links). It keeps the resolving function of its promise only (see {@link rejectWith}), and
 * abort bookkeeping only when there is a signal (BENCHMARKS.md, goal 2).
 */
export class Waiter implements Deadline {
  at = 0;
  prev: Deadline['prev'] = null;
  next: Deadline['next'] = null;
  abort: AbortListener | undefined = undefined;

  constructor(
    readonly exportId: string,
    readonly resolve: Resolve,
    readonly timeout: number | undefined,
    readonly lastCheck: LastCheck | undefined,
  ) {}

  /** Resolves the wait with the final snapshot. */
  settle(snapshot: ExportTaskSnapshot): void {
    this.resolve(snapshot);
  }
}

/** A wait whose promise resolves with nothing (`ExportTask.getResult()`): no `then` to drop the snapshot. */
export class VoidWaiter extends Waiter {
  override settle(): void {
    this.resolve(undefined as never);
  }
}

/**
 * Rejects a wait's promise through its resolving function: a promise resolved with a thenable
 * that rejects is rejected with the same reason (so no wait keeps a rejecting function).
 */
export function rejectWith(waiter: Waiter, reason: unknown): void {
  waiter.resolve({ then: (_resolve: unknown, reject: (reason: unknown) => void) => reject(reason) } as PromiseLike<never>);
}

/** Who an aborted wait is reported to: the store that holds it. */
export interface AbortTarget {
  abortWait(waiter: Waiter): void;
}

/** A wait's listener on its abort signal (an `EventListener` object: no closure). */
export class AbortListener {
  constructor(
    readonly signal: AbortSignal,
    readonly target: AbortTarget,
    readonly waiter: Waiter,
  ) {}

  handleEvent(): void {
    this.target.abortWait(this.waiter);
  }
}

// The resolving function of the promise being made: a shared executor stores it here, so that a
// wait allocates no executor closure of its own.
let captured: Resolve | undefined;
function capture(resolve: Resolve): void {
  captured = resolve;
}

/** A wait's promise, made with a shared executor; take its resolving function with {@link takeResolve} at once. */
export function newWaitPromise(): Promise<ExportTaskSnapshot> {
  return new Promise<ExportTaskSnapshot>(capture);
}

/** The resolving function of the promise {@link newWaitPromise} just made, not kept here past this call. */
export function takeResolve(): Resolve {
  const resolve = captured!;
  captured = undefined;
  return resolve;
}

/** The keys of a store's waits for callers that checked their options already: symbols the package does not export. */
export const SETTLED_CHECKED: unique symbol = Symbol('export-task settled, checked');
/** See {@link SETTLED_CHECKED}. */
export const FINISHED_CHECKED: unique symbol = Symbol('export-task finished, checked');

/** A store, as far as the checked waits go: the small interface `ExportTask` waits through. */
export interface HasCheckedWaits {
  [SETTLED_CHECKED](exportId: string, timeout: number | undefined, signal: AbortSignal | undefined, lastCheck: LastCheck | undefined): Promise<ExportTaskSnapshot>;
  [FINISHED_CHECKED](exportId: string, timeout: number | undefined, signal: AbortSignal | undefined, lastCheck: LastCheck | undefined): Promise<void> | undefined;
}

/**
 * `store.settled()` for a caller that checked the options already (`ExportTask`): a wait there
 * pays for one check, not two.
 */
export function settledChecked(
  store: HasCheckedWaits,
  exportId: string,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
  lastCheck: LastCheck | undefined,
): Promise<ExportTaskSnapshot> {
  return store[SETTLED_CHECKED](exportId, timeout, signal, lastCheck);
}

/**
 * {@link settledChecked} resolving with nothing (for `ExportTask.getResult()`), answering
 * `undefined` instead of a promise when the task is final already.
 */
export function finishedChecked(
  store: HasCheckedWaits,
  exportId: string,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
  lastCheck: LastCheck | undefined,
): Promise<void> | undefined {
  return store[FINISHED_CHECKED](exportId, timeout, signal, lastCheck);
}
