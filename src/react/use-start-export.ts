import { useCallback, useEffect, useRef, useState } from 'react';
import type { ExportOptions } from '../client/feature-collection.js';
import type { ExportTaskSnapshot } from '../core/snapshot.js';
import { checkOptionBag } from '../internal/options.js';
import { describe } from './internal/describe.js';
import { useExportTask, type ObservableTask } from './use-export-task.js';

/**
 * What {@link useStartExport} needs of a task: what every `ExportTask` has.
 *
 * @example
 * ```ts
 * const task: StartedTask = await roads.export('exports/roads.ndjson'); // an ExportTask fits
 * if (!task.ready) await task.cancel();
 * ```
 */
export interface StartedTask extends ObservableTask {
  /** Whether the task is final, as last known. */
  readonly ready: boolean;
  /** Asks the service to cancel the export. */
  cancel(): Promise<void>;
}

/**
 * What {@link useStartExport} needs of a feature collection: its `export` method. (Structural,
 * so the hook answers the very task type the collection makes: `ExportTask` for a
 * `FeatureCollection`.)
 *
 * @example
 * ```ts
 * const starter: ExportStarter<ExportTask> = client.featureCollection('roads'); // a FeatureCollection fits
 * const { start } = useStartExport(starter);
 * ```
 */
export interface ExportStarter<TTask extends StartedTask> {
  /** Starts an export to `key` and answers its task (as `FeatureCollection.export()`). */
  export(key: string, options?: ExportOptions): Promise<TTask>;
}

/**
 * What one start was called with: the arguments of `FeatureCollection.export()`.
 *
 * @example
 * ```ts
 * const onSuccess = (task: ExportTask, { key }: StartVariables) => console.log(`${key}: ${task.exportId}`);
 * ```
 */
export interface StartVariables {
  /** The storage key the export writes to. */
  readonly key: string;
  /** The options of `export()`, as given. */
  readonly options: ExportOptions | undefined;
}

/**
 * Callbacks of one start's outcome, as TanStack Query's `useMutation` takes them: `onSuccess`
 * when the service started the export (not when the export succeeds: that is the task's own
 * `phase`), `onError` when the request failed, `onSettled` after either.
 *
 * @example
 * ```ts
 * const callbacks: StartCallbacks<ExportTask> = {
 *   onSuccess: (task) => console.log('started', task.exportId),
 *   onError: (error) => console.error(error.name, error.message),
 * };
 * ```
 */
export interface StartCallbacks<TTask> {
  /** Called with the started task once the service has started the export. */
  readonly onSuccess?: ((task: TTask, variables: StartVariables) => void) | undefined;
  /** Called with the error when the request failed (or the arguments were wrong). */
  readonly onError?: ((error: Error, variables: StartVariables) => void) | undefined;
  /** Called after `onSuccess` or `onError`, with the task or the error. */
  readonly onSettled?: ((task: TTask | undefined, error: Error | null, variables: StartVariables) => void) | undefined;
}

/**
 * Options of {@link useStartExport}: its callbacks (called for every start that settles while the
 * component is mounted) and `cancelOnUnmount`.
 *
 * @example
 * ```ts
 * const { start, snapshot } = useStartExport(roads, {
 *   cancelOnUnmount: true,
 *   onError: (error) => console.error(error.message),
 * } satisfies StartExportOptions<ExportTask>);
 * ```
 */
export interface StartExportOptions<TTask = StartedTask> extends StartCallbacks<TTask> {
  /**
   * Cancel the tracked export when the component unmounts (and an export whose request was
   * still in flight as soon as it is created), unless it is already final. Leave it off when the
   * export should go on while the user looks elsewhere.
   * @defaultValue false
   */
  readonly cancelOnUnmount?: boolean | undefined;
}

/**
 * Where the latest start is, as TanStack Query's mutation status: `idle` before any (or after
 * `reset`), `pending` while its request is in flight, `success` once the service started the
 * export, `error` when the request failed. The export's own progress is `snapshot`.
 *
 * @example
 * ```ts
 * const label: Record<StartStatus, string> = { idle: 'Export', pending: 'Starting…', success: 'Started', error: 'Retry' };
 * ```
 */
export type StartStatus = 'idle' | 'pending' | 'success' | 'error';

/**
 * What {@link useStartExport} answers: the shape of TanStack Query's `useMutation` result, with
 * the started task and its live snapshot.
 *
 * @example
 * ```ts
 * const { start, startAsync, status, isPending, task, snapshot, error, reset }: StartExport<ExportTask> = useStartExport(roads);
 * if (snapshot?.phase === 'success') void task?.getFile(new WritableStream());
 * ```
 */
