import type { FailureType, TaskPhase } from './events.js';

/**
 * The result attributes of a final task, in camelCase (the DL result route's attributes).
 * Units are the backend's: `runtime` in CPU seconds, `peakMemoryUsage` and `sizeBytes` in bytes.
 *
 * @example
 * ```ts
 * const attributes: ExportTaskAttributes | null = task.snapshot.attributes;
 * if (attributes?.status === 'SUCCESS') console.log(`${attributes.sizeBytes} bytes in ${attributes.runtime} CPU s`);
 * ```
 */
export interface ExportTaskAttributes {
  /** The outcome. */
  readonly status: 'SUCCESS' | 'FAILURE';
  /** Why it failed (`exception`, `oom`, `timeout`, `cancelled`, `internal`, ...), or null. */
  readonly failureType: FailureType | null;
  /** The name of the exception the job raised, if any. */
  readonly exceptionName: string | null;
  /** The job's stack trace (or the service's explanation), if any. */
  readonly stacktrace: string | null;
  /** CPU seconds the job used, when known. */
  readonly runtime: number | null;
  /** Peak memory the job used, in bytes, when known. */
  readonly peakMemoryUsage: number | null;
  /** DL's labels; the element at index 3 is the key. */
  readonly labels: readonly string[] | null;
  /** Storage key of the exported file. */
  readonly key: string | null;
  /** Size of the exported file, in bytes; null when it failed. */
  readonly sizeBytes: number | null;
  /** Lower-case hex SHA-256 of the exported file; null when it failed. */
  readonly sha256: string | null;
  /** When the export was created (ISO-8601 UTC). */
  readonly created: string | null;
}

/**
 * What is known of one task: the fold of its events up to `seq`. A plain, immutable,
 * JSON-serialisable object, so it can be persisted with `JSON.stringify` and restored.
 * Two deliveries of the same history give equal snapshots; diagnostics live elsewhere.
 *
 * @example
 * ```ts
 * const saved = JSON.stringify(task.snapshot); // plain JSON: persist it
 * const restored: ExportTaskSnapshot = store.restore(JSON.parse(saved));
 * console.log(restored.phase, restored.progress, restored.log.join('\n'));
 * ```
 */
export interface ExportTaskSnapshot {
  /** The product (feature collection) id. */
  readonly productId: string;
  /** The export id. */
  readonly exportId: string;
  /** `pending`, `running`, then `success` or `failure`; never goes back. */
  readonly phase: TaskPhase;
  /**
   * The highest event applied in order: the task's cursor (0 before any event). Once final it
   * stays the `seq` of the event that made the task final, so a final snapshot never changes:
   * the store keeps the cursor of later events apart.
   */
  readonly seq: number;
  /** From 0 to 1; never decreases. 1 once succeeded. */
  readonly progress: number;
  /** The latest progress message, if any. */
  readonly message: string | null;
  /** The task's log lines, in order. */
  readonly log: readonly string[];
  /** Whether a cancel was asked (the task ends `cancelled` unless it finished first). */
  readonly cancelRequested: boolean;
  /** When the export was created (the time of its `queued` event), when known. */
  readonly created: string | null;
  /** `null` until final, then the result attributes. */
  readonly attributes: ExportTaskAttributes | null;
}

/**
 * The machine's context: the snapshot without what the state value and the sequencer hold.
 *
 * @example
 * ```ts
 * const actor = task.actor();
 * const context: ExportTaskContext = actor.getSnapshot().context;
 * console.log(context.progress, context.message);
 * ```
 */
export type ExportTaskContext = Omit<ExportTaskSnapshot, 'phase' | 'seq'>;
