import type { ExportQuery } from '../../client/geojson.js';

/** What the owner of one export job gives it. @internal */
export interface ExportJobInput {
  /** The product's newline-delimited GeoJSON file. */
  readonly featuresPath: string;
  /** How many bytes of it to read: the length of the complete lines when the job was started. */
  readonly featuresBytes: number;
  /** Where to write; the main thread renames it onto the target once the job succeeded. */
  readonly tempPath: string;
  readonly key: string;
  readonly query: ExportQuery;
}

/**
 * What the main thread hands one export job's worker (its `workerData`): the files it opened
 * for the job, by descriptor. The main thread closes them once the worker has exited, so a
 * worker terminated at any point (time limit, cancel, memory limit) leaves no descriptor open.
 * @internal
 */
export interface ExportWorkerData {
  /** The product's features, open for reading (read by position: the worker never closes it). */
  readonly featuresFd: number;
  readonly featuresBytes: number;
  /** The temporary output, open for writing (the worker never closes it). */
  readonly outputFd: number;
  readonly query: ExportQuery;
}

/** Measurements every message after `started` carries, so the last one is known if the worker dies. @internal */
export interface JobUsage {
  /** CPU seconds the job has used so far. */
  readonly runtime: number;
  /** The most heap plus external memory seen so far, in bytes. */
  readonly peakMemory: number;
}

/** What an export job's worker posts to the main thread, in this order: `started`, then
 * `progress` and `log` messages, then `written` or `threw`. @internal */
export type ExportJobMessage =
  | ({ readonly type: 'started' } & JobUsage)
  | ({ readonly type: 'progress'; readonly fraction: number; readonly message: string } & JobUsage)
  | { readonly type: 'log'; readonly line: string }
  | ({
      readonly type: 'written';
      readonly sizeBytes: number;
      readonly sha256: string;
      /** Wall time from `started` to the end of the writing, ms: how the job's time limit is judged. */
      readonly elapsedMs: number;
    } & JobUsage)
  | ({
      readonly type: 'threw';
      readonly name: string;
      readonly message: string;
      readonly stack: string;
      /** Whether the service failed (reading or writing a file: a system error), not the job's query or data. */
      readonly internal: boolean;
    } & JobUsage);