export interface StartExport<TTask extends StartedTask> {
  /**
   * Starts an export of the collection (the arguments of `FeatureCollection.export()`) and
   * tracks it, like `mutate`: it returns nothing and never throws or rejects; the outcome is in
   * `status`, `task` and `error`, and goes to the callbacks (the hook's, then `callbacks`' for the
   * latest call only). A call supersedes the ones before it: only the latest call's outcome
   * becomes `task` or `error`. Called after unmount, it starts nothing.
   */
  readonly start: (key: string, options?: ExportOptions, callbacks?: StartCallbacks<TTask>) => void;
  /**
   * The same, like `mutateAsync`: resolves with the task, and rejects with the request's error
   * (also kept in `error`), or with an `Error` when called after unmount (nothing is started).
   */
  readonly startAsync: (key: string, options?: ExportOptions) => Promise<TTask>;
  /** See {@link StartStatus}. */
  readonly status: StartStatus;
  /** `status === 'idle'`. */
  readonly isIdle: boolean;
  /** `status === 'pending'`: the latest start's request is in flight. */
  readonly isPending: boolean;
  /** `status === 'success'`: the export was started (see `snapshot` for how it goes). */
  readonly isSuccess: boolean;
  /** `status === 'error'`: the latest start failed (see `error`). */
  readonly isError: boolean;
  /** The export started by the latest successful start, or `undefined` before one (`useMutation`'s `data`). */
  readonly data: TTask | undefined;
  /** The same as `data`. */
  readonly task: TTask | undefined;
  /** The task's snapshot, kept current as with {@link useExportTask}. */
  readonly snapshot: ExportTaskSnapshot | undefined;
  /** Why the latest start failed (a `TypeError` for bad arguments, an `HttpError`, ...), or `null`. */
  readonly error: Error | null;
  /** What the latest start was called with, or `undefined` when idle. */
  readonly variables: StartVariables | undefined;
  /** Back to `idle`: forgets the task, the error and the variables (the export itself goes on). */
  readonly reset: () => void;
}

interface State<TTask> {
  readonly status: StartStatus;
  readonly task: TTask | undefined;
  readonly error: Error | null;
  readonly variables: StartVariables | undefined;
}

const IDLE: State<never> = { status: 'idle', task: undefined, error: null, variables: undefined };
const OPTION_NAMES = ['cancelOnUnmount', 'onSuccess', 'onError', 'onSettled'] as const;

/**
 * Starts exports of a feature collection from a component and tracks the latest one, in the
 * shape React users know from TanStack Query's `useMutation`: `start` (`mutate`), `startAsync`
 * (`mutateAsync`), `status` with `isPending` and the other flags, `data`, `error`, `reset`, and
 * the callbacks; plus the started `task` and its live `snapshot`.
 *
 * `status` says where the start request is. Once it is `success`, the export runs on the service:
 * its phase and progress are in `snapshot` (`snapshot.phase === 'failure'` is an export that
 * failed, with `status` still `success`, as the request did).
 *
 * Unmounting stops all tracking at once: the snapshot subscription ends, and a request still in
 * flight changes no state and calls no callback when it answers (an export request cannot be cut
 * halfway without leaving the export's fate unknown, so it is let finish). With
 * `cancelOnUnmount`, the tracked export, and one whose request was in flight, is also cancelled
 * on the service.
 *
 * @example
 * ```tsx
 * import { useStartExport } from 'export-task/react';
 *
 * function ExportButton({ roads }: { roads: FeatureCollection }) {
 *   const { start, snapshot, error, isPending } = useStartExport(roads, { onSuccess: (task) => console.log('started', task.exportId) });
 *   return (
 *     <>
 *       <button disabled={isPending} onClick={() => start('exports/highways.ndjson', { query: { query_expr: { eq: { kind: 'highway' } } } })}>
 *         Export highways
 *       </button>
 *       {snapshot && <progress value={snapshot.progress} max={1} />}
 *       {error && <p role="alert">{error.message}</p>}
 *     </>
 *   );
 * }
 * ```
 * @param featureCollection - The product to export from (`client.featureCollection(id)`).
 * @param options - See {@link StartExportOptions}.
 * @returns See {@link StartExport}.
 * @throws TypeError during render when `featureCollection` has no `export` method or an option is unknown or of the wrong type.
 */
