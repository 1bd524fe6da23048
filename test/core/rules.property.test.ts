/**
 * The rules every fold must keep (SPEC section 2), as properties over generated histories,
 * hostile deliveries and malformed input. Each runs `FC_RUNS` times (1000 by default).
 */
import fc from 'fast-check';
import { from } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../src/core/errors.js';
import { isFinalPhase, type TaskEvent, type TaskPhase } from '../../src/core/events.js';
import { parseSnapshot } from '../../src/core/parse-snapshot.js';
import { replay } from '../../src/core/replay.js';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';
import { TaskStore, type ResyncRequest, type TaskDiagnostic } from '../../src/core/task-store.js';
import {
  hostileDeliveryArb,
  malformedEventArb,
  multiTaskStreamArb,
  snapshotEventFrom,
  taskEventArb,
  taskHistoryArb,
  type TaskHistoryOptions,
} from '../../src/testing/arbitraries.js';

const RANK: Record<TaskPhase, number> = { pending: 0, running: 1, success: 2, failure: 2 };

const historyArb = (options?: TaskHistoryOptions): fc.Arbitrary<TaskEvent[]> =>
  fc.oneof(
    taskHistoryArb(options),
    taskHistoryArb({ order: 'any', ...options }),
    taskHistoryArb({ fractions: 'non-decreasing', terminal: 'always', ...options }),
  );

const withDelivery = (arb: fc.Arbitrary<TaskEvent[]>) =>
  arb.chain((history) => hostileDeliveryArb(history).map((delivery) => ({ history, delivery })));

const realEvents = (history: readonly TaskEvent[]): TaskEvent[] => history.filter((e) => e.type !== 'snapshot');

/** The state of a task after the first `seq` events of its history (the initial state for 0). */
function stateAt(history: readonly TaskEvent[], seq: number): ExportTaskSnapshot {
  const store = new TaskStore();
  const first = history[0]!;
  store.track(first.product_id, first.export_id);
  for (const event of realEvents(history).slice(0, seq)) store.apply(event);
  return store.get(first.export_id)!;
}

/** Stable JSON of a snapshot, to compare before/after without sharing references. */
const frozen = (store: TaskStore): string => JSON.stringify([...store.snapshots()]);

