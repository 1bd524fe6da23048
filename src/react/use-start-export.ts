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
 * Options of {@link useStartExport}.
 *
 * @example
 * ```ts
 * const { start, snapshot } = useStartExport(roads, { cancelOnUnmount: true } satisfies StartExportOptions);
 * ```
 */
export interface StartExportOptions {
  /**
   * Cancel the tracked export when the component unmounts (and an export whose request was
   * still in flight as soon as it is created), unless it is already final. Leave it off when the
   * export should go on while the user looks elsewhere.
   * @defaultValue false
   */
  readonly cancelOnUnmount?: boolean | undefined;
}

/**
 * What {@link useStartExport} answers.
 *
 * @example
 * ```ts
 * const { start, task, snapshot, error, pending, reset }: StartExport<ExportTask> = useStartExport(roads);
 * if (snapshot?.phase === 'success') void task?.getFile(new WritableStream());
 * ```
 */
export interface StartExport<TTask extends StartedTask> {
  /**
   * Starts an export of the collection (the arguments of `FeatureCollection.export()`) and
   * tracks it. Never rejects: it resolves with the task, or with `undefined` when the request
   * failed (the reason is in `error`) or when called after unmount (nothing is started then).
   * A call supersedes the ones before it: only the latest call's outcome becomes `task` or
   * `error`. A request still in flight at unmount resolves with its task all the same (cancelled
   * with `cancelOnUnmount`), but changes no state.
   */
  readonly start: (key: string, options?: ExportOptions) => Promise<TTask | undefined>;
  /** The export started by the latest successful `start`, or `undefined` before one. */
  readonly task: TTask | undefined;
  /** The task's snapshot, kept current as with {@link useExportTask}. */
  readonly snapshot: ExportTaskSnapshot | undefined;
  /** Why the latest `start` failed (a `TypeError` for bad arguments, an `HttpError`, ...), or `undefined`. */
  readonly error: Error | undefined;
  /** Whether the latest `start`'s request is in flight. */
  readonly pending: boolean;
  /** Forgets the task and the error (the export itself goes on). */
  readonly reset: () => void;
}

interface State<TTask> {
  readonly task: TTask | undefined;
  readonly error: Error | undefined;
  readonly pending: boolean;
}

const IDLE: State<never> = { task: undefined, error: undefined, pending: false };

/**
 * Starts exports of a feature collection from a component and tracks the latest one: its task,
 * its live snapshot, whether the request is in flight, and why it failed.
 *
 * Unmounting stops all tracking at once: the snapshot subscription ends, and a request still in
 * flight changes no state when it answers (an export request cannot be cut halfway without
 * leaving the export's fate unknown, so it is let finish). With `cancelOnUnmount`, the tracked
 * export, and one whose request was in flight, is also cancelled on the service.
 *
 * @example
 * ```tsx
 * import { useStartExport } from 'export-task/react';
 *
 * function ExportButton({ roads }: { roads: FeatureCollection }) {
 *   const { start, snapshot, error, pending } = useStartExport(roads);
 *   return (
 *     <>
 *       <button disabled={pending} onClick={() => void start('exports/highways.ndjson', { query: { query_expr: { eq: { kind: 'highway' } } } })}>
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
 * @throws TypeError during render when `featureCollection` has no `export` method or an option is unknown.
 */
export function useStartExport<TTask extends StartedTask>(
  featureCollection: ExportStarter<TTask>,
  options?: StartExportOptions,
): StartExport<TTask> {
  checkArguments(featureCollection, options);
  const cancelOnUnmount = options?.cancelOnUnmount === true;
  const [state, setState] = useState<State<TTask>>(IDLE);
  const mounted = useRef(false);
  const latestCall = useRef(0);
  const tracked = useRef<TTask | undefined>(undefined);
  const cancelOnUnmountRef = useRef(cancelOnUnmount);
  cancelOnUnmountRef.current = cancelOnUnmount;

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      const task = tracked.current;
      if (cancelOnUnmountRef.current && task !== undefined) cancelQuietly(task);
    };
  }, []);

  const start = useCallback(
    async (key: string, exportOptions?: ExportOptions): Promise<TTask | undefined> => {
      if (!mounted.current) return undefined;
      const call = ++latestCall.current;
      setState((s) => ({ task: s.task, error: undefined, pending: true }));
      let task: TTask;
      try {
        task = await featureCollection.export(key, exportOptions);
      } catch (error) {
        if (mounted.current && call === latestCall.current) setState((s) => ({ task: s.task, error: asError(error), pending: false }));
        return undefined;
      }
      if (!mounted.current) {
        if (cancelOnUnmountRef.current) cancelQuietly(task);
        return task;
      }
      if (call === latestCall.current) {
        tracked.current = task;
        setState({ task, error: undefined, pending: false });
      }
      return task;
    },
    [featureCollection],
  );

  const reset = useCallback((): void => {
    latestCall.current++;
    tracked.current = undefined;
    setState(IDLE);
  }, []);

  const snapshot = useExportTask(state.task);
  return { start, task: state.task, snapshot, error: state.error, pending: state.pending, reset };
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
  checkOptionBag('useStartExport()', options, ['cancelOnUnmount']);
  const value = (options as StartExportOptions).cancelOnUnmount;
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`useStartExport(): expected \`cancelOnUnmount\` to be a boolean, got ${describe(value)}`);
  }
}
