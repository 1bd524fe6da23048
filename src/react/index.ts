/**
 * export-task/react: React hooks for export tasks. `react` (18.3 or 19) is an optional peer
 * dependency of this subpath only; the package's main entry never loads it.
 *
 * @packageDocumentation
 */

export { useExportTask } from './use-export-task.js';
export type { ObservableTask } from './use-export-task.js';
export { useTaskStore, shallowEqual } from './use-task-store.js';
export type { ObservableStore } from './use-task-store.js';
export { useStartExport } from './use-start-export.js';
export type { StartExport, StartExportOptions, StartCallbacks, StartStatus, StartVariables, ExportStarter, StartedTask } from './use-start-export.js';
export { useTaskActor } from './use-task-actor.js';
export type { ActorTask, StoppableActor } from './use-task-actor.js';
export { useExports } from './use-exports.js';
export type { ExportLister, ExportStore, ExportsResult, UseExportsOptions } from './use-exports.js';