describe('rule 1: order', () => {
  it('gives the in-order snapshot for any arrival order and duplication of a gap-free history', () => {
    fc.assert(
      fc.property(withDelivery(historyArb()), ({ history, delivery }) => {
        const store = new TaskStore();
        for (const event of delivery) store.apply(event);
        expect(store.get(history[0]!.export_id)).toEqual(replay(realEvents(history)));
      }),
    );
  });

  it('holds events after a gap (the state does not pass it) and a snapshot at or above the gap fills it', () => {
    const arb = taskHistoryArb({ maxSnapshots: 0 })
      .filter((h) => h.length >= 2)
      .chain((history) =>
        fc.record({
          history: fc.constant(history),
          gap: fc.integer({ min: 1, max: history.length }),
          at: fc.nat(),
          order: fc.array(fc.nat(), { minLength: history.length, maxLength: history.length }),
          duplicates: fc.array(fc.nat({ max: history.length - 1 }), { maxLength: 5 }),
        }),
      );
    fc.assert(
      fc.property(arb, ({ history, gap, at, order, duplicates }) => {
        const others = history.filter((e) => e.seq !== gap);
        const delivery = [...others, ...duplicates.map((i) => history[i]!).filter((e) => e.seq !== gap)]
          .map((event, i) => ({ event, key: order[i % order.length]! }))
          .sort((a, b) => a.key - b.key)
          .map(({ event }) => event);
        const store = new TaskStore();
        const id = history[0]!.export_id;
        for (const event of delivery) {
          store.apply(event);
          expect(store.get(id)!.seq).toBeLessThan(gap);
        }
        expect(store.get(id)).toEqual(stateAt(history, gap - 1));

        const snapshotSeq = gap + (at % (history.length - gap + 1));
        const snapshot = snapshotEventFrom(replay(history.slice(0, snapshotSeq)), history[snapshotSeq - 1]!.time);
        store.apply(snapshot);
        expect(store.get(id)).toEqual(replay(history));
      }),
    );
  });

  it('holds at most maxHeld early events per task, and asks its source for one resync when they overflow', () => {
    const arb = fc
      .integer({ min: 1, max: 4 })
      .chain((maxHeld) =>
        taskHistoryArb({ maxSnapshots: 0, maxEvents: 14, order: 'any' })
          .filter((h) => h.length >= maxHeld + 3)
          .chain((history) =>
            fc.record({
              maxHeld: fc.constant(maxHeld),
              history: fc.constant(history),
              gap: fc.integer({ min: 1, max: history.length - maxHeld - 1 }),
              order: fc.array(fc.nat(), { minLength: history.length, maxLength: history.length }),
            }),
          ),
      );
    fc.assert(
      fc.property(arb, ({ maxHeld, history, gap, order }) => {
        const store = new TaskStore({ maxHeld });
        const id = history[0]!.export_id;
        const requests: ResyncRequest[] = [];
        const overflows: TaskDiagnostic[] = [];
        store.resyncRequests$.subscribe((r) => requests.push(r));
        store.diagnostics$.subscribe((d) => d.kind === 'overflow' && overflows.push(d));
        for (const event of history.slice(0, gap - 1)) store.apply(event);
        const early = history
          .slice(gap)
          .map((event, i) => ({ event, key: order[i]! }))
          .sort((a, b) => a.key - b.key)
          .map(({ event }) => event);
        for (const event of early) store.apply(event);

        expect(store.get(id)!.seq).toBe(gap - 1);
        expect(requests).toEqual([{ productId: history[0]!.product_id, exportId: id, seq: gap - 1 }]);
        expect(overflows.map((d) => d.seq)).toEqual(early.slice(maxHeld).map((e) => e.seq));

        // The first maxHeld early events were held, the rest dropped: a snapshot at the gap
        // brings the task as far as the held events run without a hole.
        const held = new Set(early.slice(0, maxHeld).map((e) => e.seq));
        let reach = gap;
        while (held.has(reach + 1)) reach++;
        store.apply(snapshotEventFrom(replay(history.slice(0, gap)), history[gap - 1]!.time));
        expect(store.get(id)).toEqual(replay(history.slice(0, reach)));
      }),
    );
  });
});

