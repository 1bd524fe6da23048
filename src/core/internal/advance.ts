import type { TaskEvent } from '../events.js';
import type { ExportTaskSnapshot } from '../snapshot.js';
import { INITIAL_PHASE, initialContext, step } from './compiled-machine.js';

/** A task the store has just heard of: the machine's initial state, before any event (seq 0). */
export function initialSnapshot(productId: string, exportId: string): ExportTaskSnapshot {
  // Not `{ ...context, phase, seq }`: in V8 (Node 20) a spread followed by a property its source
  // lacks gives nearly every object a hidden class of its own, which cost microseconds per new
  // task (BENCHMARKS.md, "Profiles and optimisations"). Properties added to a fresh literal follow
  // cached transitions, so every snapshot shares one hidden class.
  const snapshot = Object.assign({}, initialContext({ productId, exportId })) as { -readonly [K in keyof ExportTaskSnapshot]: ExportTaskSnapshot[K] };
  snapshot.phase = INITIAL_PHASE;
  snapshot.seq = 0;
  return snapshot;
}

/**
 * Applies one event that comes next in the task's order (its seq follows the snapshot's, or
 * it is a newer snapshot) and answers the new snapshot, whose cursor is the event's seq.
 * What the event does is the machine's business; an event the machine ignores (any event
 * once final) still moves the cursor.
 */
export function advance(snapshot: ExportTaskSnapshot, event: TaskEvent): ExportTaskSnapshot {
  const next = step(snapshot.phase, snapshot, event);
  if (next === undefined) return { ...snapshot, seq: event.seq };
  const result = next.context === snapshot ? { ...snapshot } : next.context;
  (result as { phase: ExportTaskSnapshot['phase'] }).phase = next.phase;
  (result as { seq: number }).seq = event.seq;
  return result;
}
