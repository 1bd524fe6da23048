import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import type { FailureType } from '../../core/events.js';
import type { ExportJobInput, ExportJobMessage } from './export-job-protocol.js';
import { spawnExportWorker } from './spawn-export-worker.js';

/** How one export job ended, known once its worker has exited. @internal */
export type ExportJobOutcome =
  | {
      readonly ok: true;
      readonly sizeBytes: number;
      readonly sha256: string;
      readonly runtime: number;
      readonly peakMemory: number;
    }
  | {
      readonly ok: false;
      readonly failureType: FailureType;
      readonly exceptionName: string | null;
      readonly stacktrace: string | null;
      readonly runtime: number | null;
      readonly peakMemory: number | null;
    };

/** What the job tells its owner while it runs. @internal */
export interface ExportJobHooks {
  /** The worker loaded its code and started the job. */
  readonly onStarted: () => void;
  readonly onProgress: (fraction: number, message: string) => void;
  readonly onLog: (line: string) => void;
}

/** The job's limits; `null` is unlimited. @internal */
export interface ExportJobLimits {
  readonly timeoutMs: number | null;
  readonly memoryMb: number | null;
}

type StopReason = 'cancelled' | 'timeout' | 'internal';

/**
 * One export job running in its own worker thread (so its memory limit is its own), seen from
 * the main thread: it opens the job's files (the product's features, the temporary output),
 * enforces the time limit, reads the worker's reports, and, once the worker is gone, closes the
 * files and tells how the job ended, so the caller can clean up knowing nothing writes anymore.
 * The files are this object's, not the worker's, because a worker can be terminated at any
 * point (time limit, cancel, memory limit) and would leave a descriptor open: issue 23.
 * @internal
 */
export class ExportJob {
  /** Settles (never rejects) after the worker has exited and the job's files are closed. */
  readonly outcome: Promise<ExportJobOutcome>;
  #worker: Worker | undefined;
  readonly #hooks: ExportJobHooks;
  readonly #timeoutMs: number | null;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #report: ExportJobOutcome | undefined;
  #stopReason: StopReason | undefined;
  #workerError: Error | undefined;
  #runtime: number | null = null;
  #peakMemory: number | null = null;

  constructor(input: ExportJobInput, limits: ExportJobLimits, hooks: ExportJobHooks) {
    this.#hooks = hooks;
    this.#timeoutMs = limits.timeoutMs;
    this.outcome = this.#run(input, limits);
  }

  async #run(input: ExportJobInput, limits: ExportJobLimits): Promise<ExportJobOutcome> {
    let features: FileHandle | undefined;
    let output: FileHandle | undefined;
    try {
      try {
        features = await open(input.featuresPath, 'r');
        output = await open(input.tempPath, 'wx');
      } catch (error) {
        // The product's file gone, the disk full: the service's fault, not the export's.
        const e = error as Error;
        return this.#failure('internal', e.name, e.stack ?? String(e));
      }
      if (this.#stopReason !== undefined) return this.#failure(this.#stopReason, null, null);
      const worker = spawnExportWorker(
        { featuresFd: features.fd, featuresBytes: input.featuresBytes, outputFd: output.fd, query: input.query },
        limits.memoryMb === null ? undefined : { maxOldGenerationSizeMb: limits.memoryMb },
      );
      this.#worker = worker;
      worker.on('message', (message: ExportJobMessage) => this.#onMessage(message));
      worker.on('error', (error) => {
        this.#workerError ??= error;
      });
      const code = await new Promise<number>((resolve) => worker.once('exit', resolve));
      clearTimeout(this.#timer);
      return this.#conclude(code);
    } finally {
      // After the worker's exit: no write of the job can come after these.
      await output?.close().catch(() => undefined);
      await features?.close().catch(() => undefined);
    }
  }

  /** Whether the job reported its end (written or threw): stopping it now would change nothing. */
  get reported(): boolean {
    return this.#report !== undefined;
  }

  /**
   * Stops the job: its worker is terminated and the job ends as `reason` says, unless it had
   * already reported its end.
   * @returns Whether the stop decided the outcome.
   */
  stop(reason: StopReason): boolean {
    if (this.#report !== undefined) return false;
    this.#stopReason ??= reason;
    // Before the worker exists, #run sees the reason once the files are open and starts none.
    void this.#worker?.terminate();
    return true;
  }

  #onMessage(message: ExportJobMessage): void {
    if (this.#stopReason !== undefined) return;
    if ('runtime' in message) {
      this.#runtime = message.runtime;
      this.#peakMemory = message.peakMemory;
    }
    switch (message.type) {
      case 'started':
        this.#started = true;
        // The clock starts when the job does, not while the worker loads its code.
        if (this.#timeoutMs !== null) this.#timer = setTimeout(() => this.stop('timeout'), this.#timeoutMs);
        this.#hooks.onStarted();
        break;
      case 'progress':
        this.#hooks.onProgress(message.fraction, message.message);
        break;
      case 'log':
        this.#hooks.onLog(message.line);
        break;
      case 'written':
        clearTimeout(this.#timer);
        // Past its limit, a job that wrote everything still ends `timeout`: its end was told
        // after the limit, when the service's own thread was too busy to stop it in time.
        if (this.#timeoutMs !== null && message.elapsedMs > this.#timeoutMs) {
          this.stop('timeout');
          break;
        }
        this.#report = { ok: true, sizeBytes: message.sizeBytes, sha256: message.sha256, runtime: message.runtime, peakMemory: message.peakMemory };
        break;
      case 'threw':
        clearTimeout(this.#timer);
        this.#report = this.#failure(message.internal ? 'internal' : 'exception', message.name, message.stack);
        break;
    }
  }

  #failure(failureType: FailureType, exceptionName: string | null, stacktrace: string | null): ExportJobOutcome {
    return { ok: false, failureType, exceptionName, stacktrace, runtime: this.#runtime, peakMemory: this.#peakMemory };
  }

  #conclude(exitCode: number): ExportJobOutcome {
    if (this.#report !== undefined) return this.#report;
    if (this.#stopReason !== undefined) return this.#failure(this.#stopReason, null, null);
    const error = this.#workerError;
    if ((error as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return this.#failure('oom', null, null);
    }
    if (error !== undefined && this.#started) {
      // Thrown outside the job's own error handling (an unhandled rejection, say): still the job's.
      return this.#failure('exception', error.name, error.stack ?? `${error.name}: ${error.message}`);
    }
    const why = error === undefined ? `the worker exited with code ${exitCode} without a result` : (error.stack ?? String(error));
    return this.#failure('internal', error?.name ?? null, why);
  }
}