describe('rule 2: monotone', () => {
  function checkMonotone(store: TaskStore, inputs: readonly TaskEvent[], id: string): void {
    let previous: ExportTaskSnapshot | undefined;
    for (const event of inputs) {
      store.apply(event);
      const current = store.get(id)!;
      if (previous !== undefined) {
        expect(RANK[current.phase]).toBeGreaterThanOrEqual(RANK[previous.phase]);
        expect(current.progress).toBeGreaterThanOrEqual(previous.progress);
        expect(current.seq).toBeGreaterThanOrEqual(previous.seq);
        if (isFinalPhase(previous.phase)) {
          expect(current.phase).toBe(previous.phase);
          expect(current.attributes).toEqual(previous.attributes);
        }
      }
      previous = current;
    }
  }

  it('never moves phase or progress back, after every input of a hostile delivery', () => {
    fc.assert(
      fc.property(withDelivery(historyArb()), ({ history, delivery }) => {
        checkMonotone(new TaskStore(), delivery, history[0]!.export_id);
      }),
    );
  });

  it('never moves phase or progress back for any valid events at all (untruthful snapshots, terminal events twice)', () => {
    const soup = fc.array(taskEventArb({ productId: 'roads', exportId: 'e1', seq: fc.integer({ min: 1, max: 25 }) }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(soup, fc.integer({ min: 1, max: 8 }), (events, maxHeld) => {
        checkMonotone(new TaskStore({ maxHeld }), events, 'e1');
      }),
    );
  });
});

describe('rule 3: final absorbs', () => {
  // After the terminal event N: a conflicting terminal event and a few late log lines, in any
  // order (seqs N+1...). None of them may change the outcome; the conflict must be reported.
  /** A task's history that ends final, then late events (seqs N+1...): log lines, and a conflicting terminal event among them. */
  const lateTail = (history: readonly TaskEvent[]) =>
    fc.record({ lateLines: fc.nat(2), conflictAt: fc.nat(2) }).map(({ lateLines, conflictAt }) => {
      const terminal = realEvents(history).at(-1)!;
      const base = { product_id: terminal.product_id, export_id: terminal.export_id, time: terminal.time };
      const tail: TaskEvent[] = Array.from({ length: lateLines }, () => ({ type: 'log', ...base, seq: 0, line: 'late' }));
      tail.splice(
        conflictAt % (lateLines + 1),
        0,
        terminal.type === 'succeeded'
          ? { type: 'failed', ...base, seq: 0, failure_type: 'internal', exception_name: null, stacktrace: null, runtime: null, peak_memory_usage: null }
          : { type: 'succeeded', ...base, seq: 0, runtime: 1, peak_memory_usage: 1, key: 'k', labels: ['a', 'b', 'c', 'k'], size_bytes: 1, sha256: 'f'.repeat(64) },
      );
      const after = tail.map((event, i) => ({ ...event, seq: terminal.seq + 1 + i }));
      const conflict = after.find((e) => e.type === 'failed' || e.type === 'succeeded')!;
      return { after, conflict };
    });
  const conflictArb = taskHistoryArb({ terminal: 'always' }).chain((history) =>
    lateTail(history).chain(({ after, conflict }) =>
      hostileDeliveryArb([...history, ...after]).map((delivery) => ({ history, conflict, last: after.at(-1)!.seq, delivery })),
    ),
  );

  it('settles exactly once, and later events (a conflicting terminal one among them) change nothing; the conflict is reported', async () => {
    await fc.assert(
      fc.asyncProperty(conflictArb, async ({ history, conflict, delivery }) => {
        const id = history[0]!.export_id;
        const expected = replay(realEvents(history));
        const store = new TaskStore();
        const diagnostics: TaskDiagnostic[] = [];
        store.diagnostics$.subscribe((d) => diagnostics.push(d));
        let completions = 0;
        const finals: ExportTaskSnapshot[] = [];
        store.watch(id).subscribe({ next: (s) => isFinalPhase(s.phase) && finals.push(s), complete: () => completions++ });
        const finalChanges: ExportTaskSnapshot[] = [];
        store.changes$.subscribe((s) => isFinalPhase(s.phase) && finalChanges.push(s));

        let resolutions = 0;
        const waits: Promise<ExportTaskSnapshot>[] = [];
        const wait = () => {
          waits.push(
            store.settled(id).then((s) => {
              resolutions++;
              return s;
            }),
          );
        };
        wait();
        for (const event of delivery) {
          store.apply(event);
          if (!isFinalPhase(store.get(id)!.phase)) wait();
        }
        const results = await Promise.all(waits);

        expect(resolutions).toBe(waits.length);
        // One final snapshot, the same object everywhere, equal to the in-order fold up to the
        // final event (its seq included): the late events changed nothing.
        for (const result of results) expect(result).toBe(store.get(id));
        expect(store.get(id)).toEqual(expected);
        expect(completions).toBe(1);
        expect(finals).toEqual([expected]);
        expect(finalChanges).toEqual([expected]);
        expect(diagnostics.filter((d) => d.kind === 'conflict')).toEqual([
          { kind: 'conflict', productId: conflict.product_id, exportId: id, seq: conflict.seq, type: conflict.type },
        ]);
        expect(store.pendingWaits).toBe(0);
      }),
    );
  });
});

describe('final means final', () => {
  /**
   * One task's history ending final, late events after it (no snapshot: one above the final
   * event could arrive first and stand for the history up to it), one hostile delivery of both.
   */
  const taskArb = (exportId: string) =>
    taskHistoryArb({ exportId, terminal: 'always' }).chain((history) =>
      fc
        .array(fc.constantFrom<'log' | 'failed' | 'succeeded' | 'progress'>('log', 'failed', 'succeeded', 'progress'), { maxLength: 4 })
        .chain((lateTypes) => {
          const terminal = realEvents(history).at(-1)!;
          const base = { product_id: terminal.product_id, export_id: exportId, time: terminal.time };
          const after: TaskEvent[] = lateTypes.map((type, i): TaskEvent => {
            const seq = terminal.seq + 1 + i;
            if (type === 'log') return { type, ...base, seq, line: 'late' };
            if (type === 'progress') return { type, ...base, seq, fraction: 0.1 };
            if (type === 'failed') return { type, ...base, seq, failure_type: 'internal', exception_name: null, stacktrace: null, runtime: null, peak_memory_usage: null };
            return { type, ...base, seq, runtime: 1, peak_memory_usage: 1, key: 'k', labels: ['a', 'b', 'c', 'k'], size_bytes: 1, sha256: 'f'.repeat(64) };
          });
          return hostileDeliveryArb([...history, ...after]).map((delivery) => ({ exportId, history, delivery }));
        }),
    );
  const streamArb = fc.integer({ min: 1, max: 4 }).chain((n) =>
    fc.tuple(...Array.from({ length: n }, (_, i) => taskArb(`t${i}`))).chain((tasks) => {
      const events = tasks.flatMap((t) => t.delivery);
      // An interleaving that keeps each task's own delivery order.
      return fc.array(fc.nat(n - 1), { minLength: events.length, maxLength: events.length }).map((picks) => {
        const queues = tasks.map((t) => [...t.delivery]);
        const stream: TaskEvent[] = [];
        for (const pick of picks) {
          const queue = queues.find((q, i) => i >= pick && q.length > 0) ?? queues.find((q) => q.length > 0)!;
          stream.push(queue.shift()!);
        }
        return { tasks, stream };
      });
    }),
  );

  it('the snapshot a wait resolved with equals store.get() forever after, and changes$ and watch() emit one final snapshot per task', async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, async ({ tasks, stream }) => {
        const store = new TaskStore();
        const settledWith = new Map<string, ExportTaskSnapshot>();
        const finalChanges = new Map<string, ExportTaskSnapshot[]>();
        const watchedFinals = new Map<string, ExportTaskSnapshot[]>();
        store.changes$.subscribe((s) => {
          if (isFinalPhase(s.phase)) finalChanges.set(s.exportId, [...(finalChanges.get(s.exportId) ?? []), s]);
        });
        for (const { exportId } of tasks) {
          void store.settled(exportId).then((s) => settledWith.set(exportId, structuredClone(s)));
          store.watch(exportId).subscribe((s) => {
            if (isFinalPhase(s.phase)) watchedFinals.set(exportId, [...(watchedFinals.get(exportId) ?? []), s]);
          });
        }
        for (const event of stream) {
          store.apply(event);
          // Let every resolved wait's callback run, then check every task settled so far.
          await new Promise<void>((resolve) => setImmediate(resolve));
          for (const [id, snapshot] of settledWith) expect(store.get(id)).toEqual(snapshot);
        }
        for (const { exportId, history } of tasks) {
          const expected = replay(realEvents(history));
          expect(settledWith.get(exportId)).toEqual(expected);
          expect(store.get(exportId)).toEqual(expected);
          expect(finalChanges.get(exportId)).toEqual([expected]);
          expect(watchedFinals.get(exportId)).toEqual([expected]);
          // A late watcher gets the same final snapshot once, then completes.
          let late: ExportTaskSnapshot[] = [];
          store.watch(exportId).subscribe({ next: (s) => (late = [...late, s]) });
          expect(late).toEqual([expected]);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('rule 4: snapshots', () => {
  it('a truthful snapshot gives the state as of its seq, and the rest of the history then the same end', () => {
    const arb = historyArb({ maxSnapshots: 0 }).chain((history) =>
      fc.record({
        history: fc.constant(history),
        seq: fc.integer({ min: 1, max: history.length }),
        order: fc.array(fc.nat(), { minLength: history.length, maxLength: history.length }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ history, seq, order }) => {
        const store = new TaskStore();
        const id = history[0]!.export_id;
        store.apply(snapshotEventFrom(replay(history.slice(0, seq)), history[seq - 1]!.time));
        expect(store.get(id)).toEqual(replay(history.slice(0, seq)));
        const rest = history
          .map((event, i) => ({ event, key: order[i]! }))
          .sort((a, b) => a.key - b.key)
          .map(({ event }) => event);
        for (const event of rest) store.apply(event);
        expect(store.get(id)).toEqual(replay(history));
      }),
    );
  });
});

describe('rule 5: bad input', () => {
  const arb = withDelivery(historyArb({ productId: 'roads', exportId: 'e1' })).chain(({ history, delivery }) =>
    fc.record({
      history: fc.constant(history),
      delivery: fc.constant(delivery),
      cut: fc.nat({ max: delivery.length }),
      malformed: fc.array(malformedEventArb({ productId: 'roads', exportId: 'e1', huge: false }), { minLength: 1, maxLength: 4 }),
      positions: fc.array(fc.nat({ max: delivery.length }), { minLength: 4, maxLength: 4 }),
    }),
  );

  it('rejects malformed input with an InvalidEventError naming the field, and changes nothing', () => {
    fc.assert(
      fc.property(arb, ({ delivery, cut, malformed }) => {
        const store = new TaskStore();
        for (const event of delivery.slice(0, cut)) store.apply(event);
        const noticed: unknown[] = [];
        store.changes$.subscribe((s) => noticed.push(s));
        store.diagnostics$.subscribe((d) => noticed.push(d));
        for (const { input, field } of malformed) {
          const before = frozen(store);
          let error: unknown;
          try {
            store.apply(input);
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(InvalidEventError);
          expect((error as InvalidEventError).field).toBe(field);
          expect(frozen(store)).toBe(before);
        }
        expect(noticed).toEqual([]);
      }),
    );
  });

  it('through connect(), sends each rejection to errors$ and still applies the later valid events', () => {
    fc.assert(
      fc.property(arb, ({ history, delivery, malformed, positions }) => {
        const stream: { input: unknown; field?: string }[] = delivery.map((input) => ({ input }));
        malformed.forEach((m, i) => stream.splice(positions[i]! % (stream.length + 1), 0, m));
        const store = new TaskStore();
        const errors: Error[] = [];
        store.errors$.subscribe((e) => errors.push(e));
        store.connect(from(stream.map((s) => s.input)));
        expect(errors.every((e) => e instanceof InvalidEventError)).toBe(true);
        expect(errors.map((e) => (e as InvalidEventError).field)).toEqual(stream.flatMap((s) => (s.field === undefined ? [] : [s.field])));
        expect(store.get('e1')).toEqual(replay(realEvents(history)));
      }),
    );
  });
});

describe('many tasks in one stream', () => {
  it('gives each task of an interleaved stream the snapshot it would get alone', () => {
    fc.assert(
      fc.property(multiTaskStreamArb({ maxTasks: 4 }), ({ histories, stream }) => {
        const store = new TaskStore();
        for (const event of stream) store.apply(event);
        expect(store.size).toBe(histories.length);
        for (const history of histories) expect(store.get(history[0]!.export_id)).toEqual(replay(realEvents(history)));
      }),
    );
  });
});

describe('persistence', () => {
  it('continues a snapshot persisted as JSON (restore, or replay(rest, from)) to the same final snapshot', () => {
    const arb = historyArb().chain((history) =>
      fc.record({ history: fc.constant(history), cut: fc.integer({ min: 1, max: history.length }) }),
    );
    fc.assert(
      fc.property(arb, ({ history, cut }) => {
        const expected = replay(history);
        const persisted = JSON.stringify(replay(history.slice(0, cut)));
        expect(replay(history.slice(cut), parseSnapshot(persisted))).toEqual(expected);
        expect(replay(history.slice(cut), JSON.parse(persisted) as ExportTaskSnapshot)).toEqual(expected);
        const store = new TaskStore();
        store.restore(persisted);
        for (const event of history.slice(cut)) store.apply(event);
        expect(store.get(history[0]!.export_id)).toEqual(expected);
      }),
    );
  });

  it('continues a snapshot persisted in the middle of a hostile delivery, once the source re-delivers', () => {
    const arb = withDelivery(historyArb()).chain(({ history, delivery }) =>
      fc.record({ history: fc.constant(history), delivery: fc.constant(delivery), cut: fc.nat({ max: delivery.length }) }),
    );
    fc.assert(
      fc.property(arb, ({ history, delivery, cut }) => {
        const first = new TaskStore();
        const id = history[0]!.export_id;
        first.track(history[0]!.product_id, id);
        for (const event of delivery.slice(0, cut)) first.apply(event);
        // Held events are not part of a snapshot: a resumed source sends from the cursor again.
        const persisted: unknown = JSON.parse(JSON.stringify(first.get(id)));
        const second = new TaskStore();
        second.restore(persisted);
        for (const event of delivery) second.apply(event);
        expect(second.get(id)).toEqual(replay(realEvents(history)));
      }),
    );
  });
});

describe('model-based: a store fed one command at a time', () => {
  interface Model {
    readonly history: readonly TaskEvent[];
    cursor: number;
    readonly held: Set<number>;
  }
  interface Real {
    readonly store: TaskStore;
  }

  /** What the store must hold: the history's prefix up to the model's cursor. */
  function check(m: Model, r: Real): void {
    expect(r.store.get(m.history[0]!.export_id)).toEqual(stateAt(m.history, m.cursor));
  }

  function drain(m: Model): void {
    while (m.held.has(m.cursor + 1)) m.held.delete(++m.cursor);
  }

  class Deliver implements fc.Command<Model, Real> {
    constructor(readonly index: number) {}
    check = () => true;
    run(m: Model, r: Real): void {
      const event = m.history[this.index % m.history.length]!;
      r.store.apply(event);
      if (event.seq === m.cursor + 1) {
        m.cursor++;
        drain(m);
      } else if (event.seq > m.cursor) m.held.add(event.seq);
      check(m, r);
    }
    toString = () => `deliver(${this.index})`;
  }

  class Resync implements fc.Command<Model, Real> {
    constructor(readonly pick: number) {}
    check = () => true;
    run(m: Model, r: Real): void {
      const seq = 1 + (this.pick % m.history.length);
      r.store.apply(snapshotEventFrom(stateAt(m.history, seq), m.history[seq - 1]!.time));
      if (seq > m.cursor) {
        m.cursor = seq;
        for (const s of m.held) if (s <= seq) m.held.delete(s);
        drain(m);
      }
      check(m, r);
    }
    toString = () => `resync(${this.pick})`;
  }

  class Malformed implements fc.Command<Model, Real> {
    constructor(readonly input: unknown) {}
    check = () => true;
    run(m: Model, r: Real): void {
      expect(() => r.store.apply(this.input)).toThrow(InvalidEventError);
      check(m, r);
    }
    toString = () => `malformed(${typeof this.input === 'string' ? this.input.slice(0, 40) : typeof this.input})`;
  }

  it('agrees with a model of the sequencer under any deliveries, resyncs and malformed input', () => {
    const arb = taskHistoryArb({ maxSnapshots: 0, productId: 'roads', exportId: 'e1' }).chain((history) =>
      fc.record({
        history: fc.constant(history),
        commands: fc.commands(
          [
            fc.nat().map((i) => new Deliver(i)),
            fc.nat().map((i) => new Resync(i)),
            malformedEventArb({ productId: 'roads', exportId: 'e1', huge: false }).map((m) => new Malformed(m.input)),
          ],
          { maxCommands: 30 },
        ),
      }),
    );
    fc.assert(
      fc.property(arb, ({ history, commands }) => {
        const store = new TaskStore({ maxHeld: Number.MAX_SAFE_INTEGER });
        store.track('roads', 'e1');
        fc.modelRun(() => ({ model: { history, cursor: 0, held: new Set<number>() }, real: { store } }), commands);
      }),
    );
  });
});
