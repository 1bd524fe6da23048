import { useCallback, useSyncExternalStore } from 'react';
import type { Observable } from 'rxjs';
import type { ExportTaskSnapshot } from '../core/snapshot.js';
import { describe } from './internal/describe.js';

/**
 * What {@link useExportTask} needs of a task: the `snapshot` and `state$` every `ExportTask`
 * has. (A structural type, so that tasks of any copy of the package fit.)
 *
 * @example
 * ```tsx
 * const task: ObservableTask = await roads.export('exports/roads.ndjson'); // an ExportTask fits
 * function Progress({ task }: { task: ObservableTask }) {
 *   const { progress } = useExportTask(task);
 *   return <progress value={progress} max={1} />;
 * }
 * ```
 */
export interface ObservableTask {
  /** What is known of the task now. */
  readonly snapshot: ExportTaskSnapshot;
  /** The current snapshot, then each change. */
  readonly state$: Observable<ExportTaskSnapshot>;
}

/**
 * The task's snapshot, kept current: the component re-renders when the snapshot changes (a
 * new phase, progress, log line, ...) and at no other time. Built on `useSyncExternalStore`, so
 * it never tears under concurrent rendering.
 *
 * It subscribes to `task.state$` while mounted and unsubscribes on unmount (or when `task`
 * changes). Following a task opens the client's event stream of its product if it is not open
 * yet; that stream is the client's, shared by all its tasks, and ends with `client.close()`. With
 * `undefined` or `null` it answers `undefined` and subscribes to nothing, which suits a task
 * that does not exist yet.
 *
 * @example
 * ```tsx
 * import { useExportTask } from 'export-task/react';
 *
 * function TaskRow({ task }: { task: ExportTask }) {
 *   const { phase, progress } = useExportTask(task);
 *   return <progress value={progress} max={1} aria-label={`${task.exportId}: ${phase}`} />;
 * }
 * ```
 * @param task - An `ExportTask` (from `FeatureCollection.export()` or `listExports()`), or nothing.
 * @returns Its current snapshot (the same object until it changes), or `undefined` without a task.
 * @throws TypeError during render when `task` is neither an `ExportTask` nor `undefined`/`null`.
 */
export function useExportTask(task: ObservableTask): ExportTaskSnapshot;
export function useExportTask(task: ObservableTask | null | undefined): ExportTaskSnapshot | undefined;
export function useExportTask(task: ObservableTask | null | undefined): ExportTaskSnapshot | undefined {
  checkTask(task);
  const subscribe = useCallback(
    (onChange: () => void): (() => void) => {
      if (task == null) return noop;
      const subscription = task.state$.subscribe({ next: onChange, error: onChange });
      return () => subscription.unsubscribe();
    },
    [task],
  );
  // `task.snapshot` answers the store's object as it is: the same reference until the next change.
  const getSnapshot = (): ExportTaskSnapshot | undefined => (task == null ? undefined : task.snapshot);
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

function noop(): void {}

function checkTask(task: unknown): void {
  if (task == null) return;
  const candidate = task as Partial<ObservableTask>;
  if (typeof candidate !== 'object' || typeof candidate.state$?.subscribe !== 'function' || !('snapshot' in candidate)) {
    throw new TypeError(
      `useExportTask(): expected an ExportTask (from FeatureCollection.export() or listExports()) or undefined, got ${describe(task)}`,
    );
  }
}
