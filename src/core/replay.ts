import { InvalidEventError } from './errors.js';
import { parseTaskEvent } from './parse-task-event.js';
import type { ExportTaskSnapshot } from './snapshot.js';
import { TaskStore } from './task-store.js';

/**
 * Folds one task's history into its snapshot: a pure function of the events (in any order,
 * with duplicates: the result is that of in-order delivery) and of the snapshot to start from.
 * Events after a gap that nothing fills are left out; the snapshot's `seq` says how far it got
 * (for a final task, the event that made it final: later events change nothing).
 *
 * @example
 * ```ts
 * const snapshot = replay(events);            // from the start
 * const later = replay(newEvents, snapshot);  // resume from a persisted snapshot
 * ```
 * @param events - Wire events (objects or JSON text) of one task.
 * @param from - A snapshot to resume from (its `seq` is the cursor).
 * @returns The snapshot after the events.
 * @throws {@link InvalidEventError} for a malformed event or one of another task.
 * @throws TypeError when `from` is not a valid snapshot, or there is neither an event nor `from`.
 */
export function replay(events: Iterable<unknown>, from?: ExportTaskSnapshot): ExportTaskSnapshot {
  const store = new TaskStore({ maxHeld: Number.MAX_SAFE_INTEGER });
  let exportId = from === undefined ? undefined : store.restore(from).exportId;
  for (const input of events) {
    const event = parseTaskEvent(input);
    if (exportId === undefined) exportId = event.export_id;
    else if (event.export_id !== exportId) {
      throw new InvalidEventError('export_id', event.export_id, `"${exportId}": replay() folds one task's history`);
    }
    store.applyEvent(event);
  }
  if (exportId === undefined) throw new TypeError('replay(): expected at least one event or a snapshot to start from');
  return store.get(exportId)!;
}
