/**
 * The store executes the machine's transitions without an actor (compiled from the machine
 * definition). These tests check that fast path against the reference, XState itself: its pure
 * `initialTransition()`/`transition()` and a real actor, on generated histories, hostile
 * deliveries of them, and arbitrary valid events.
 */
import fc from 'fast-check';
import { createActor, initialTransition, transition, type SnapshotFrom } from 'xstate';
import { describe, expect, it } from 'vitest';
import { exportTaskMachine } from '../../machines/export-task.js';
import type { TaskEvent } from '../../src/core/events.js';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';
import { TaskStore } from '../../src/core/task-store.js';
import { hostileDeliveryArb, taskEventArb, taskHistoryArb } from '../../src/testing/arbitraries.js';

type MachineSnapshot = SnapshotFrom<typeof exportTaskMachine>;

/**
 * The sequencing rule of SPEC section 2, written out independently of the store: the events
 * the machine receives, in order. Duplicates are dropped, early events wait for their gap, and
 * a snapshot above the cursor is applied at once, jumps the cursor to its seq and drops the
 * held events it covers.
 */
function sequence(delivery: readonly TaskEvent[]): { applied: TaskEvent[]; cursor: number } {
  let cursor = 0;
  const held = new Map<number, TaskEvent>();
  const applied: TaskEvent[] = [];
  const drain = () => {
    for (let next = held.get(cursor + 1); next !== undefined; next = held.get(cursor + 1)) {
      held.delete(next.seq);
      applied.push(next);
      cursor = next.seq;
    }
  };
  for (const event of delivery) {
    if (event.type === 'snapshot') {
      if (event.seq <= cursor) continue;
      applied.push(event);
      cursor = event.seq;
      for (const seq of [...held.keys()]) if (seq <= cursor) held.delete(seq);
      drain();
    } else if (event.seq <= cursor || held.has(event.seq)) {
      continue;
    } else if (event.seq > cursor + 1) {
      held.set(event.seq, event);
    } else {
      applied.push(event);
      cursor = event.seq;
      drain();
    }
  }
  return { applied, cursor };
}

/** XState's own fold of in-order events. */
function xstateFold(input: { productId: string; exportId: string }, events: readonly TaskEvent[]): MachineSnapshot[] {
  const states: MachineSnapshot[] = [initialTransition(exportTaskMachine, input)[0]];
  for (const event of events) states.push(transition(exportTaskMachine, states.at(-1)!, event)[0]);
  return states;
}

function expectSameState(snapshot: ExportTaskSnapshot | undefined, reference: MachineSnapshot): void {
  expect(snapshot).toBeDefined();
  const { phase, seq: _seq, ...context } = snapshot!;
  expect(phase).toBe(reference.value);
  expect(context).toEqual(reference.context);
}

/** Folds `delivery` through a store and checks it against XState and a real actor. */
function compare(delivery: readonly TaskEvent[]): void {
  const first = delivery[0]!;
  const input = { productId: first.product_id, exportId: first.export_id };
  // Holding is unbounded in the reference sequencer, so the store must not overflow either.
  const store = new TaskStore({ maxHeld: Number.MAX_SAFE_INTEGER });
  const received: TaskEvent[] = [];
  store.appliedEvents(input.exportId).subscribe((e) => received.push(e));
  for (const event of delivery) store.apply(event);

  // With a step listener the store copies a new task's first state instead of folding into it
  // in place (the listener sees it as it was): both ways end in the same snapshot.
  const inspected = new TaskStore({ maxHeld: Number.MAX_SAFE_INTEGER });
  const befores: ExportTaskSnapshot[] = [];
  inspected.onStep((_event, before) => befores.push(before));
  for (const event of delivery) inspected.apply(event);
  expect(inspected.get(input.exportId)).toEqual(store.get(input.exportId));
  if (befores.length > 0) expect(befores[0]).toMatchObject({ phase: 'pending', seq: 0, progress: 0, attributes: null, log: [] });

  const { applied, cursor } = sequence(delivery);
  const states = xstateFold(input, applied);
  const reference = states.at(-1)!;
  const snapshot = store.get(input.exportId);
  expectSameState(snapshot, reference);
  // The store fed its machine the same events, in the same order (its stream ends once final).
  const finalAt = states.findIndex((s) => s.status === 'done');
  // The cursor, unless the task is final: then the event that made it final (a final snapshot never changes).
  expect(snapshot!.seq).toBe(finalAt === -1 ? cursor : applied[finalAt - 1]!.seq);

  expect(received).toEqual(applied.slice(0, received.length));
  expect(received.length).toBeGreaterThanOrEqual(finalAt === -1 ? applied.length : finalAt);

  // A real actor fed the same events ends in the same state. (A done actor takes no more events.)
  const actor = createActor(exportTaskMachine, { input }).start();
  for (const event of applied) {
    if (actor.getSnapshot().status === 'done') break;
    actor.send(event);
  }
  expectSameState(snapshot, actor.getSnapshot());
  actor.stop();
}

const historyArb = fc.oneof(
  taskHistoryArb(),
  taskHistoryArb({ order: 'any' }),
  taskHistoryArb({ fractions: 'non-decreasing', terminal: 'always' }),
  // Without snapshots, every event reaches the machine.
  taskHistoryArb({ order: 'any', maxSnapshots: 0 }),
);

describe('the store against XState', () => {
  it('agrees on in-order histories', () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        compare(history);
      }),
    );
  });

  it('agrees on hostile deliveries (reordered, duplicated, lossy but covered by snapshots)', () => {
    fc.assert(
      fc.property(
        historyArb.chain((history) => hostileDeliveryArb(history)),
        (delivery) => {
          compare(delivery);
        },
      ),
    );
  });

  it('agrees on any valid events at all, in any order (untruthful snapshots, conflicting terminal events)', () => {
    const soup = fc.array(taskEventArb({ productId: 'roads', exportId: 'e1', seq: fc.integer({ min: 1, max: 20 }) }), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(soup, (events) => {
        compare(events);
      }),
    );
  });

  it('agrees at every step of an in-order history, not only at the end', () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const first = history[0]!;
        const input = { productId: first.product_id, exportId: first.export_id };
        const store = new TaskStore();
        let reference = initialTransition(exportTaskMachine, input)[0];
        let cursor = 0;
        for (const event of history) {
          store.apply(event);
          if (event.seq > cursor) {
            reference = transition(exportTaskMachine, reference, event)[0];
            cursor = event.seq;
          }
          expectSameState(store.get(input.exportId), reference);
        }
      }),
    );
  });
});
