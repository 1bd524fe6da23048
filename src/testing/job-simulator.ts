import type { ExportRequest } from '../client/backend.js';
import type { FailureType, TaskEvent } from '../core/events.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event as a job sends it: the backend fills in the ids, `seq` and `time`. @internal */
export type JobEvent = DistributiveOmit<TaskEvent, 'product_id' | 'export_id' | 'seq' | 'time'>;

/**
 * What a simulated job does when the application asks to cancel it:
 * - `'honour'`: the job ends `failed` with `failure_type: "cancelled"` one step after the cancel
 *   (as the reference service's jobs do, a moment after `cancel()` answered), and whatever the
 *   script does after that is ignored;
 * - `'ignore'`: the cancel is recorded (`cancel_requested`) and the job goes on to its own end,
 *   as a job that finished just before the cancel reached it, or a backend that lost the cancel.
 *
 * @example
 * ```ts
 * const backend = createTestBackend();
 * backend.onExport(scriptedJob({ steps: [{ progress: 0.5 }], outcome: { succeed: 'a\n' } }), { cancel: 'ignore' satisfies CancelPolicy });
 * ```
 */
export type CancelPolicy = 'honour' | 'ignore';

/**
 * One export as a simulated job sees it: it moves the export by calling these methods, and each
 * call becomes the export's next event on the backend (delivered to the client as the backend
 * delivers). Every method but `step` is ignored once the job has ended (a cancel honoured, an
 * outcome sent), so a script needs no checks of its own.
 *
 * @example
 * ```ts
 * const backend = createTestBackend();
 * backend.onExport(async (job: SimulatedJob) => {
 *   job.progress(0.5, 'half way');
 *   await job.step(); // let the application react
 *   if (job.request.key.endsWith('.fail')) job.fail('internal');
 *   else await job.succeed('{"type":"Feature"}\n');
 * });
 * ```
 */
export interface SimulatedJob {
  /** The export's product. */
  readonly productId: string;
  /** The export. */
  readonly exportId: string;
  /** What the application asked for (key, query, limits). */
  readonly request: ExportRequest;
  /** Aborted once the application asks to cancel this export (whatever the cancel policy). */
  readonly signal: AbortSignal;
  /** Whether the export has ended (a terminal event was sent, a cancel was honoured, or the backend was closed). */
  readonly ended: boolean;
  /**
   * Yields to the rest of the test: the plain test backend waits one macrotask, the scheduled
   * backend one step that `fc.scheduler()` releases (so the job interleaves with the
   * application's own actions). Once the backend is closed it never resolves: the script is
   * abandoned where it is (and garbage-collected), instead of spinning in a loop of steps.
   */
  step(): Promise<void>;
  /** Sends `started` (sent before the first progress or log if the script does not). */
  start(): void;
  /** Sends `progress`. */
  progress(fraction: number, message?: string): void;
  /** Sends a `log` line. */
  log(line: string): void;
  /**
   * Stores `contents` at the export's key on the backend (so `getFile` downloads it, verified)
   * and sends `succeeded` with its real size and SHA-256.
   */
  succeed(contents?: string | Uint8Array): Promise<void>;
  /** Sends `failed` with this failure type (and an exception name and stack for `exception`). */
  fail(failureType: FailureType, details?: { readonly exceptionName?: string | undefined; readonly stacktrace?: string | undefined }): void;
  /**
   * Sends the job's terminal event once more, as a worker that re-sends its end does: a late
   * event after the end, which a correct client reports on `diagnostics$` and ignores.
   */
  resendTerminal(): void;
}

/**
 * Runs an export the application started, on a test backend: see {@link SimulatedJob}. It may
 * be async; a job that throws ends `failed` with `failure_type: "internal"` and the error on the
 * backend's `jobErrors`.
 *
 * @example
 * ```ts
 * const halfThenFail: ExportHandler = async (job) => {
 *   job.progress(0.5);
 *   await job.step();
 *   job.fail('internal');
 * };
 * createTestBackend().onExport(halfThenFail);
 * ```
 */
export type ExportHandler = (job: SimulatedJob) => void | Promise<void>;

/**
 * Options of `backend.onExport(handler, options)`.
 *
 * @example
 * ```ts
 * createTestBackend().onExport(scriptedJob({ steps: [], outcome: null }), { cancel: 'honour' } satisfies OnExportOptions);
 * ```
 */
export interface OnExportOptions {
  /** What the job does when the application cancels it (see {@link CancelPolicy}). @defaultValue 'honour' */
  readonly cancel?: CancelPolicy | undefined;
}

/**
 * A job as data, for {@link scriptedJob} and `jobScriptArb()`: its steps, then its outcome, then
 * optionally its terminal event sent again.
 *
 * @example
 * ```ts
 * const script: JobScript = {
 *   steps: [{ progress: 0.25 }, { log: 'reading' }, { progress: 0.75, message: 'writing' }],
 *   outcome: { fail: 'internal' },
 *   resendTerminal: true,
 * };
 * ```
 */
export interface JobScript {
  /** Progress and log steps, each sent after one {@link SimulatedJob.step}. */
  readonly steps: readonly JobStep[];
  /** How the job ends; `null` leaves it running (an export that never ends until cancelled). */
  readonly outcome: JobOutcome | null;
  /** Whether the terminal event is sent a second time after the end. */
  readonly resendTerminal?: boolean | undefined;
}

/**
 * One step of a {@link JobScript}: a progress (with an optional message) or a log line.
 *
 * @example
 * ```ts
 * const steps: JobStep[] = [{ progress: 0.5, message: 'half' }, { log: 'INFO written' }];
 * ```
 */
