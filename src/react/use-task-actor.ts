import { useEffect } from 'react';
import { describe } from './internal/describe.js';

/**
 * What {@link useTaskActor} needs of an actor: what every XState actor has.
 *
 * @example
 * ```ts
 * const actor: StoppableActor = task.actor(); // an Actor<ExportTaskMachine> fits
 * if (actor.getSnapshot().status === 'active') actor.stop();
 * ```
 */
export interface StoppableActor {
  /** The actor's current snapshot; its `status` is `stopped` once the actor is stopped. */
  getSnapshot(): { readonly status: string };
  /** Stops the actor. */
  stop(): unknown;
}

/**
 * What {@link useTaskActor} needs of a task: its `actor()` method, which creates and starts a new
 * actor on every call. (Structural: the hook answers the very actor type the task makes,
 * `Actor<ExportTaskMachine>` for an `ExportTask`.)
 *
 * @example
 * ```ts
 * const task: ActorTask<Actor<ExportTaskMachine>> = await roads.export('exports/roads.ndjson'); // an ExportTask fits
 * ```
 */
export interface ActorTask<TActor extends StoppableActor> {
  /** Creates and starts a new actor of the task. */
  actor(): TActor;
}

interface Shared {
  readonly actor: StoppableActor;
  /** Mounted components using it. */
  users: number;
}

/** One actor per task, shared by every component showing it, stopped when the last one unmounts. */
const actors = new WeakMap<object, Shared>();

/**
 * The task's XState actor, for `@xstate/react`'s `useSelector` or an inspector: one actor per
 * task, the same object on every render and for every component that asks for it, stopped once
 * the last of them unmounts. Calling `task.actor()` in a render instead would create and start a
 * new actor on every render, each following the task until it is final.
 *
 * The actor is created at the first render that asks for it (so `useSelector` has it at once),
 * and stopped a moment after the last component using it unmounts (so StrictMode's unmount and
 * remount keep it); the next render asking for it after that gets a new one. A render React
 * discards before mounting leaves its actor for the next render of that task (it follows the task
 * until the task is final or the actor is stopped).
 *
 * @example
 * ```tsx
 * import { useTaskActor } from 'export-task/react';
 *
 * function Phase({ task }: { task: ExportTask }) {
 *   const actor = useTaskActor(task); // the same actor on every render
 *   // With @xstate/react, to re-render on each change: useSelector(actor, (snapshot) => snapshot.value)
 *   return <span>{actor.getSnapshot().value}</span>;
 * }
 * ```
 * @param task - An `ExportTask`.
 * @returns Its actor, started.
 * @throws TypeError during render when `task` has no `actor` method.
 */
export function useTaskActor<TActor extends StoppableActor>(task: ActorTask<TActor>): TActor {
  if (typeof task !== 'object' || task === null || typeof (task as Partial<ActorTask<TActor>>).actor !== 'function') {
    throw new TypeError(`useTaskActor(): expected an ExportTask (from FeatureCollection.export() or listExports()), got ${describe(task)}`);
  }
  let shared = actors.get(task);
  if (shared === undefined || shared.actor.getSnapshot().status === 'stopped') {
    shared = { actor: task.actor(), users: 0 };
    actors.set(task, shared);
  }
  const current = shared;
  useEffect(() => {
    current.users++;
    return () => {
      current.users--;
      // Later than the cleanup: StrictMode remounts at once, and finds the actor running. A
      // macrotask of the platform, not the client's clock: it defers past React's remount and
      // measures no time, and a simulated clock that is never advanced would keep the actor.
      setTimeout(() => {
        if (current.users > 0) return;
        current.actor.stop();
        if (actors.get(task) === current) actors.delete(task);
      }, 0);
    };
  }, [current, task]);
  return current.actor as TActor;
}
