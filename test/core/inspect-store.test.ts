import fc from 'fast-check';
import { createActor, type InspectionEvent } from 'xstate';
import { describe, expect, it } from 'vitest';
import { exportTaskMachine } from '../../machines/export-task.js';
import type { TaskEvent } from '../../src/core/events.js';
import { inspectStore } from '../../src/core/inspect-store.js';
import { TaskStore } from '../../src/core/task-store.js';
import { hostileDeliveryArb, taskHistoryArb } from '../../src/testing/index.js';

/** What an inspector shows of an inspection event: its kind, the event, the state and context. */
function meaningful(e: InspectionEvent): unknown {
  switch (e.type) {
    case '@xstate.actor':
      return { type: e.type };
    case '@xstate.event':
      return { type: e.type, event: e.event, source: e.sourceRef };
    case '@xstate.snapshot':
    case '@xstate.microstep': {
      const s = e.snapshot as { value: unknown; status: unknown; context: unknown; output: unknown; error: unknown };
      const transitions =
        e.type === '@xstate.microstep' ? e._transitions.map((t) => ({ event: String(t.eventType), source: t.source.key, target: t.target?.map((n) => n.key) })) : undefined;
      return { type: e.type, event: e.event, value: s.value, status: s.status, context: s.context, output: s.output, error: s.error, transitions };
    }
    default:
      return { type: e.type };
  }
}

/** What `createActor(exportTaskMachine, { inspect })` emits when sent `events`, in order. */
function fromActor(productId: string, exportId: string, events: readonly TaskEvent[]): InspectionEvent[] {
  const seen: InspectionEvent[] = [];
  const actor = createActor(exportTaskMachine, { input: { productId, exportId }, inspect: (e) => seen.push(e) }).start();
  for (const event of events) actor.send(event);
  // Stopping emits `xstate.stop` events, which have no counterpart: a task is never stopped.
  const sent = [...seen];
  actor.stop();
  return sent;
}

const realEvents = (history: readonly TaskEvent[]): TaskEvent[] => history.filter((e) => e.type !== 'snapshot');

