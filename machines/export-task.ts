import { assign, setup } from 'xstate';
import type {
  FailedEvent,
  ProgressEvent,
  SnapshotEvent,
  SucceededEvent,
  TaskEvent,
  WireAttributes,
} from '../src/core/events.js';
import type { ExportTaskAttributes, ExportTaskContext } from '../src/core/snapshot.js';

/**
 * What a task's machine is started with.
 *
 * @example
 * ```ts
 * const actor = createActor(exportTaskMachine, { input: { productId: 'roads', exportId: 'e1' } satisfies ExportTaskInput });
 * ```
 */
export interface ExportTaskInput {
  /** The product (feature collection) the export belongs to. */
  readonly productId: string;
  /** The export's id. */
  readonly exportId: string;
}

/**
 * DL's result attributes (snake_case) in the snapshot's camelCase.
 *
 * @example
 * ```ts
 * const page = await client.backend.listExports('roads');
 * const wire = page.data[0]?.attributes;
 * if (wire) console.log(attributesFromWire(wire).peakMemoryUsage); // camelCase, bytes
 * ```
 */
export function attributesFromWire(wire: WireAttributes): ExportTaskAttributes {
  return {
    status: wire.status,
    failureType: wire.failure_type,
    exceptionName: wire.exception_name,
    stacktrace: wire.stacktrace,
    runtime: wire.runtime,
    peakMemoryUsage: wire.peak_memory_usage,
    labels: wire.labels,
    key: wire.key,
    sizeBytes: wire.size_bytes,
    sha256: wire.sha256,
    created: wire.created,
  };
}

function succeededAttributes(event: SucceededEvent, created: string | null): ExportTaskAttributes {
  return {
    status: 'SUCCESS',
    failureType: null,
    exceptionName: null,
    stacktrace: null,
    runtime: event.runtime,
    peakMemoryUsage: event.peak_memory_usage,
    labels: event.labels,
    key: event.key,
    sizeBytes: event.size_bytes,
    sha256: event.sha256,
    created,
  };
}

function failedAttributes(event: FailedEvent, created: string | null): ExportTaskAttributes {
  return {
    status: 'FAILURE',
    failureType: event.failure_type,
    exceptionName: event.exception_name,
    stacktrace: event.stacktrace,
    runtime: event.runtime,
    peakMemoryUsage: event.peak_memory_usage,
    labels: event.labels ?? null,
    key: event.key ?? event.labels?.[3] ?? null,
    sizeBytes: null,
    sha256: null,
    created,
  };
}

/**
 * How one export task moves: `pending` -> `running` -> `success` | `failure` (both final).
 *
 * This is the single definition of the task's transitions. Its events are the backend's
 * (SPEC section 3) after the store has put them in `seq` order and dropped duplicates;
 * ordering is a matter of delivery, what an event does is decided here. Every rule of the
 * fold that concerns the state lives in these guards and actions:
 *
 * - the phase only moves forward: a `snapshot` that says `pending` does not take a running
 *   task back, and a `progress` event means the task has started;
 * - progress never decreases; a success sets it to 1;
 * - a final state absorbs every later event (the store reports conflicting ones as diagnostics).
 *
 * The actions are plain `assign`s of pure functions, so the store can execute this very
 * definition without an actor per task (see `src/core/internal/compiled-machine.ts`) and is
 * checked against XState's own `transition()` by the differential tests.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * const actor = createActor(exportTaskMachine, { input: { productId: 'roads', exportId: 'e1' } }).start();
 * actor.send({ type: 'started', product_id: 'roads', export_id: 'e1', seq: 1, time: new Date().toISOString() });
 * actor.getSnapshot().value; // 'running'
 * ```
 */
