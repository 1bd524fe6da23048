import { TimeoutError } from '../core/errors.js';
import { checkMilliseconds, checkOptionBag, checkSignal } from '../internal/options.js';
import type { ExportTask } from './export-task.js';

/** Options of {@link asCompleted}. */
export interface AsCompletedOptions {
  /**
   * How long, in ms, to wait for all the tasks; past it the iteration throws `TimeoutError`
   * (after a last check of each task still waiting).
   * @defaultValue undefined (no limit)
   */
  readonly timeout?: number | undefined;
  /** Aborts the iteration (it throws the signal's reason); the tasks are not touched. */
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
  // One controller ends every wait when the caller breaks out, fails or times out.
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  const done: ExportTask[] = [];
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let remaining = tasks.length;
  for (const task of tasks) {
    task.waitFinal(timeout, controller.signal).then(
      () => {
        done.push(task);
        wake?.();
      },
      (error: unknown) => {
        failure ??= { error: error instanceof TimeoutError ? new TimeoutError(timeout ?? 0, error.snapshot) : error };
        wake?.();
      },
    );
  }
  try {
    while (remaining > 0) {
      if (done.length === 0 && failure === undefined) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      while (done.length > 0) {
        remaining--;
        yield done.shift()!;
      }
      if (failure !== undefined && remaining > 0) throw failure.error;
    }
  } finally {
    outer?.removeEventListener('abort', onAbort);
    controller.abort(new Error('asCompleted() iteration ended'));
  }
}
