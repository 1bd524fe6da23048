import { describeValue } from '../internal/options.js';
import type { ExportTaskSnapshot } from './snapshot.js';

/**
 * The task is not final yet, so what was asked (a result, a file) is not available.
 * The DL client raised it with the message "Result not yet ready".
 *
 * @example
 * ```ts
 * try {
 *   await task.getResult({ wait: false });
 * } catch (error) {
 *   if (!(error instanceof TransientResultError)) throw error;
 *   console.log('not yet:', error.snapshot?.phase);
 * }
 * ```
 */
export class TransientResultError extends Error {
  /** The class name, for messages and logs. To check for this error, use `instanceof TransientResultError` or {@link TransientResultError.code}. */
  override readonly name = 'TransientResultError' as const;
  /** A stable identity for checks: `error.code === 'EXPORT_TASK_NOT_READY'` (no other library's error carries it; it survives bundling and realms, where `instanceof` may not). */
  readonly code = 'EXPORT_TASK_NOT_READY' as const;
  /** What was known of the task when this was thrown, when there was a task. */
  readonly snapshot: ExportTaskSnapshot | undefined;

  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param message - Why; DL's "Result not yet ready" by default.
   * @param snapshot - The task as known when this was thrown.
   */
  constructor(message = 'Result not yet ready', snapshot?: ExportTaskSnapshot) {
    super(message);
    this.snapshot = snapshot;
  }
}

/**
 * A wait ran out of time before the task was final, even after a last check at the deadline.
 *
 * @example
 * ```ts
 * try {
 *   await task.getResult({ wait: true, timeout: 5_000 });
 * } catch (error) {
 *   if (!(error instanceof TimeoutError)) throw error;
 *   console.log(`still ${error.snapshot?.phase} after ${error.timeout} ms`);
 * }
 * ```
 */
export class TimeoutError extends Error {
  /** The class name, for messages and logs. To check for this error, use `instanceof TimeoutError` or {@link TimeoutError.code}: a name can be shared (`TimeoutError` is also the name of the DOMException of `AbortSignal.timeout()` and of RxJS's). */
  override readonly name = 'TimeoutError' as const;
  /** A stable identity for checks: `error.code === 'EXPORT_TASK_TIMEOUT'` (no other library's error carries it; it survives bundling and realms, where `instanceof` may not). */
  readonly code = 'EXPORT_TASK_TIMEOUT' as const;
  /** The last snapshot seen before giving up. */
  readonly snapshot: ExportTaskSnapshot | undefined;
  /** How long the wait was allowed, in ms. */
  readonly timeout: number;

  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param timeout - How long the wait was allowed, in ms.
   * @param snapshot - The last snapshot seen.
   */
  constructor(timeout: number, snapshot?: ExportTaskSnapshot) {
    const where = snapshot ? ` (export ${snapshot.exportId} was ${snapshot.phase}, ${Math.round(snapshot.progress * 100)}% done)` : '';
    super(`Timeout exceeded: the task was not final after ${timeout} ms${where}`);
    this.timeout = timeout;
    this.snapshot = snapshot;
  }
}

/**
 * Export tasks have no result: read the attributes or download the file instead.
 *
 * @example
 * ```ts
 * try {
 *   void task.result;
 * } catch (error) {
 *   console.log(error instanceof NoResultError); // true: use getResult(), then getFile()
 * }
 * ```
 */
export class NoResultError extends Error {
  /** The class name, for messages and logs. To check for this error, use `instanceof NoResultError` or {@link NoResultError.code}. */
  override readonly name = 'NoResultError' as const;
  /** A stable identity for checks: `error.code === 'EXPORT_TASK_NO_RESULT'` (no other library's error carries it; it survives bundling and realms, where `instanceof` may not). */
  readonly code = 'EXPORT_TASK_NO_RESULT' as const;

  /** Makes the error with its fixed message. */
  constructor() {
    super("Export tasks don't have a result: await task.getResult(), then read its attributes or call getFile()");
  }
}

/**
 * A malformed event was rejected at the boundary. The task it names (if any) is unchanged.
 * `field` is the dotted path of the offending field (`""` for the event as a whole).
 *
 * @example
 * ```ts
 * try {
 *   parseTaskEvent({ type: 'progress', product_id: 'roads', export_id: 'e1', seq: 0, time: '2026-01-01T00:00:00Z', fraction: 0.5 });
 * } catch (error) {
 *   if (error instanceof InvalidEventError) console.log(error.field, error.expected); // 'seq', 'a positive safe integer'
 * }
 * ```
 */
