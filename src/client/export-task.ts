import { defer, type Observable } from 'rxjs';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { exportTaskMachine, type ExportTaskMachine } from '../../machines/export-task.js';
import { NoResultError, TransientResultError } from '../core/errors.js';
import { isFinalPhase } from '../core/events.js';
import type { ExportTaskAttributes, ExportTaskSnapshot } from '../core/snapshot.js';
import { finishedChecked, settledChecked } from '../core/internal/waiters.js';
import { checkBoolean, checkMilliseconds, checkOptionBag, checkSignal } from '../internal/options.js';
import type { ClientRuntime } from './client-runtime.js';
import { downloadTo, type FileTarget } from './download.js';

/**
 * Options of {@link ExportTask.getResult}.
 *
 * @example
 * ```ts
 * await task.getResult({ wait: true, timeout: 60_000, signal: AbortSignal.timeout(90_000) } satisfies GetResultOptions);
 * ```
 */
export interface GetResultOptions {
  /**
   * Wait until the task is final. When false, answer at once: resolve if final (after one
   * refresh), else reject with {@link TransientResultError}.
   * @defaultValue false (as the DL client)
   */
  readonly wait?: boolean | undefined;
  /**
   * With `wait: true`: how long to wait, in ms, before rejecting with `TimeoutError` (after a
   * last check at the deadline; `0` checks once).
   * @defaultValue the client's `waitTimeout` (unlimited unless set)
   */
  readonly timeout?: number | undefined;
  /**
   * Aborts the wait (rejecting with the signal's reason) without cancelling the task.
   * With `AbortSignal.timeout(ms)` the rejection is a `DOMException` also named `TimeoutError`, not this package's `TimeoutError`: tell them apart with `instanceof` or `error.code` (`'EXPORT_TASK_TIMEOUT'`), never `error.name`.
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Options of {@link ExportTask.getFile}.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * setTimeout(() => controller.abort(new Error('too slow')), 30_000);
 * await task.getFile('roads.ndjson', { signal: controller.signal } satisfies GetFileOptions);
 * ```
 */
export interface GetFileOptions {
  /**
   * Aborts the download; a file target is then left as it was. With `AbortSignal.timeout(ms)`
   * the rejection is a `DOMException` named `TimeoutError`: check errors with `instanceof` or
   * `error.code`, never `error.name`.
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Options of {@link ExportTask.actor}.
 *
 * @example
 * ```ts
 * const actor = task.actor({ inspect: (event) => console.log(event.type) } satisfies TaskActorOptions);
 * actor.subscribe((snapshot) => console.log(snapshot.value));
 * ```
 */
export interface TaskActorOptions {
  /**
   * XState inspection of this actor, as `createActor`'s `inspect`. (The client's own `inspect`
   * already sees every task, so it is not the default: the task would show twice.)
   */
  readonly inspect?: ((event: InspectionEvent) => void) | undefined;
}

const GET_RESULT_OPTIONS = ['wait', 'timeout', 'signal'] as const;

/** What `getResult()` answers for a task already final. */
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * One export job on the backend, tracked live. Never constructed by hand: it comes from
 * `FeatureCollection.export()` or `listExports()`.
 *
 * `ready`, `snapshot` and `state$` never wait. The attributes (`status`, `runtime`, ...) are
 * promises that settle once the task is final (bounded by the client's `waitTimeout`).
 *
 * @example
 * ```ts
 * const task = await client.featureCollection('roads').export('exports/roads.ndjson', { query: {} });
 * task.state$.subscribe((s) => console.log(s.phase, s.progress));
 * await task.getResult({ wait: true, timeout: 60_000 });
 * if (await task.isSuccess) await task.getFile('roads.ndjson');
 * else console.error(await task.failureType, await task.stacktrace);
 * ```
 */
export class ExportTask {
  /** The product (feature collection) id. */
  readonly guid: string;
  /** The export id. */
  readonly tuid: string;
  readonly #runtime: ClientRuntime;
  readonly #key: string | undefined;

  /** @internal */
  constructor(runtime: ClientRuntime, productId: string, exportId: string, key: string | undefined) {
    this.#runtime = runtime;
    this.guid = productId;
    this.tuid = exportId;
    this.#key = key;
  }

  /** The export id (same as `tuid`). */
  get exportId(): string {
    return this.tuid;
  }

  /** The storage key of the exported file: the one given to `export()`, else `labels[3]`. */
  get key(): string | undefined {
    if (this.#key !== undefined) return this.#key;
    const attributes = this.#runtime.store.get(this.tuid)?.attributes;
    return attributes?.key ?? attributes?.labels?.[3] ?? undefined;
  }

  /** Whether the task is final, as last known (no request). */
  get ready(): boolean {
    return isFinalPhase(this.snapshot.phase);
  }

  /** What is known of the task now (no request). */
  get snapshot(): ExportTaskSnapshot {
    return this.#runtime.store.get(this.tuid) ?? this.#runtime.store.track(this.guid, this.tuid);
  }

  /**
   * The current snapshot, then each change; completes once the task is final, and when the
   * client is closed (its waits then reject with `ClientClosedError`). It errors with
   * `ExportLostError` when the backend lost the export (give `subscribe` an `error` handler). Cold: reading `state$` opens nothing; the product's event stream is opened when
   * it is first subscribed to (and kept until `client.close()`).
   */
  get state$(): Observable<ExportTaskSnapshot> {
    // Cold: reading the property opens nothing; each subscription watches the product then.
    return defer(() => {
      this.#runtime.watchProduct(this.guid);
      this.#runtime.store.track(this.guid, this.tuid);
      return this.#runtime.store.watch(this.tuid);
    });
  }

  /**
   * Asks the backend once for the task's state and answers the updated snapshot.
   *
   * @example
   * ```ts
   * const snapshot = await task.refresh({ signal: AbortSignal.timeout(10_000) });
   * ```
   * @throws TypeError (rejection) for an unknown option or a bad `signal`.
   */
  refresh(options?: { readonly signal?: AbortSignal | undefined }): Promise<ExportTaskSnapshot> {
    try {
      checkOptionBag('ExportTask.refresh()', options, ['signal']);
      return this.#runtime.refresh(this.guid, this.tuid, checkSignal('ExportTask.refresh()', options?.signal));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `'SUCCESS'` or `'FAILURE'`, once final. */
  get status(): Promise<'SUCCESS' | 'FAILURE'> {
    return this.#attributes().then((a) => a.status);
  }

  /** Whether the task succeeded, once final. */
  get isSuccess(): Promise<boolean> {
    return this.#attributes().then((a) => a.status === 'SUCCESS');
  }

  /** The name of the exception the job raised, if any (same as `exceptionName`). */
  get exception(): Promise<string | null> {
    return this.exceptionName;
  }

  /** The name of the exception the job raised, if any. */
  get exceptionName(): Promise<string | null> {
    return this.#attributes().then((a) => a.exceptionName);
  }

  /** Why the task failed (`exception`, `oom`, `timeout`, `cancelled`, `internal`, ...), or null. */
  get failureType(): Promise<string | null> {
    return this.#attributes().then((a) => a.failureType);
  }

  /** The task's log (its lines joined by `\n`), or null when it logged nothing. */
  get log(): Promise<string | null> {
    return this.#final().then((s) => (s.log.length === 0 ? null : s.log.join('\n')));
  }

  /** Peak memory the job used, in bytes, or null when unknown. */
  get peakMemoryUsage(): Promise<number | null> {
    return this.#attributes().then((a) => a.peakMemoryUsage);
  }

  /** CPU seconds the job used, or null when unknown. */
  get runtime(): Promise<number | null> {
    return this.#attributes().then((a) => a.runtime);
  }

  /** The stack trace of the job's exception, if any (same as `traceback`). */
  get stacktrace(): Promise<string | null> {
    return this.#attributes().then((a) => a.stacktrace);
  }

  /** The stack trace of the job's exception, if any. */
  get traceback(): Promise<string | null> {
    return this.stacktrace;
  }

  /**
   * Export tasks have no result: this always throws.
   * @throws {@link NoResultError}
   */
  get result(): never {
    throw new NoResultError();
  }

  /**
   * Loads the task's outcome. After it resolves, the attributes resolve at once.
   *
   * @example
   * ```ts
   * await task.getResult({ wait: true, timeout: 30_000, signal: AbortSignal.timeout(60_000) });
   * ```
   * @throws TypeError at once for an unknown option, a negative `timeout`, or `timeout` without `wait: true`.
   * @throws {@link TransientResultError} (rejection) with `wait: false` when the task is not final.
   * @throws {@link TimeoutError} (rejection) when `timeout` passes first; it carries the last snapshot.
   */
  getResult(options?: GetResultOptions): Promise<void> {
    // Not an `async` function: a wait is one store promise and one `then`, which matters with
    // thousands of waits (BENCHMARKS.md, goal 2). Bad arguments still reject, never throw.
    let wait: boolean;
    let timeout: number | undefined;
    let signal: AbortSignal | undefined;
    try {
      const where = 'ExportTask.getResult()';
      checkOptionBag(where, options, GET_RESULT_OPTIONS);
      wait = checkBoolean(where, 'wait', options?.wait) ?? false;
      timeout = checkMilliseconds(where, 'timeout', options?.timeout);
      signal = checkSignal(where, options?.signal);
      if (!wait && timeout !== undefined) {
        throw new TypeError(`${where}: \`timeout\` only applies when waiting; pass \`wait: true\` with it`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (!wait) return this.#checkOnce(signal);
    // The wait is made before the product's stream is watched: events that watching applies at
    // once then settle it.
    const finished = finishedChecked(this.#runtime.store, this.tuid, timeout ?? this.#runtime.waitTimeout, signal, this);
    if (finished === undefined) return RESOLVED;
    this.#runtime.watchProduct(this.guid);
    return finished;
  }

  /** `getResult({ wait: false })`: final now, or after one refresh, or not ready. */
  async #checkOnce(signal: AbortSignal | undefined): Promise<void> {
    if (this.ready) return;
    signal?.throwIfAborted();
    const snapshot = await this.refresh();
    if (!isFinalPhase(snapshot.phase)) throw new TransientResultError('Result not yet ready', snapshot);
  }

  /**
   * Downloads the exported file: to a path (written atomically: a temporary file in the same
   * directory, renamed once complete and verified; Node only), a Node writable stream or a WHATWG
   * `WritableStream`. The size and SHA-256 the backend reported are verified.
   *
   * @throws {@link TransientResultError} (rejection) unless the task has succeeded.
   * @throws DownloadVerificationError (rejection) when the downloaded bytes do not match the reported size or SHA-256.
   */
  async getFile(target: FileTarget, options?: GetFileOptions): Promise<void> {
    const where = 'ExportTask.getFile()';
    checkOptionBag(where, options, ['signal']);
    const signal = checkSignal(where, options?.signal);
    if (typeof target === 'string' && target.length === 0) throw new TypeError(`${where}: expected a non-empty path`);
    if (typeof target === 'string' && this.#runtime.openFile === undefined) {
      throw new TypeError(`${where}: a path target needs Node's file system; in a browser give a WritableStream<Uint8Array> (such as a file handle's createWritable())`);
    }
    let snapshot = this.snapshot;
    if (!isFinalPhase(snapshot.phase)) snapshot = await this.refresh();
    const attributes = snapshot.attributes;
    if (attributes === null) {
      throw new TransientResultError(`Result not yet ready: export ${this.tuid} is ${snapshot.phase}, so there is no file yet`, snapshot);
    }
    if (attributes.status !== 'SUCCESS') {
      throw new TransientResultError(
        `Export ${this.tuid} failed (${attributes.failureType ?? 'unknown'}${attributes.exceptionName ? `: ${attributes.exceptionName}` : ''}), so there is no file to download`,
        snapshot,
      );
    }
    const key = attributes.key ?? this.key;
    if (key === undefined) throw new TransientResultError(`Export ${this.tuid} succeeded but its storage key is unknown`, snapshot);
    this.#runtime.assertOpen();
    const body = await this.#runtime.backend.readFile(key, { signal });
    await downloadTo(body, target, { size: attributes.sizeBytes, sha256: attributes.sha256, signal, key }, this.#runtime.openFile);
  }

  /** Asks the backend to cancel the export. A final task is left as it is. */
  async cancel(): Promise<void> {
    this.#runtime.assertOpen();
    if (this.ready) return;
    await this.#runtime.backend.cancel(this.guid, this.tuid);
  }

  /**
   * A real XState actor of this task (for inspection or `@xstate/react`), restored from the
   * task's snapshot and fed the same events as the store from then on. It stops following
   * the task when the task is final, when the actor is stopped, or when the task can no longer
   * be followed (the client closed, the export lost).
   *
   * Each call makes another actor: call it once and keep the actor (stop it when done), not in
   * a React render, where `useSelector(task.actor(), ...)` would start an actor per render. In
   * React, `useTaskActor(task)` from `export-task/react` keeps one actor per task and stops it
   * when the last component using it unmounts.
   */
  actor(options?: TaskActorOptions): Actor<ExportTaskMachine> {
    checkOptionBag('ExportTask.actor()', options, ['inspect']);
    this.#runtime.watchProduct(this.guid);
    const { phase, seq: _seq, ...context } = this.snapshot;
    const inspect = options?.inspect;
    const actor = createActor(exportTaskMachine, {
      snapshot: exportTaskMachine.resolveState({ value: phase, context }),
      input: { productId: this.guid, exportId: this.tuid },
      ...(inspect === undefined ? {} : { inspect }),
    });
    // A task that can no longer be followed (the client closed, the export lost) ends the feed;
    // the actor keeps the state it reached.
    const feed = this.#runtime.store.appliedEvents(this.tuid).subscribe({ next: (event) => actor.send(event), error: () => undefined });
    actor.subscribe({ complete: () => feed.unsubscribe(), error: () => feed.unsubscribe() });
    actor.start();
    return actor;
  }

  /** A plain description, for logs and `JSON.stringify`. */
  toJSON(): { guid: string; tuid: string; key: string | undefined; snapshot: ExportTaskSnapshot } {
    return { guid: this.guid, tuid: this.tuid, key: this.key, snapshot: this.snapshot };
  }

  /** @internal Waits until final, with the store's shared timer and a last check at the deadline. */
  waitFinal(timeout: number | undefined, signal: AbortSignal | undefined): Promise<ExportTaskSnapshot> {
    return this.#final(timeout, signal);
  }

  #final(timeout: number | undefined = this.#runtime.waitTimeout, signal?: AbortSignal): Promise<ExportTaskSnapshot> {
    const current = this.snapshot;
    if (isFinalPhase(current.phase)) return Promise.resolve(current);
    this.#runtime.watchProduct(this.guid);
    return settledChecked(this.#runtime.store, this.tuid, timeout, signal, this);
  }

  #attributes(): Promise<ExportTaskAttributes> {
    return this.#final().then((s) => s.attributes!);
  }
}
