/**
 * The backend's events, exactly as they travel on the wire (snake_case JSON, one object per
 * event). {@link parseTaskEvent} turns untrusted input into one of these.
 *
 * @packageDocumentation
 */

/** The phases of an export task, in the order they are reached. */
export type TaskPhase = 'pending' | 'running' | 'success' | 'failure';

/** The two final phases. */
export type FinalPhase = 'success' | 'failure';

/**
 * Why an export failed. The well-known values are listed; any other string a server sends
 * (DL servers also send `executable_failure`) is kept as it is, never rejected.
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

/** The fields every event carries. */
export interface TaskEventBase {
  readonly product_id: string;
  readonly export_id: string;
  /** Per-task sequence number: 1, 2, 3, ... without gaps, assigned by the backend. */
  readonly seq: number;
  /** ISO-8601 UTC time at which the backend emitted the event. */
  readonly time: string;
}

/** The export was accepted and waits for a worker. */
export interface QueuedEvent extends TaskEventBase {
  readonly type: 'queued';
}

/** A worker started the export. */
export interface StartedEvent extends TaskEventBase {
  readonly type: 'started';
}

/** The export advanced. */
export interface ProgressEvent extends TaskEventBase {
  readonly type: 'progress';
  /** How much is done, from 0 to 1. */
  readonly fraction: number;
  readonly message?: string | undefined;
}

/** The export wrote a line to its log. */
export interface LogEvent extends TaskEventBase {
  readonly type: 'log';
  readonly line: string;
}

/** The export finished and its file is in storage. */
export interface SucceededEvent extends TaskEventBase {
  readonly type: 'succeeded';
  /** CPU seconds the job used. */
  readonly runtime: number;
  /** Peak memory the job used, in bytes. */
  readonly peak_memory_usage: number;
  /** Storage key of the exported file. */
  readonly key: string;
  /** DL's labels; the element at index 3 is the key. */
  readonly labels: readonly string[];
  readonly size_bytes: number;
  /** Lower-case hex SHA-256 of the exported file. */
  readonly sha256: string;
}

/** The export failed. */
export interface FailedEvent extends TaskEventBase {
  readonly type: 'failed';
  readonly failure_type: FailureType | null;
  readonly exception_name: string | null;
  readonly stacktrace: string | null;
  readonly runtime: number | null;
  readonly peak_memory_usage: number | null;
  /** The storage key the export would have written, when the backend says it. */
  readonly key?: string | undefined;
  readonly labels?: readonly string[] | undefined;
}

/** Someone asked to cancel the export; it stays where it is until it fails as `cancelled`. */
export interface CancelRequestedEvent extends TaskEventBase {
  readonly type: 'cancel_requested';
}

/** The result attributes of a final export, as the DL result route sends them. */
export interface WireAttributes {
  readonly created: string | null;
  readonly status: 'SUCCESS' | 'FAILURE';
  readonly failure_type: FailureType | null;
  readonly exception_name: string | null;
  readonly stacktrace: string | null;
  readonly peak_memory_usage: number | null;
  readonly runtime: number | null;
  readonly labels: readonly string[] | null;
  readonly key: string | null;
  readonly size_bytes: number | null;
  readonly sha256: string | null;
}

/**
 * The whole state of a task as of `seq` (from a poll, a list or a resync). It replaces what
 * the task knew, except that phase and progress never go back.
 */
export interface SnapshotEvent extends TaskEventBase {
  readonly type: 'snapshot';
  readonly phase: TaskPhase;
  readonly progress: number;
  /** Present (not null) exactly when `phase` is final. */
  readonly attributes: WireAttributes | null;
  /** The task's log lines as of `seq`, when the backend sends them. */
  readonly log?: readonly string[] | undefined;
  readonly message?: string | null | undefined;
  readonly cancel_requested?: boolean | undefined;
  /** When the export was created, when the backend sends it. */
  readonly created?: string | null | undefined;
}

/** Any event of the backend's stream. Narrow it by `type`. */
export type TaskEvent =
  | QueuedEvent
  | StartedEvent
  | ProgressEvent
  | LogEvent
  | SucceededEvent
  | FailedEvent
  | SnapshotEvent
  | CancelRequestedEvent;

/** The `type` of every event. */
export type TaskEventType = TaskEvent['type'];

/** The event of a given `type`. */
export type TaskEventOf<TType extends TaskEventType> = Extract<TaskEvent, { type: TType }>;

/** Every event type, in a fixed order. */
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

/** Whether `phase` is final (`success` or `failure`). */
export function isFinalPhase(phase: TaskPhase): phase is FinalPhase {
  return phase === 'success' || phase === 'failure';
}
