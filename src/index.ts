/**
 * export-task: start long-running export jobs on a backend and track them correctly.
 *
 * Runs in Node and in browsers: what only Node needs (the embedded service's worker threads and
 * files, writing downloads to a path) is loaded on first use only.
 *
 * @packageDocumentation
 */

export { exportTaskMachine, attributesFromWire } from '../machines/export-task.js';
export type { ExportTaskMachine, ExportTaskInput } from '../machines/export-task.js';

export { parseTaskEvent, EVENT_LIMITS } from './core/parse-task-event.js';
export { parseSnapshot } from './core/parse-snapshot.js';
export { replay } from './core/replay.js';
export { TaskStore } from './core/task-store.js';
export type { TaskStoreOptions, SettledOptions, TaskDiagnostic, ResyncRequest } from './core/task-store.js';
export { inspectStore } from './core/inspect-store.js';
export type { TaskInspector, InspectedTaskRef, InspectionSubscription } from './core/inspect-store.js';
export { TransientResultError, TimeoutError, NoResultError, InvalidEventError, ClientClosedError, ExportLostError } from './core/errors.js';
export { isFinalPhase, TASK_EVENT_TYPES } from './core/events.js';
export type {
  TaskEvent,
  TaskEventType,
  TaskEventOf,
  TaskEventBase,
  TaskPhase,
  FinalPhase,
  FailureType,
  QueuedEvent,
  StartedEvent,
  ProgressEvent,
  LogEvent,
  SucceededEvent,
  FailedEvent,
  SnapshotEvent,
  CancelRequestedEvent,
  WireAttributes,
} from './core/events.js';
export type { ExportTaskSnapshot, ExportTaskAttributes, ExportTaskContext } from './core/snapshot.js';

export { createClient } from './client/create-client.js';
export type { ClientOptions, ExportClient } from './client/create-client.js';
export type { OutgoingRequest } from './client/http/http-request.js';
export { ExportTask } from './client/export-task.js';
export type { GetResultOptions, GetFileOptions, TaskActorOptions } from './client/export-task.js';
export { FeatureCollection } from './client/feature-collection.js';
export type { ExportOptions, SignalOptions } from './client/feature-collection.js';
export { asCompleted } from './client/as-completed.js';
export type { AsCompletedOptions } from './client/as-completed.js';
export { DownloadVerificationError } from './client/download.js';
export type { FileTarget } from './client/download.js';
export {
  HttpError,
  BadRequestError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  ConflictError,
  RateLimitError,
  ServerError,
  GatewayTimeoutError,
  RequestTimeoutError,
} from './client/http-errors.js';
export type { ExportBackend, ExportRequest, ExportLimits, ExportPage, ProductInfo, BackendEvent, EventsOptions } from './client/backend.js';
export type { Feature, FeatureCollectionJson, Geometry, ExportQuery, QueryExpr, QueryValue } from './client/geojson.js';
export { createEmbeddedBackend } from './server/embedded/create-embedded-backend.js';
export type { EmbeddedBackendOptions } from './server/embedded/create-embedded-backend.js';