export function useStartExport<TTask extends StartedTask>(
  featureCollection: ExportStarter<TTask>,
  options?: StartExportOptions<TTask>,
): StartExport<TTask> {
  checkArguments(featureCollection, options);
  const [state, setState] = useState<State<TTask>>(IDLE);
  const mounted = useRef(false);
  const latestCall = useRef(0);
  const tracked = useRef<TTask | undefined>(undefined);
  // The latest options, read when a request answers: callbacks may be inline arrows.
  const optionsRef = useRef(options);
  optionsRef.current = options;

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      const task = tracked.current;
      if (optionsRef.current?.cancelOnUnmount === true && task !== undefined) cancelQuietly(task);
    };
  }, []);

  /** Runs one start; answers its outcome (never rejects), having updated state and called the callbacks. */
  const run = useCallback(
    async (key: string, exportOptions: ExportOptions | undefined, callbacks: StartCallbacks<TTask> | undefined): Promise<{ task: TTask } | { error: Error }> => {
      const call = ++latestCall.current;
      const variables: StartVariables = { key, options: exportOptions };
      setState((s) => ({ status: 'pending', task: s.task, error: null, variables }));
      let outcome: { task: TTask } | { error: Error };
      try {
        outcome = { task: await featureCollection.export(key, exportOptions) };
      } catch (error) {
        outcome = { error: asError(error) };
      }
      if (!mounted.current) {
        if ('task' in outcome && optionsRef.current?.cancelOnUnmount === true) cancelQuietly(outcome.task);
        return outcome;
      }
      const latest = call === latestCall.current;
      if (latest) {
        if ('task' in outcome) tracked.current = outcome.task;
        setState('task' in outcome ? { status: 'success', task: outcome.task, error: null, variables } : (s) => ({ status: 'error', task: s.task, error: outcome.error, variables }));
      }
      // The hook's callbacks for every start, the call's own for the latest only (as useMutation).
      for (const handlers of latest ? [optionsRef.current, callbacks] : [optionsRef.current]) {
        if ('task' in outcome) handlers?.onSuccess?.(outcome.task, variables);
        else handlers?.onError?.(outcome.error, variables);
        handlers?.onSettled?.('task' in outcome ? outcome.task : undefined, 'error' in outcome ? outcome.error : null, variables);
      }
      return outcome;
    },
    [featureCollection],
  );

  const start = useCallback(
    (key: string, exportOptions?: ExportOptions, callbacks?: StartCallbacks<TTask>): void => {
      if (!mounted.current) return;
      // Never rejects: the outcome is in state and in the callbacks.
      void run(key, exportOptions, callbacks);
    },
    [run],
  );

  const startAsync = useCallback(
    async (key: string, exportOptions?: ExportOptions): Promise<TTask> => {
      if (!mounted.current) throw new Error('useStartExport(): startAsync() was called after the component unmounted; nothing was started');
      const outcome = await run(key, exportOptions, undefined);
      if ('error' in outcome) throw outcome.error;
      return outcome.task;
    },
    [run],
  );

  const reset = useCallback((): void => {
    latestCall.current++;
    tracked.current = undefined;
    setState(IDLE);
  }, []);

  const snapshot = useExportTask(state.task);
  return {
    start,
    startAsync,
    status: state.status,
    isIdle: state.status === 'idle',
    isPending: state.status === 'pending',
    isSuccess: state.status === 'success',
    isError: state.status === 'error',
    data: state.task,
    task: state.task,
    snapshot,
    error: state.error,
    variables: state.variables,
    reset,
  };
}

/** Cancels a task that is not final; a failure to cancel has nobody left to report to. */
function cancelQuietly(task: StartedTask): void {
  if (task.ready) return;
  task.cancel().catch(() => undefined);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function checkArguments(featureCollection: unknown, options: unknown): void {
  if (typeof featureCollection !== 'object' || featureCollection === null || typeof (featureCollection as Partial<ExportStarter<StartedTask>>).export !== 'function') {
    throw new TypeError(
      `useStartExport(): expected a FeatureCollection (such as client.featureCollection('roads')), got ${describe(featureCollection)}`,
    );
  }
  if (options === undefined) return;
  checkOptionBag('useStartExport()', options, OPTION_NAMES);
  const bag = options as Record<string, unknown>;
  if (bag['cancelOnUnmount'] !== undefined && typeof bag['cancelOnUnmount'] !== 'boolean') {
    throw new TypeError(`useStartExport(): expected \`cancelOnUnmount\` to be a boolean, got ${describe(bag['cancelOnUnmount'])}`);
  }
  for (const name of ['onSuccess', 'onError', 'onSettled']) {
    if (bag[name] !== undefined && typeof bag[name] !== 'function') {
      throw new TypeError(`useStartExport(): expected \`${name}\` to be a function, got ${describe(bag[name])}`);
    }
  }
}
