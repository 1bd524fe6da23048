/**
 * `export-task/testing`: what an application needs to test its own code against every path an
 * export task can take and every way its events can arrive.
 *
 * - fast-check arbitraries of valid task histories ({@link taskHistoryArb}, with an `outcome`
 *   of success, failure of any type, cancel, or unfinished), of hostile deliveries of a history
 *   ({@link hostileDeliveryArb}, {@link hostileStreamArb}: duplicated, reordered, delayed,
 *   dropped then resynced, malformed events, disconnects) and of malformed events;
 * - test backends for `createClient({ backend })`: {@link createTestBackend}, moved by hand, and
 *   {@link createScheduledBackend}, whose deliveries `fc.scheduler()` decides, so races are
 *   explored, shrunk and replayed from the seed;
 * - a {@link ManualClock} for the `clock` option of `TaskStore` and `createClient`, so timeouts
 *   are tested without global fake timers;
 * - the machine's test model ({@link createTaskTestModel}, `createTestModel` from
 *   `xstate/graph`) and its paths as events ({@link taskPaths}, {@link forEachTaskPath}).
 *
 * `fast-check` (4 or later) is an optional peer dependency of this subpath only.
 *
 * @packageDocumentation
 */

export { ManualClock } from './manual-clock.js';
export {
  taskEventArb,
  taskHistoryArb,
  hostileDeliveryArb,
  multiTaskStreamArb,
  malformedEventArb,
  snapshotEventFrom,
  TASK_OUTCOMES,
} from './arbitraries.js';
export type {
  TaskEventArbOptions,
  TaskHistoryOptions,
  TaskOutcome,
  HostileDeliveryOptions,
  MultiTaskStreamOptions,
  MultiTaskStream,
  MalformedEvent,
  MalformedEventOptions,
} from './arbitraries.js';
export { hostileStreamArb, applyDelivery } from './hostile-stream-arb.js';
export type { DeliveryStep, HostileStream, HostileStreamOptions } from './hostile-stream-arb.js';
export { createTestBackend } from './test-backend.js';
export type { TestBackend, TestBackendOptions, TestBackendRequests } from './test-backend.js';
export { createScheduledBackend } from './scheduled-backend.js';
export type { ScheduledBackend, ScheduledBackendOptions, ScheduledRequest, ReconnectOptions } from './scheduled-backend.js';
export { createTaskTestModel, taskPaths, forEachTaskPath } from './task-paths.js';
export type { TaskPath, TaskPathStep, TaskPathOptions, TaskPathCoverage } from './task-paths.js';
