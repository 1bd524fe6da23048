/**
 * The backend's events, exactly as they travel on the wire (snake_case JSON, one object per
 * event). {@link parseTaskEvent} turns untrusted input into one of these.
 *
 * @packageDocumentation
 */

import { FINAL } from './internal/compiled-machine.js';

/**
 * The phases of an export task, in the order they are reached.
 *
 * @example
 * ```ts
 * const phase: TaskPhase = task.snapshot.phase;
 * if (phase === 'running') console.log(`${Math.round(task.snapshot.progress * 100)}%`);
 * ```
 */
export type TaskPhase = 'pending' | 'running' | 'success' | 'failure';

/**
 * The two final phases.
 *
 * @example
 * ```ts
 * const final: FinalPhase = (await client.store.settled('e1')).phase as FinalPhase;
 * ```
 */
export type FinalPhase = 'success' | 'failure';

/**
 * Why an export failed. The well-known values are listed; any other string a server sends
 * (DL servers also send `executable_failure`) is kept as it is, never rejected.
 *
 * @example
 * ```ts
 * const why: FailureType | null = await task.failureType;
 * if (why === 'timeout') console.log('raise limits.timeoutMs and try again');
 * ```
 */
export type FailureType =
  | 'exception'
  | 'oom'
  | 'timeout'
  | 'cancelled'
  | 'internal'
  | 'unknown'
  | 'executable_failure'
  | (string & {});

/**
 * The fields every event carries.
 *
 * @example
 * ```ts
 * const base: TaskEventBase = { product_id: 'roads', export_id: 'e1', seq: 1, time: '2026-01-01T00:00:00Z' };
 * store.apply({ ...base, type: 'queued' });
 * ```
 */
export interface TaskEventBase {
  /** The product (feature collection) the export belongs to. */
  readonly product_id: string;
  /** The export's id. */
  readonly export_id: string;
  /** Per-task sequence number: 1, 2, 3, ... without gaps, assigned by the backend. */
  readonly seq: number;
  /** ISO-8601 UTC time at which the backend emitted the event. */
  readonly time: string;
}

/**
 * The export was accepted and waits for a worker.
 *
 * @example
 * ```ts
 * const queued: QueuedEvent = { type: 'queued', product_id: 'roads', export_id: 'e1', seq: 1, time: '2026-01-01T00:00:00Z' };
 * ```
 */
export interface QueuedEvent extends TaskEventBase {
  /** The event's type. */
  readonly type: 'queued';
}

/**
 * A worker started the export.
 *
 * @example
 * ```ts
 * const started: StartedEvent = { type: 'started', product_id: 'roads', export_id: 'e1', seq: 2, time: '2026-01-01T00:00:01Z' };
 * ```
 */
export interface StartedEvent extends TaskEventBase {
  /** The event's type. */
  readonly type: 'started';
}

/**
 * The export advanced.
 *
 * @example
 * ```ts
 * const progress: ProgressEvent = { type: 'progress', product_id: 'roads', export_id: 'e1', seq: 3, time: '2026-01-01T00:00:02Z', fraction: 0.5, message: 'scanned 5000 features' };
 * ```
 */
export interface ProgressEvent extends TaskEventBase {
  /** The event's type. */
  readonly type: 'progress';
  /** How much is done, from 0 to 1. */
  readonly fraction: number;
  /** What the job is doing, for people ("scanned 5000 features"). */
  readonly message?: string | undefined;
}

/**
 * The export wrote a line to its log.
 *
 * @example
 * ```ts
 * const log: LogEvent = { type: 'log', product_id: 'roads', export_id: 'e1', seq: 4, time: '2026-01-01T00:00:02Z', line: 'reading part 2 of 4' };
 * ```
 */
export interface LogEvent extends TaskEventBase {
  /** The event's type. */
  readonly type: 'log';
  /** The line, without its line break. */
  readonly line: string;
}

/**
 * The export finished and its file is in storage.
 *
 * @example
 * ```ts
 * const succeeded: SucceededEvent = {
 *   type: 'succeeded', product_id: 'roads', export_id: 'e1', seq: 5, time: '2026-01-01T00:00:03Z',
 *   runtime: 1.2, peak_memory_usage: 48_000_000, key: 'exports/roads.ndjson',
 *   labels: ['roads', 'e1', 'export', 'exports/roads.ndjson'], size_bytes: 1024, sha256: 'ab12…',
 * };
 * ```
 */
export interface SucceededEvent extends TaskEventBase {
  /** The event's type. */
  readonly type: 'succeeded';
  /** CPU seconds the job used. */
  readonly runtime: number;
  /** Peak memory the job used, in bytes. */
  readonly peak_memory_usage: number;
  /** Storage key of the exported file. */
  readonly key: string;
  /** DL's labels; the element at index 3 is the key. */
  readonly labels: readonly string[];
  /** Size of the exported file, in bytes. */
  readonly size_bytes: number;
  /** Lower-case hex SHA-256 of the exported file. */
  readonly sha256: string;
}

/**
 * The export failed.
 *
 * @example
 * ```ts
 * const failed: FailedEvent = {
 *   type: 'failed', product_id: 'roads', export_id: 'e1', seq: 5, time: '2026-01-01T00:00:03Z',
 *   failure_type: 'exception', exception_name: 'QueryTypeError', stacktrace: 'QueryTypeError: ...', runtime: 0.1, peak_memory_usage: null,
 * };
 * ```
 */
