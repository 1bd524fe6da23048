import { TimeoutError } from '../core/errors.js';
import { checkMilliseconds, checkOptionBag, checkSignal } from '../internal/options.js';
import type { ExportTask } from './export-task.js';

/**
 * Options of {@link asCompleted}.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const options: AsCompletedOptions = { timeout: 10 * 60_000, signal: controller.signal };
 * for await (const task of asCompleted(tasks, options)) console.log(task.tuid, await task.status);
 * ```
 */
export interface AsCompletedOptions {
  /**
   * How long, in ms, to wait for all the tasks; past it the iteration throws `TimeoutError`
   * (after a last check of each task still waiting).
   * @defaultValue undefined (no limit)
   */
  readonly timeout?: number | undefined;
  /**
   * Aborts the iteration (it throws the signal's reason); the tasks are not touched.
   * With `AbortSignal.timeout(ms)` the rejection is a `DOMException` also named `TimeoutError`, not this package's `TimeoutError`: tell them apart with `instanceof` or `error.code` (`'EXPORT_TASK_TIMEOUT'`), never `error.name`.
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Yields tasks as they become final, in the order they finish (already final ones first).
 * Breaking out of the loop releases every wait.
 *
 * @example
 * ```ts
 * for await (const task of asCompleted(tasks, { timeout: 600_000 })) {
 *   console.log(task.tuid, await task.status);
 * }
 * ```
 * @throws TypeError at once for bad options.
 * @throws {@link TimeoutError} when `timeout` passes before every task is final.
 */
export function asCompleted(tasks: Iterable<ExportTask>, options?: AsCompletedOptions): AsyncIterableIterator<ExportTask> {
  const where = 'asCompleted()';
  checkOptionBag(where, options, ['timeout', 'signal']);
  const timeout = checkMilliseconds(where, 'timeout', options?.timeout);
  const signal = checkSignal(where, options?.signal);
  return iterate([...tasks], timeout, signal);
}

async function* iterate(tasks: ExportTask[], timeout: number | undefined, outer: AbortSignal | undefined): AsyncGenerator<ExportTask> {
  // A controller per wait ends it when the caller breaks out, fails or times out. One shared
  // controller would hold a listener per task on one signal (and Node warns past ten).
  const controllers = new Set<AbortController>();
  const endAll = (reason: unknown): void => {
    for (const controller of controllers) controller.abort(reason);
    controllers.clear();
  };
  const onAbort = (): void => endAll(outer?.reason);
  const done: ExportTask[] = [];
  let next = 0;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let remaining = tasks.length;
  for (const task of tasks) {
    const controller = new AbortController();
    controllers.add(controller);
    task.waitFinal(timeout, controller.signal).then(
      () => {
        controllers.delete(controller);
        done.push(task);
        wake?.();
      },
      (error: unknown) => {
        controllers.delete(controller);
        failure ??= { error: error instanceof TimeoutError ? new TimeoutError(timeout ?? 0, error.snapshot) : error };
        wake?.();
      },
    );
  }
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  try {
    while (remaining > 0) {
      if (next === done.length && failure === undefined) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      // Read by index: `shift()` moves every element, quadratic over many tasks.
      while (next < done.length) {
        remaining--;
        yield done[next++]!;
      }
      if (failure !== undefined && remaining > 0) throw failure.error;
    }
  } finally {
    outer?.removeEventListener('abort', onAbort);
    endAll(new Error('asCompleted() iteration ended'));
  }
}