export type JobStep = { readonly progress: number; readonly message?: string | undefined } | { readonly log: string };

/**
 * How a {@link JobScript} ends: success with the file's contents, or a failure of a type.
 *
 * @example
 * ```ts
 * const outcomes: JobOutcome[] = [{ succeed: '{"type":"Feature"}\n' }, { fail: 'internal' }, { fail: 'exception', exceptionName: 'ValueError' }];
 * ```
 */
export type JobOutcome =
  | { readonly succeed: string | Uint8Array }
  | { readonly fail: FailureType; readonly exceptionName?: string | undefined; readonly stacktrace?: string | undefined };

/**
 * A handler that plays a {@link JobScript} (the same one for every export, or one per export
 * when given a function of the job).
 *
 * @example
 * ```ts
 * const backend = createTestBackend();
 * backend.onExport(scriptedJob((job) => (job.request.key.includes('big') ? { steps: [], outcome: { fail: 'oom' } } : { steps: [], outcome: { succeed: '' } })));
 * ```
 */
export function scriptedJob(script: JobScript | ((job: SimulatedJob) => JobScript)): ExportHandler {
  return async (job) => {
    const { steps, outcome, resendTerminal } = typeof script === 'function' ? script(job) : script;
    for (const step of steps) {
      await job.step();
      if ('log' in step) job.log(step.log);
      else job.progress(step.progress, step.message);
    }
    if (outcome === null) return;
    await job.step();
    if ('succeed' in outcome) await job.succeed(outcome.succeed);
    else job.fail(outcome.fail, { exceptionName: outcome.exceptionName ?? 'Error', stacktrace: outcome.stacktrace ?? '' });
    if (resendTerminal === true) {
      await job.step();
      job.resendTerminal();
    }
  };
}

/** What a step of a job on a closed backend waits for: nothing, ever (no timer, no listener). */
const NEVER = new Promise<void>(() => undefined);

/** What the backend gives a simulated job. @internal */
export interface JobHost {
  emit(event: JobEvent): TaskEvent;
  putFile(key: string, bytes: Uint8Array): void;
  step(label: string): Promise<void>;
  readonly closed: boolean;
}

/** The running job behind a {@link SimulatedJob}, as the backend drives it. @internal */
export interface RunningJob extends SimulatedJob {
  /** The application asked to cancel: abort the signal, and end the job if the policy honours it. */
  cancelRequested(): void;
}

/** Makes the job of one export. @internal */
export function createJob(host: JobHost, ids: { productId: string; exportId: string }, request: ExportRequest, policy: CancelPolicy): RunningJob {
  const abort = new AbortController();
  let started = false;
  let ended = false;
  let cancelPending = false;
  let terminal: JobEvent | undefined;
  const send = (event: JobEvent): void => {
    if (ended || host.closed) return;
    if (cancelPending) {
      // An honoured cancel ends the job at its next step, before whatever it was about to send.
      endCancelled();
      return;
    }
    if (!started && event.type !== 'started') host.emit({ type: 'started' });
    started = true;
    host.emit(event);
    if (event.type === 'succeeded' || event.type === 'failed') {
      ended = true;
      terminal = event;
    }
  };
  const endCancelled = (): void => {
    ended = true;
    terminal = { type: 'failed', failure_type: 'cancelled', exception_name: null, stacktrace: null, runtime: null, peak_memory_usage: null };
    host.emit(terminal);
  };
  return {
    ...ids,
    request,
    signal: abort.signal,
    get ended() {
      return ended || host.closed;
    },
    async step() {
      if (host.closed) return NEVER;
      await host.step(`job ${ids.exportId}: step`);
      if (host.closed) return NEVER;
      if (cancelPending && !ended && !host.closed) endCancelled();
    },
    start() {
      send({ type: 'started' });
    },
    progress(fraction, message) {
      send(message === undefined ? { type: 'progress', fraction } : { type: 'progress', fraction, message });
    },
    log(line) {
      send({ type: 'log', line });
    },
    async succeed(contents = '') {
      if (ended || host.closed) return;
      const bytes = typeof contents === 'string' ? new TextEncoder().encode(contents) : new Uint8Array(contents);
      // WebCrypto: the same in Node and in browsers, and no hashing code of our own.
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      if (ended || host.closed) return;
      if (cancelPending) return endCancelled();
      host.putFile(request.key, bytes);
      send({
        type: 'succeeded',
        runtime: 0.01,
        peak_memory_usage: 1024 * 1024,
        key: request.key,
        labels: [ids.productId, ids.exportId, 'export', request.key],
        size_bytes: bytes.length,
        sha256,
      });
    },
    fail(failureType, details) {
      const exception = failureType === 'exception';
      send({
        type: 'failed',
        failure_type: failureType,
        exception_name: details?.exceptionName ?? (exception ? 'Error' : null),
        stacktrace: details?.stacktrace ?? (exception ? 'Error: the job threw\n    at job (job.js:1:1)' : null),
        runtime: 0.01,
        peak_memory_usage: 1024 * 1024,
      });
    },
    resendTerminal() {
      if (terminal === undefined || host.closed) return;
      host.emit(terminal);
    },
    cancelRequested() {
      if (abort.signal.aborted) return;
      abort.abort();
      if (policy !== 'honour' || ended) return;
      cancelPending = true;
      // One step after the cancel the job ends, whether or not its script is still running.
      void host.step(`job ${ids.exportId}: cancel`).then(() => {
        if (!ended && !host.closed) endCancelled();
      });
    },
  };
}
