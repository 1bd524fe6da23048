import type { ActorRefLike, AnyEventObject, InspectionEvent, Observer, SnapshotFrom } from 'xstate';
import { exportTaskMachine, type ExportTaskMachine } from '../../machines/export-task.js';
import { describeValue } from './errors.js';
import { isFinalPhase, type TaskEvent } from './events.js';
import type { ExportTaskSnapshot } from './snapshot.js';
import type { TaskStore } from './task-store.js';

/**
 * What receives inspection events: a function, or an observer such as
 * `createBrowserInspector().inspect` from `@statelyai/inspect` (the two forms `createActor`'s
 * `inspect` option takes).
 *
 * @example
 * ```ts
 * const log: TaskInspector = (event) => console.log(event.type, event.actorRef.sessionId);
 * const inspection = inspectStore(client.store, log);
 * ```
 */
export type TaskInspector = ((event: InspectionEvent) => void) | Observer<InspectionEvent>;

/**
 * The actor reference that inspection events of one task carry. It stands for the task as
 * the store folds it: `getSnapshot()` answers the task's current machine snapshot; `send`
 * throws, because a task moves only by its backend's events.
 *
 * @example
 * ```ts
 * inspectStore(store, (event) => {
 *   const ref = event.actorRef as InspectedTaskRef;
 *   console.log(ref.sessionId, ref.getSnapshot().value); // 'export-task:roads/e1' 'running'
 * });
 * ```
 */
export interface InspectedTaskRef extends ActorRefLike {
  /** The export id. */
  readonly id: string;
  /** `export-task:<product id>/<export id>`: the same for the same task across stores and runs. */
  readonly sessionId: string;
  /** The task's machine, so that an inspector can draw it. */
  readonly logic: ExportTaskMachine;
  /** Always undefined: a task is a root actor. */
  readonly _parent: undefined;
}

/**
 * Something to stop.
 *
 * @example
 * ```ts
 * const inspection: InspectionSubscription = inspectStore(store, (event) => console.log(event.type));
 * // later
 * inspection.unsubscribe();
 * ```
 */
export interface InspectionSubscription {
  /** Stops the inspection; the store goes on as before. */
  unsubscribe(): void;
}

type MachineSnapshot = SnapshotFrom<ExportTaskMachine>;

/** The machine snapshot an actor of the task would hold: the store's snapshot as state value and context. */
function machineSnapshotOf(snapshot: ExportTaskSnapshot): MachineSnapshot {
  const { phase, seq: _seq, ...context } = snapshot;
  return exportTaskMachine.resolveState({ value: phase, context });
}

function checkInspector(where: string, inspect: unknown): (event: InspectionEvent) => void {
  if (typeof inspect === 'function') return inspect as (event: InspectionEvent) => void;
  if (typeof inspect === 'object' && inspect !== null && typeof (inspect as Observer<InspectionEvent>).next === 'function') {
    const observer = inspect as Observer<InspectionEvent>;
    return (event) => observer.next!(event);
  }
  throw new TypeError(
    `${where}: expected \`inspect\` to be a function receiving XState inspection events, or an observer with \`next\` (such as createBrowserInspector().inspect), got ${describeValue(inspect)}`,
  );
}

/**
 * Reports what a store does to its tasks as XState inspection events, the events an actor of
 * `exportTaskMachine` would emit if it were fed each task's events: so a standard inspector
 * (Stately's `@statelyai/inspect`, or any observer of `createActor`'s `inspect` option) shows
 * every task as a live actor, although the store runs none.
 *
 * For each task, the first time the store folds one of its events: `@xstate.actor`, then
 * `@xstate.event` and `@xstate.snapshot` of `xstate.init` with the task as it was (pending,
 * unless it was restored). Then for each event the store applies (in `seq` order, without
 * duplicates): `@xstate.event`, `@xstate.microstep` (with the transitions taken) and
 * `@xstate.snapshot`; once the task is final, only `@xstate.event`, as for a done actor.
 * Events the store holds or ignores appear when, and if, they are applied. A task the store
 * only tracks (no event yet) appears with its first event; a `restore()` shows in the snapshot
 * of the next event applied after it (a restore is not an event of the machine).
 *
 * It costs nothing until called: the store checks for an inspector with one comparison per event.
 * An error thrown by the inspector goes to the store's `errors$`; the fold goes on.
 *
 * @example
 * ```ts
 * import { createBrowserInspector } from '@statelyai/inspect';
 * const inspection = inspectStore(store, createBrowserInspector().inspect);
 * // ...
 * inspection.unsubscribe();
 * ```
 * @param store - The store to watch.
 * @param inspect - A function or an observer of `InspectionEvent`s.
 * @returns A subscription; `unsubscribe()` stops the inspection.
 * @throws TypeError at once when `inspect` is neither a function nor an observer.
 */
export function inspectStore(store: TaskStore, inspect: TaskInspector): InspectionSubscription {
  const send = checkInspector('inspectStore()', inspect);
  // The store calls in the middle of a fold: an inspector that throws must not break it.
  const emit = (event: InspectionEvent): void => {
    try {
      send(event);
    } catch (error) {
      store.reportError(error instanceof Error ? error : new Error(String(error)));
    }
  };
  const refs = new Map<string, InspectedTaskRef>();
  // What each task's ref answers from getSnapshot(): the state its inspection events have
  // reached so far, as an actor's ref would (the store is committed before its listeners run).
  const current = new Map<string, ExportTaskSnapshot>();

  const refOf = (before: ExportTaskSnapshot): InspectedTaskRef => {
    const known = refs.get(before.exportId);
    if (known !== undefined) return known;
    const { productId, exportId } = before;
    const ref: InspectedTaskRef = {
      id: exportId,
      sessionId: `export-task:${productId}/${exportId}`,
      logic: exportTaskMachine,
      _parent: undefined,
      send(event: AnyEventObject) {
        throw new TypeError(
          `Cannot send ${JSON.stringify(event.type)} to export ${exportId}: a task moves only by its backend's events. Use ExportTask.cancel() to ask for a cancel.`,
        );
      },
      getSnapshot: () => machineSnapshotOf(current.get(exportId) ?? before),
    };
    refs.set(exportId, ref);
    current.set(exportId, before);
    const rootId = ref.sessionId;
    const init = { type: 'xstate.init', input: { productId, exportId } };
    emit({ type: '@xstate.actor', actorRef: ref, rootId });
    emit({ type: '@xstate.event', sourceRef: undefined, actorRef: ref, event: init, rootId });
    emit({ type: '@xstate.snapshot', actorRef: ref, event: init, snapshot: machineSnapshotOf(before), rootId });
    return ref;
  };

  const stop = store.onStep((event: TaskEvent, before: ExportTaskSnapshot, after: ExportTaskSnapshot) => {
    const actorRef = refOf(before);
    const rootId = actorRef.sessionId;
    emit({ type: '@xstate.event', sourceRef: undefined, actorRef, event, rootId });
    // A done actor drops its events: the store, too, keeps a final task as it is.
    if (isFinalPhase(before.phase)) return;
    const previous = machineSnapshotOf(before);
    const snapshot = machineSnapshotOf(after);
    const transitions = exportTaskMachine.getTransitionData(previous, event);
    current.set(event.export_id, after);
    emit({ type: '@xstate.microstep', actorRef, event, snapshot, _transitions: transitions, rootId });
    emit({ type: '@xstate.snapshot', actorRef, event, snapshot, rootId });
  });
  return { unsubscribe: stop };
}