describe('inspectStore', () => {
  it('emits what an actor of the machine emits for the same events: actor, init, then event, microstep and snapshot per event', () => {
    fc.assert(
      fc.property(taskHistoryArb({ maxSnapshots: 0, maxEvents: 8 }), (history) => {
        const store = new TaskStore();
        const seen: InspectionEvent[] = [];
        const inspection = inspectStore(store, (e) => seen.push(e));
        for (const event of history) store.apply(event);
        inspection.unsubscribe();
        const { product_id, export_id } = history[0]!;
        expect(seen.map(meaningful)).toEqual(fromActor(product_id, export_id, history).map(meaningful));
      }),
    );
  });

  it('emits the same for any reordered, duplicated delivery: events appear as the store applies them, in seq order', () => {
    const arb = taskHistoryArb({ maxSnapshots: 0, maxEvents: 8 }).chain((history) => hostileDeliveryArb(history, { drop: false }).map((delivery) => ({ history, delivery })));
    fc.assert(
      fc.property(arb, ({ history, delivery }) => {
        const store = new TaskStore();
        const seen: InspectionEvent[] = [];
        const inspection = inspectStore(store, { next: (e) => seen.push(e) });
        for (const event of delivery) store.apply(event);
        inspection.unsubscribe();
        const { product_id, export_id } = history[0]!;
        expect(seen.map(meaningful)).toEqual(fromActor(product_id, export_id, realEvents(history)).map(meaningful));
      }),
    );
  });

  it('shapes the fields as XState does: one actorRef per task, its sessionId as rootId, no source, a snapshot the ref answers', () => {
    const store = new TaskStore();
    const seen: InspectionEvent[] = [];
    inspectStore(store, (e) => seen.push(e));
    const base = { product_id: 'roads', time: '2026-01-01T00:00:00.000Z' };
    store.apply({ ...base, type: 'queued', export_id: 'a', seq: 1 });
    store.apply({ ...base, type: 'queued', export_id: 'b', seq: 1 });
    store.apply({ ...base, type: 'started', export_id: 'a', seq: 2 });
    const actors = seen.filter((e) => e.type === '@xstate.actor');
    expect(actors.map((e) => e.actorRef.sessionId)).toEqual(['export-task:roads/a', 'export-task:roads/b']);
    for (const e of seen) {
      expect(e.rootId).toBe(e.actorRef.sessionId);
      if (e.type === '@xstate.event') expect(e.sourceRef).toBeUndefined();
    }
    const refA = actors[0]!.actorRef;
    expect(seen.filter((e) => e.actorRef.sessionId === 'export-task:roads/a').every((e) => e.actorRef === refA)).toBe(true);
    expect(refA.getSnapshot()).toMatchObject({ value: 'running', status: 'active', context: { exportId: 'a' } });
    expect((refA as unknown as { logic: unknown }).logic).toBe(exportTaskMachine);
    expect(() => refA.send({ type: 'started' })).toThrow(/Cannot send "started" to export a: a task moves only by its backend's events/);
  });

  it('answers the task as it was from getSnapshot() while the store is still folding its first event', () => {
    const store = new TaskStore();
    const values: unknown[] = [];
    inspectStore(store, (e) => {
      if (e.type === '@xstate.actor') values.push((e.actorRef.getSnapshot() as { value: unknown }).value);
    });
    store.apply({ type: 'started', product_id: 'roads', export_id: 'a', seq: 1, time: '2026-01-01T00:00:00.000Z' });
    expect(values).toEqual(['pending']);
  });

  it('starts a restored task from its restored state, as an actor restored from a snapshot would', () => {
    const store = new TaskStore();
    store.apply({ type: 'started', product_id: 'roads', export_id: 'a', seq: 1, time: '2026-01-01T00:00:00.000Z' });
    const seen: InspectionEvent[] = [];
    inspectStore(store, (e) => seen.push(e));
    store.apply({ type: 'log', product_id: 'roads', export_id: 'a', seq: 2, time: '2026-01-01T00:00:00.000Z', line: 'x' });
    const init = seen.find((e) => e.type === '@xstate.snapshot' && e.event.type === 'xstate.init');
    expect(init).toMatchObject({ snapshot: { value: 'running' } });
  });

  it('stops at unsubscribe, and costs the store nothing after', () => {
    const store = new TaskStore();
    const seen: InspectionEvent[] = [];
    const inspection = inspectStore(store, (e) => seen.push(e));
    store.apply({ type: 'queued', product_id: 'roads', export_id: 'a', seq: 1, time: '2026-01-01T00:00:00.000Z' });
    const before = seen.length;
    inspection.unsubscribe();
    store.apply({ type: 'started', product_id: 'roads', export_id: 'a', seq: 2, time: '2026-01-01T00:00:00.000Z' });
    expect(before).toBe(6);
    expect(seen).toHaveLength(before);
    expect(store.get('a')?.phase).toBe('running');
  });

  it('reports an inspector that throws on errors$, and the fold goes on unharmed', () => {
    const store = new TaskStore();
    const errors: Error[] = [];
    store.errors$.subscribe((e) => errors.push(e));
    inspectStore(store, () => {
      throw new Error('inspector down');
    });
    store.apply({ type: 'queued', product_id: 'roads', export_id: 'a', seq: 2, time: '2026-01-01T00:00:00.000Z' });
    store.apply({ type: 'started', product_id: 'roads', export_id: 'a', seq: 1, time: '2026-01-01T00:00:00.000Z' });
    expect(store.get('a')).toMatchObject({ phase: 'running', seq: 2 });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.message === 'inspector down')).toBe(true);
  });

  it('emits only the event for an event after the task is final, as a done actor does', () => {
    const store = new TaskStore();
    const seen: InspectionEvent[] = [];
    inspectStore(store, (e) => seen.push(e));
    const base = { product_id: 'roads', export_id: 'a', time: '2026-01-01T00:00:00.000Z' };
    const events: TaskEvent[] = [
      { ...base, type: 'failed', seq: 1, failure_type: 'oom', exception_name: null, stacktrace: null, runtime: null, peak_memory_usage: null },
      { ...base, type: 'log', seq: 2, line: 'late' },
      { ...base, type: 'succeeded', seq: 3, runtime: 1, peak_memory_usage: 1, key: 'k', labels: ['v', 'roads', 'a', 'k'], size_bytes: 1, sha256: 'a'.repeat(64) },
    ];
    for (const event of events) store.apply(event);
    // (A real actor warns of events sent once it is done, and emits only their @xstate.event.)
    const late = events.slice(1).map((event) => ({ type: '@xstate.event', event, source: undefined }));
    expect(seen.map(meaningful)).toEqual([...fromActor('roads', 'a', events.slice(0, 1)).map(meaningful), ...late]);
  });

  it('reports an inspector that throws something other than an Error as an Error', () => {
    const store = new TaskStore();
    const errors: Error[] = [];
    store.errors$.subscribe((e) => errors.push(e));
    inspectStore(store, () => {
      throw 'down'; // eslint-disable-line @typescript-eslint/only-throw-error -- what a careless inspector does
    });
    store.apply({ type: 'queued', product_id: 'roads', export_id: 'a', seq: 1, time: '2026-01-01T00:00:00.000Z' });
    expect(errors[0]).toBeInstanceOf(Error);
    expect(errors[0]!.message).toBe('down');
  });

  it('refuses a null inspector with its own TypeError, not a failed property read', () => {
    expect(() => inspectStore(new TaskStore(), null as never)).toThrow(/inspectStore\(\): expected `inspect` to be a function .*got null/);
  });

  it('throws a TypeError at once for an inspector that is neither a function nor an observer', () => {
    expect(() => inspectStore(new TaskStore(), { nxt: () => undefined } as never)).toThrow(
      /inspectStore\(\): expected `inspect` to be a function receiving XState inspection events, or an observer with `next`/,
    );
  });
});
