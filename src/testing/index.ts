/**
 * `export-task/testing`: what an application needs to test its own code against every path an
 * export task can take and every way its events can arrive.
 *
 * - fast-check arbitraries of valid task histories ({@link taskHistoryArb}, with an `outcome`
 *   of success, failure of any type, cancel, or unfinished), of hostile deliveries of a history
 *   ({@link hostileDeliveryArb}, {@link hostileStreamArb}: duplicated, reordered, delayed,
 *   dropped then resynced, malformed events, disconnects) and of malformed events;
 * - test backends for `createClient({ backend })`: {@link createTestBackend}, moved by hand or by
 *   simulated jobs (`backend.onExport(scriptedJob(script))`, scripts drawn by {@link jobScriptArb})
 *   over a stream with drawn faults ({@link deliveryFaultsArb}), and
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
export type { TestBackend, TestBackendOptions, TestBackendRequests, DeliveryFault } from './test-backend.js';
export { scriptedJob } from './job-simulator.js';
export type { SimulatedJob, ExportHandler, OnExportOptions, CancelPolicy, JobScript, JobStep, JobOutcome } from './job-simulator.js';
export { jobScriptArb, cancelPolicyArb, deliveryFaultsArb } from './job-arbitraries.js';
export type { JobScriptOptions } from './job-arbitraries.js';
export { createScheduledBackend } from './scheduled-backend.js';
export type { ScheduledBackend, ScheduledBackendOptions, ScheduledRequest, ReconnectOptions } from './scheduled-backend.js';
export { createTaskTestModel, taskPaths, forEachTaskPath } from './task-paths.js';
export type { TaskPath, TaskPathStep, TaskPathOptions, TaskPathCoverage, PathHooks, PlayPath } from './task-paths.js';
export { setupFastCheckReplay, replayParameters } from './replay.js';
export type { ReplayHooks, ReplayTestContext, ReplaySettings } from './replay.js';
export { lifecycleCommands, lifecycleModel, leakReport } from './lifecycle-commands.js';
export type { LifecycleModel, LifecycleExport, LifecycleReal, LifecycleCommandsOptions } from './lifecycle-commands.js';