export class InvalidEventError extends Error {
  /** The class name, for messages and logs. To check for this error, use `instanceof InvalidEventError` or {@link InvalidEventError.code}. */
  override readonly name = 'InvalidEventError' as const;
  /** A stable identity for checks: `error.code === 'EXPORT_TASK_INVALID_EVENT'` (no other library's error carries it; it survives bundling and realms, where `instanceof` may not). */
  readonly code = 'EXPORT_TASK_INVALID_EVENT' as const;
  /** The dotted path of the offending field, `""` for the event as a whole. */
  readonly field: string;
  /** The offending value (truncated when it is a long string). */
  readonly value: unknown;
  /** What was expected instead. */
  readonly expected: string;

  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param field - The dotted path of the offending field.
   * @param value - What came.
   * @param expected - What was expected, as a phrase ("a positive safe integer").
   * @param context - Where, appended to "Invalid task event" (" of export e1").
   */
  constructor(field: string, value: unknown, expected: string, context = '') {
    const where = field === '' ? 'the event' : `\`${field}\``;
    super(`Invalid task event${context}: expected ${where} to be ${expected}, got ${describeValue(value)}`);
    this.field = field;
    this.value = typeof value === 'string' && value.length > 200 ? `${value.slice(0, 200)}...` : value;
    this.expected = expected;
  }
}

/**
 * The client (or the store) was closed while this wait was pending: the wait can never end with
 * the task's final state any more. Every pending wait of a closed client rejects with it.
 *
 * @example
 * ```ts
 * const waiting = task.getResult({ wait: true });
 * await client.close();
 * await waiting.catch((error: unknown) => {
 *   if (error instanceof ClientClosedError) console.log('closed before', error.exportId, 'was final');
 * });
 * ```
 */
export class ClientClosedError extends Error {
  /** The class name, for messages and logs. To check for this error, use `instanceof ClientClosedError` or {@link ClientClosedError.code}. */
  override readonly name = 'ClientClosedError' as const;
  /** A stable identity for checks: `error.code === 'EXPORT_TASK_CLIENT_CLOSED'` (it survives bundling and realms, where `instanceof` may not). */
  readonly code = 'EXPORT_TASK_CLIENT_CLOSED' as const;
  /** The export that was waited for, when the wait was on one. */
  readonly exportId: string | undefined;

  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param exportId - The export that was waited for.
   * @param what - What was closed ("the client", "the store").
   */
  constructor(exportId?: string, what = 'the client') {
    const of = exportId === undefined ? '' : ` for export ${exportId}`;
    super(`The wait${of} ended because ${what} was closed before the task was final`);
    this.exportId = exportId;
  }
}

/**
 * The backend no longer knows an export that was followed: its product, its record or its event
 * log vanished (a backend restarted without its data, a Redis emptied, a job removed). The task
 * can never become final, so every wait on it ends with this error, and `state$` errors with it.
 *
 * @example
 * ```ts
 * await task.getResult({ wait: true, timeout: 60_000 }).catch((error: unknown) => {
 *   if (error instanceof ExportLostError) console.error(`export ${error.exportId} is lost: ${error.reason}`);
 * });
 * ```
 */
export class ExportLostError extends Error {
  /** The class name, for messages and logs. To check for this error, use `instanceof ExportLostError` or {@link ExportLostError.code}. */
  override readonly name = 'ExportLostError' as const;
  /** A stable identity for checks: `error.code === 'EXPORT_TASK_LOST'` (it survives bundling and realms, where `instanceof` may not). */
  readonly code = 'EXPORT_TASK_LOST' as const;
  /** The lost export. */
  readonly exportId: string;
  /** Why it is taken as lost, as the backend or the tracker saw it. */
  readonly reason: string;
  /** What was known of the task before it was lost. */
  readonly snapshot: ExportTaskSnapshot | undefined;

  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param exportId - The lost export.
   * @param reason - Why ("the service no longer knows it", "its job was removed").
   * @param snapshot - What was known before.
   */
  constructor(exportId: string, reason: string, snapshot?: ExportTaskSnapshot) {
    super(`Export ${exportId} is lost and will never be final: ${reason}`);
    this.exportId = exportId;
    this.reason = reason;
    this.snapshot = snapshot;
  }
}

export { describeValue } from '../internal/options.js';
