import type { FailureType, TaskPhase } from './events.js';

/**
 * The result attributes of a final task, in camelCase (the DL result route's attributes).
 * Units are the backend's: `runtime` in CPU seconds, `peakMemoryUsage` and `sizeBytes` in bytes.
 */
export interface ExportTaskAttributes {
  readonly status: 'SUCCESS' | 'FAILURE';
  readonly failureType: FailureType | null;
  readonly exceptionName: string | null;
  readonly stacktrace: string | null;
  readonly runtime: number | null;
  readonly peakMemoryUsage: number | null;
  readonly labels: readonly string[] | null;
  readonly key: string | null;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly created: string | null;
}

/**
 * What is known of one task: the fold of its events up to `seq`. A plain, immutable,
 * JSON-serialisable object, so it can be persisted with `JSON.stringify` and restored.
 * Two deliveries of the same history give equal snapshots; diagnostics live elsewhere.
 */
export interface ExportTaskSnapshot {
  readonly productId: string;
  readonly exportId: string;
  readonly phase: TaskPhase;
  /** The highest event applied in order: the task's cursor. 0 before any event. */
  readonly seq: number;
  /** From 0 to 1; never decreases. 1 once succeeded. */
  readonly progress: number;
  /** The latest progress message, if any. */
  readonly message: string | null;
  /** The task's log lines, in order. */
  readonly log: readonly string[];
  readonly cancelRequested: boolean;
  /** When the export was created (the time of its `queued` event), when known. */
  readonly created: string | null;
  /** `null` until final, then the result attributes. */
  readonly attributes: ExportTaskAttributes | null;
}

/** The machine's context: the snapshot without what the state value and the sequencer hold. */
export type ExportTaskContext = Omit<ExportTaskSnapshot, 'phase' | 'seq'>;