export const exportTaskMachine = setup({
  types: {
    context: {} as ExportTaskContext,
    events: {} as TaskEvent,
    input: {} as ExportTaskInput,
  },
  guards: {
    snapshotIsSuccess: ({ event }) => event.type === 'snapshot' && event.phase === 'success',
    snapshotIsFailure: ({ event }) => event.type === 'snapshot' && event.phase === 'failure',
    snapshotIsRunning: ({ event }) => event.type === 'snapshot' && event.phase === 'running',
  },
  actions: {
    recordCreated: assign(({ context, event }) => ({ created: context.created ?? event.time })),
    recordProgress: assign(({ context, event }) => {
      const { fraction, message } = event as ProgressEvent;
      return {
        progress: fraction > context.progress ? fraction : context.progress,
        message: message ?? context.message,
      };
    }),
    appendLog: assign(({ context, event }) => ({
      log: [...context.log, (event as { line: string }).line],
    })),
    recordCancelRequest: assign({ cancelRequested: true }),
    recordSuccess: assign(({ context, event }) => ({
      progress: 1,
      attributes: succeededAttributes(event as SucceededEvent, context.created),
    })),
    recordFailure: assign(({ context, event }) => ({
      attributes: failedAttributes(event as FailedEvent, context.created),
    })),
    // A snapshot replaces what the task knew as of its seq; progress still never goes back,
    // and what the snapshot leaves out (older servers send no log) is kept.
    applySnapshot: assign(({ context, event }) => {
      const snapshot = event as SnapshotEvent;
      const attributes = snapshot.attributes ? attributesFromWire(snapshot.attributes) : null;
      const created = snapshot.created ?? attributes?.created ?? context.created;
      return {
        progress:
          snapshot.phase === 'success' ? 1 : snapshot.progress > context.progress ? snapshot.progress : context.progress,
        message: snapshot.message === undefined ? context.message : snapshot.message,
        log: snapshot.log ?? context.log,
        cancelRequested: snapshot.cancel_requested ?? context.cancelRequested,
        created,
        attributes: attributes && attributes.created === null && created !== null ? { ...attributes, created } : attributes,
      };
    }),
  },
}).createMachine({
  id: 'exportTask',
  initial: 'pending',
  /** The task's first context: its ids, and nothing known yet. */
  context: ({ input }) => ({
    productId: input.productId,
    exportId: input.exportId,
    progress: 0,
    message: null,
    log: [],
    cancelRequested: false,
    created: null,
    attributes: null,
  }),
  states: {
    pending: {
      on: {
        queued: { actions: 'recordCreated' },
        started: { target: 'running' },
        progress: { target: 'running', actions: 'recordProgress' },
        log: { actions: 'appendLog' },
        cancel_requested: { actions: 'recordCancelRequest' },
        succeeded: { target: 'success', actions: 'recordSuccess' },
        failed: { target: 'failure', actions: 'recordFailure' },
        snapshot: [
          { guard: 'snapshotIsSuccess', target: 'success', actions: 'applySnapshot' },
          { guard: 'snapshotIsFailure', target: 'failure', actions: 'applySnapshot' },
          { guard: 'snapshotIsRunning', target: 'running', actions: 'applySnapshot' },
          { actions: 'applySnapshot' },
        ],
      },
    },
    running: {
      on: {
        progress: { actions: 'recordProgress' },
        log: { actions: 'appendLog' },
        cancel_requested: { actions: 'recordCancelRequest' },
        succeeded: { target: 'success', actions: 'recordSuccess' },
        failed: { target: 'failure', actions: 'recordFailure' },
        snapshot: [
          { guard: 'snapshotIsSuccess', target: 'success', actions: 'applySnapshot' },
          { guard: 'snapshotIsFailure', target: 'failure', actions: 'applySnapshot' },
          { actions: 'applySnapshot' },
        ],
      },
    },
    success: { type: 'final' },
    failure: { type: 'final' },
  },
});

/**
 * The machine's type, for users who type their own actors or tests.
 *
 * @example
 * ```ts
 * function startTask(machine: ExportTaskMachine, exportId: string): Actor<ExportTaskMachine> {
 *   return createActor(machine, { input: { productId: 'roads', exportId } }).start();
 * }
 * ```
 */
export type ExportTaskMachine = typeof exportTaskMachine;
