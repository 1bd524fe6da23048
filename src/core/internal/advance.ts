import type { TaskEvent } from '../events.js';
import type { ExportTaskSnapshot } from '../snapshot.js';
import { assignAll, enabledTransition, FINAL, INITIAL_PHASE, initialContext, type Args } from './compiled-machine.js';
import type { Writable } from '../../internal/writable.js';

/** A task the store has just heard of: the machine's initial state, before any event (seq 0). */
export function initialSnapshot(productId: string, exportId: string): ExportTaskSnapshot {
  // The machine's fresh context literal, completed in place: not a spread (why: BENCHMARKS.md, "Shapes the numbers chose").
  const snapshot = initialContext({ productId, exportId }) as Writable<ExportTaskSnapshot>;
  snapshot.phase = INITIAL_PHASE;
  snapshot.seq = 0;
  return snapshot;
}

/**
 * Applies one event that comes next in the task's order (its seq follows the cursor, or it is
 * a newer snapshot) and answers the new snapshot, whose `seq` is the event's. What the event
 * does is the machine's business; an event the machine ignores before the task is final still
 * moves `seq` (a persisted snapshot resumes from it). A final snapshot never changes: for any
 * event it is answered as it is, without a copy (the store keeps its cursor apart; XState's
 * `transition()` likewise answers a done snapshot unchanged). With `owned` (a snapshot nobody
 * else holds yet, such as a new task's first state), the snapshot is updated in place.
 */
export function advance(snapshot: ExportTaskSnapshot, event: TaskEvent, owned: boolean): ExportTaskSnapshot {
  if (FINAL[snapshot.phase]) return snapshot;
  // One macrostep of the machine, written straight into the new snapshot.
  const args: Args = { context: snapshot, event };
  const transition = enabledTransition(snapshot.phase, args);
  let result: Writable<ExportTaskSnapshot>;
  if (transition === undefined) {
    result = owned ? snapshot : { ...snapshot };
  } else {
    result = assignAll(transition, args, owned);
    if (result === snapshot && !owned) result = { ...snapshot };
    if (transition.target !== undefined) result.phase = transition.target;
  }
  result.seq = event.seq;
  return result;
}