export interface FailedEvent extends TaskEventBase {
  /** The event's type. */
  readonly type: 'failed';
  /** Why it failed (`exception`, `oom`, `timeout`, `cancelled`, `internal`, ...), or null. */
  readonly failure_type: FailureType | null;
  /** The name of the exception the job raised, if any. */
  readonly exception_name: string | null;
  /** The job's stack trace (or the service's explanation), if any. */
  readonly stacktrace: string | null;
  /** CPU seconds the job used, when known. */
  readonly runtime: number | null;
  /** Peak memory the job used, in bytes, when known. */
  readonly peak_memory_usage: number | null;
  /** The storage key the export would have written, when the backend says it. */
  readonly key?: string | undefined;
  /** DL's labels, when the backend sends them; the element at index 3 is the key. */
  readonly labels?: readonly string[] | undefined;
}

/**
 * Someone asked to cancel the export; it stays where it is until it fails as `cancelled`.
 *
 * @example
 * ```ts
 * const cancel: CancelRequestedEvent = { type: 'cancel_requested', product_id: 'roads', export_id: 'e1', seq: 3, time: '2026-01-01T00:00:02Z' };
 * ```
 */
export interface CancelRequestedEvent extends TaskEventBase {
  /** The event's type. */
  readonly type: 'cancel_requested';
}

/**
 * The result attributes of a final export, as the DL result route sends them.
 *
 * @example
 * ```ts
 * const page = await client.backend.listExports('roads');
 * const attributes: WireAttributes | null | undefined = page.data[0]?.attributes;
 * console.log(attributes?.status, attributes?.size_bytes);
 * ```
 */
export interface WireAttributes {
  /** When the export was created (ISO-8601 UTC). */
  readonly created: string | null;
  /** The outcome. */
  readonly status: 'SUCCESS' | 'FAILURE';
  /** Why it failed (`exception`, `oom`, `timeout`, `cancelled`, `internal`, ...), or null. */
  readonly failure_type: FailureType | null;
  /** The name of the exception the job raised, if any. */
  readonly exception_name: string | null;
  /** The job's stack trace (or the service's explanation), if any. */
  readonly stacktrace: string | null;
  /** Peak memory the job used, in bytes, when known. */
  readonly peak_memory_usage: number | null;
  /** CPU seconds the job used, when known. */
  readonly runtime: number | null;
  /** DL's labels; the element at index 3 is the key. */
  readonly labels: readonly string[] | null;
  /** Storage key of the exported file. */
  readonly key: string | null;
  /** Size of the exported file, in bytes; null when it failed. */
  readonly size_bytes: number | null;
  /** Lower-case hex SHA-256 of the exported file; null when it failed. */
  readonly sha256: string | null;
}

/**
 * The whole state of a task as of `seq` (from a poll, a list or a resync). It replaces what
 * the task knew, except that phase and progress never go back.
 *
 * @example
 * ```ts
 * const snapshot: SnapshotEvent = {
 *   type: 'snapshot', product_id: 'roads', export_id: 'e1', seq: 3, time: '2026-01-01T00:00:02Z',
 *   phase: 'running', progress: 0.4, attributes: null,
 * };
 * store.apply(snapshot);
 * ```
 */
export interface SnapshotEvent extends TaskEventBase {
  /** The event's type. */
  readonly type: 'snapshot';
  /** The phase as of `seq`. */
  readonly phase: TaskPhase;
  /** How much is done, from 0 to 1, as of `seq`. */
  readonly progress: number;
  /** Present (not null) exactly when `phase` is final. */
  readonly attributes: WireAttributes | null;
  /** The task's log lines as of `seq`, when the backend sends them. */
  readonly log?: readonly string[] | undefined;
  /** The latest progress message, if any. */
  readonly message?: string | null | undefined;
  /** Whether a cancel was asked, when the backend says. */
  readonly cancel_requested?: boolean | undefined;
  /** When the export was created, when the backend sends it. */
  readonly created?: string | null | undefined;
}

/**
 * Any event of the backend's stream. Narrow it by `type`.
 *
 * @example
 * ```ts
 * function describe(event: TaskEvent): string {
 *   switch (event.type) {
 *     case 'progress': return `${Math.round(event.fraction * 100)}%`;
 *     case 'failed': return `failed: ${event.failure_type}`;
 *     default: return event.type;
 *   }
 * }
 * ```
 */
export type TaskEvent =
  | QueuedEvent
  | StartedEvent
  | ProgressEvent
  | LogEvent
  | SucceededEvent
  | FailedEvent
  | SnapshotEvent
  | CancelRequestedEvent;

/**
 * The `type` of every event.
 *
 * @example
 * ```ts
 * const counts = new Map<TaskEventType, number>(TASK_EVENT_TYPES.map((type) => [type, 0]));
 * ```
 */
export type TaskEventType = TaskEvent['type'];

/**
 * The event of a given `type`.
 *
 * @example
 * ```ts
 * const onProgress = (event: TaskEventOf<'progress'>): void => console.log(event.fraction);
 * ```
 */
export type TaskEventOf<TType extends TaskEventType> = Extract<TaskEvent, { type: TType }>;

/**
 * Every event type, in a fixed order.
 *
 * @example
 * ```ts
 * const known = (type: string): type is TaskEventType => (TASK_EVENT_TYPES as readonly string[]).includes(type);
 * ```
 */
export const TASK_EVENT_TYPES: readonly TaskEventType[] = [
  'queued',
  'started',
  'progress',
  'log',
  'succeeded',
  'failed',
  'snapshot',
  'cancel_requested',
];

/**
 * Whether `phase` is final (`success` or `failure`): read from the machine's own final states
 * (`exportTaskMachine`), the one definition of final the store, its waits and the client use.
 *
 * @example
 * ```ts
 * if (isFinalPhase(task.snapshot.phase)) console.log('done:', task.snapshot.attributes?.status);
 * ```
 */
export function isFinalPhase(phase: TaskPhase): phase is FinalPhase {
  return FINAL[phase] === true;
}
