/**
 * The store delivers one event at a time: an apply made while an event is being delivered (from
 * any subscriber) is queued and applied after it, and listeners are told after the store is
 * committed. Two regressions, then a property over generated re-entrant subscribers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../src/core/events.js';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';
import { TaskStore } from '../../src/core/task-store.js';
import { hostileDeliveryArb, taskHistoryArb } from '../../src/testing/arbitraries.js';

const P = 'roads';
const T0 = '2026-01-01T00:00:00.000Z';
const ev = (type: string, seq: number, extra: Record<string, unknown> = {}) => ({ type, product_id: P, export_id: 'e', seq, time: T0, ...extra });

describe('re-entrant apply', () => {
  // Issue: a watch('e') subscriber applying seq 3 while seq 2 was delivered made a second
  // watcher see [1, 3, 2] and end on a stale snapshot.
  it('regression: a watcher that applies while an event is delivered does not reorder what another watcher sees', () => {
    const store = new TaskStore();
    store.apply(ev('queued', 1));
    const first: number[] = [];
    store.watch('e').subscribe((s) => {
      first.push(s.seq);
      if (s.seq === 2) store.apply(ev('progress', 3, { fraction: 0.5 }));
    });
    const second: ExportTaskSnapshot[] = [];
    store.watch('e').subscribe((s) => second.push(s));
    store.apply(ev('started', 2));
    expect(first).toEqual([1, 2, 3]);
    expect(second.map((s) => s.seq)).toEqual([1, 2, 3]);
    expect(second.at(-1)).toBe(store.get('e'));
    expect(store.get('e')).toMatchObject({ seq: 3, phase: 'running', progress: 0.5 });
  });

  // Issue: an appliedEvents('e') listener told of `started seq 2` read store.get('e') as seq 1, pending.
  it('regression: a listener told of an event reads the store with that event applied', () => {
    const store = new TaskStore();
    store.apply(ev('queued', 1));
    const read: [number, string | undefined, number | undefined][] = [];
    store.appliedEvents('e').subscribe((e) => read.push([e.seq, store.get('e')?.phase, store.get('e')?.seq]));
    const steps: [number, number | undefined][] = [];
    store.onStep((e) => steps.push([e.seq, store.get('e')?.seq]));
    const changes: boolean[] = [];
    store.changes$.subscribe((s) => changes.push(s === store.get('e')));
    store.apply(ev('started', 2));
    store.apply(ev('log', 4, { line: 'early' })); // held until 3
    store.apply(ev('progress', 3, { fraction: 0.25 }));
    expect(read).toEqual([
      [2, 'running', 2],
      [3, 'running', 4],
      [4, 'running', 4],
    ]);
    expect(steps).toEqual([
      [2, 2],
      [3, 4],
      [4, 4],
    ]);
    expect(changes).toEqual([true, true]);
  });

  it('answers the snapshot as it is from a queued call, and sends a queued error to errors$', () => {
    const store = new TaskStore();
    const errors: Error[] = [];
    store.errors$.subscribe((e) => errors.push(e));
    store.apply(ev('queued', 1));
    const answers: ExportTaskSnapshot[] = [];
    store.watch('e').subscribe((s) => {
      if (s.seq !== 2) return;
      answers.push(store.apply(ev('log', 3, { line: 'x' })));
      answers.push(store.apply({ ...ev('log', 4, { line: 'y' }), product_id: 'other' }));
      answers.push(store.restore({ ...s, seq: 9, log: ['restored'] }));
    });
    store.apply(ev('started', 2));
    expect(answers.map((a) => a.seq)).toEqual([2, 2, 2]);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/product_id/);
    expect(store.get('e')).toMatchObject({ seq: 9, log: ['restored'] });
  });
});

describe('re-entrant apply, generated', () => {
  type Kind = 'watch' | 'changes' | 'events' | 'steps';
  /** A subscriber of one kind, on one task (changes$ and steps: all tasks), applying the next pooled event on some notifications. */
  const subscriberArb = (tasks: number) =>
    fc.record({
      kind: fc.constantFrom<Kind>('watch', 'changes', 'events', 'steps'),
      task: fc.nat(tasks - 1),
      // On its n-th notification, how many pooled events it applies (re-entrantly).
      reactions: fc.array(fc.nat(2), { maxLength: 8 }),
    });
  const scenarioArb = fc.integer({ min: 1, max: 3 }).chain((n) =>
    fc.record({
      deliveries: fc.tuple(...Array.from({ length: n }, (_, i) => taskHistoryArb({ exportId: `t${i}`, productId: P }).chain((h) => hostileDeliveryArb(h)))),
      subscribers: fc.array(subscriberArb(n), { minLength: 1, maxLength: 5 }),
      picks: fc.array(fc.nat(n - 1), { maxLength: 200 }),
    }),
  );

  it('every subscriber sees each task in increasing seq, reads the store as committed, and ends at store.get()', () => {
    fc.assert(
      fc.property(scenarioArb, ({ deliveries, subscribers, picks }) => {
        // One pool of events, interleaved across tasks; the driver and the subscribers both take from it.
        const queues = deliveries.map((d) => [...d]);
        const pool: TaskEvent[] = [];
        let p = 0;
        while (queues.some((q) => q.length > 0)) {
          const pick = picks[p++ % Math.max(1, picks.length)] ?? 0;
          const queue = queues.find((q, i) => i >= pick && q.length > 0) ?? queues.find((q) => q.length > 0)!;
          pool.push(queue.shift()!);
        }
        let next = 0;
        const store = new TaskStore({ maxHeld: Number.MAX_SAFE_INTEGER });
        const take = (count: number) => {
          for (let i = 0; i < count && next < pool.length; i++) store.applyEvent(pool[next++]!);
        };
        const seen = subscribers.map(() => new Map<string, number[]>());
        const last = subscribers.map(() => new Map<string, ExportTaskSnapshot>());
        subscribers.forEach((sub, i) => {
          let calls = 0;
          const react = () => take(sub.reactions[calls++] ?? 0);
          const record = (id: string, seq: number) => seen[i]!.set(id, [...(seen[i]!.get(id) ?? []), seq]);
          const id = `t${sub.task}`;
          if (sub.kind === 'watch') {
            store.watch(id).subscribe((s) => {
              expect(store.get(id)).toBe(s);
              record(id, s.seq);
              last[i]!.set(id, s);
              react();
            });
          } else if (sub.kind === 'changes') {
            store.changes$.subscribe((s) => {
              expect(store.get(s.exportId)).toBe(s);
              record(s.exportId, s.seq);
              last[i]!.set(s.exportId, s);
              react();
            });
          } else if (sub.kind === 'events') {
            store.appliedEvents(id).subscribe((e) => {
              // Committed already: the store holds this event (or a later one of the same call).
              expect(store.get(id)!.seq).toBeGreaterThanOrEqual(e.seq);
              record(id, e.seq);
              react();
            });
          } else {
            store.onStep((e, _before, after) => {
              // The store holds this step's result, or a later one of the same call.
              expect(store.get(e.export_id)!.seq).toBeGreaterThanOrEqual(after.seq);
              record(e.export_id, e.seq);
              react();
            });
          }
        });
        while (next < pool.length) take(1);
        subscribers.forEach((sub, i) => {
          for (const [id, seqs] of seen[i]!) {
            for (let k = 1; k < seqs.length; k++) expect(seqs[k]!).toBeGreaterThan(seqs[k - 1]!);
            if (sub.kind === 'watch' || sub.kind === 'changes') expect(last[i]!.get(id)).toBe(store.get(id));
          }
        });
        // The same events applied without any subscriber give the same tasks.
        const plain = new TaskStore({ maxHeld: Number.MAX_SAFE_INTEGER });
        for (const event of pool) plain.applyEvent(event);
        for (let t = 0; t < deliveries.length; t++) expect(store.get(`t${t}`)).toEqual(plain.get(`t${t}`));
      }),
    );
  });
});
