import { Subject, config, from, throwError, type Subscription } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidEventError, TimeoutError } from '../../src/core/errors.js';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';
import { finishedChecked } from '../../src/core/internal/waiters.js';
import { TaskStore, type ResyncRequest, type TaskDiagnostic, type TaskStoreOptions } from '../../src/core/task-store.js';

const P = 'roads';
const T0 = '2026-01-01T00:00:00.000Z';
const SHA = 'ab'.repeat(32);

function ev(type: string, exportId: string, seq: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type, product_id: P, export_id: exportId, seq, time: T0, ...extra };
}
const queued = (id: string, seq = 1) => ev('queued', id, seq);
const started = (id: string, seq: number) => ev('started', id, seq);
const progress = (id: string, seq: number, fraction: number) => ev('progress', id, seq, { fraction });
const log = (id: string, seq: number, line: string) => ev('log', id, seq, { line });
const succeeded = (id: string, seq: number) =>
  ev('succeeded', id, seq, { runtime: 1.5, peak_memory_usage: 2048, key: 'exports/a.ndjson', labels: ['v', P, id, 'exports/a.ndjson'], size_bytes: 10, sha256: SHA });
const failed = (id: string, seq: number, failureType = 'exception') =>
  ev('failed', id, seq, { failure_type: failureType, exception_name: 'ValueError', stacktrace: 'Traceback', runtime: 2, peak_memory_usage: 4096 });
const snapshotEvent = (id: string, seq: number, phase: string, extra: Record<string, unknown> = {}) =>
  ev('snapshot', id, seq, { phase, progress: 0, ...extra });

// Every store of a test is checked afterwards: a settled wait leaves no waiter and no timer.
const stores: TaskStore[] = [];
function newStore(options?: TaskStoreOptions): TaskStore {
  const store = new TaskStore(options);
  stores.push(store);
  return store;
}

afterEach(() => {
  for (const store of stores.splice(0)) {
    expect(store.pendingWaits).toBe(0);
    expect(store.timerArmed).toBe(false);
  }
  vi.useRealTimers();
});

/** Settles `promise` into a plain record so a rejection is never unhandled while time is advanced. */
function outcome<T>(promise: Promise<T>): { readonly value: Promise<{ ok: T } | { error: unknown }>; settled: boolean } {
  const box = {
    settled: false,
    value: promise.then(
      (ok) => ({ ok }),
      (error: unknown) => ({ error }),
    ),
  };
  void box.value.then(() => {
    box.settled = true;
  });
  return box;
}

describe('TaskStore', () => {
  describe('constructor', () => {
    it.each([0, -1, 1.5, Number.NaN, '3'])('rejects maxHeld %s with a TypeError', (maxHeld) => {
      expect(() => new TaskStore({ maxHeld } as unknown as TaskStoreOptions)).toThrow(TypeError);
      expect(() => new TaskStore({ maxHeld } as unknown as TaskStoreOptions)).toThrow(/`maxHeld` to be a positive integer/);
    });

    it('rejects an unknown option with a TypeError naming it', () => {
      expect(() => new TaskStore({ maxHold: 3 } as unknown as TaskStoreOptions)).toThrow(/unknown option `maxHold`/);
    });
  });

  describe('apply', () => {
    it('folds an event into its task and answers the snapshot', () => {
      const store = newStore();
      const snapshot = store.apply(queued('e1'));
      expect(snapshot).toEqual({
        productId: P,
        exportId: 'e1',
        phase: 'pending',
        seq: 1,
        progress: 0,
        message: null,
        log: [],
        cancelRequested: false,
        created: T0,
        attributes: null,
      });
      expect(store.get('e1')).toBe(snapshot);
      expect(store.size).toBe(1);
    });

    it('folds a whole history to a success', () => {
      const store = newStore();
      for (const e of [queued('e1'), started('e1', 2), progress('e1', 3, 0.5), log('e1', 4, 'hello'), succeeded('e1', 5)]) store.apply(e);
      expect(store.get('e1')).toEqual({
        productId: P,
        exportId: 'e1',
        phase: 'success',
        seq: 5,
        progress: 1,
        message: null,
        log: ['hello'],
        cancelRequested: false,
        created: T0,
        attributes: {
          status: 'SUCCESS',
          failureType: null,
          exceptionName: null,
          stacktrace: null,
          runtime: 1.5,
          peakMemoryUsage: 2048,
          labels: ['v', P, 'e1', 'exports/a.ndjson'],
          key: 'exports/a.ndjson',
          sizeBytes: 10,
          sha256: SHA,
          created: T0,
        },
      });
    });

    it('accepts JSON text', () => {
      const store = newStore();
      expect(store.apply(JSON.stringify(started('e1', 1))).phase).toBe('running');
    });

    it('throws InvalidEventError for a malformed event and changes nothing', () => {
      const store = newStore();
      store.apply(queued('e1'));
      const before = [...store.snapshots()];
      expect(() => store.apply(ev('progress', 'e1', 2, { fraction: 2 }))).toThrow(InvalidEventError);
      expect(() => store.apply(ev('progress', 'e2', 1, { fraction: 2 }))).toThrow(InvalidEventError);
      expect([...store.snapshots()]).toEqual(before);
      expect(store.get('e2')).toBeUndefined();
    });

    it('throws InvalidEventError naming product_id for an event of the same export under another product', () => {
      const store = newStore();
      store.apply(queued('e1'));
      const before = store.get('e1');
      const error = (() => {
        try {
          store.apply({ ...started('e1', 2), product_id: 'parcels' });
        } catch (e) {
          return e as InvalidEventError;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(InvalidEventError);
      expect(error?.field).toBe('product_id');
      expect(store.get('e1')).toBe(before);
    });

    it('ignores a duplicate: the same snapshot object, no change emitted', () => {
      const store = newStore();
      const first = store.apply(queued('e1'));
      const changes: ExportTaskSnapshot[] = [];
      const sub = store.changes$.subscribe((s) => changes.push(s));
      expect(store.apply(queued('e1'))).toBe(first);
      expect(changes).toEqual([]);
      sub.unsubscribe();
    });

    it('holds an early event until the gap is filled', () => {
      const store = newStore();
      store.apply(queued('e1'));
      expect(store.apply(progress('e1', 3, 0.5))).toMatchObject({ seq: 1, phase: 'pending', progress: 0 });
      expect(store.apply(log('e1', 2, 'a'))).toMatchObject({ seq: 3, phase: 'running', progress: 0.5, log: ['a'] });
    });

    it('lets a snapshot at or above a gap fill it and then applies the held events above it', () => {
      const store = newStore();
      store.apply(queued('e1'));
      store.apply(log('e1', 4, 'four'));
      store.apply(log('e1', 5, 'five'));
      expect(store.get('e1')?.seq).toBe(1);
      store.apply(snapshotEvent('e1', 3, 'running', { progress: 0.25, log: ['two', 'three'] }));
      expect(store.get('e1')).toMatchObject({ seq: 5, phase: 'running', progress: 0.25, log: ['two', 'three', 'four', 'five'] });
    });

    it('drops held events at or below a snapshot', () => {
      const store = newStore();
      store.apply(queued('e1'));
      store.apply(log('e1', 3, 'three'));
      store.apply(snapshotEvent('e1', 3, 'running', { log: ['two', 'three from snapshot'] }));
      expect(store.get('e1')).toMatchObject({ seq: 3, log: ['two', 'three from snapshot'] });
      store.apply(log('e1', 4, 'four'));
      expect(store.get('e1')?.log).toEqual(['two', 'three from snapshot', 'four']);
    });

    it('never takes a task back: a pending snapshot of a running task keeps it running', () => {
      const store = newStore();
      store.apply(started('e1', 1));
      store.apply(progress('e1', 2, 0.6));
      expect(store.apply(snapshotEvent('e1', 5, 'pending', { progress: 0.1 }))).toMatchObject({ phase: 'running', progress: 0.6, seq: 5 });
    });
  });

  describe('track', () => {
    it('makes a new task known as pending at seq 0', () => {
      const store = newStore();
      const snapshot = store.track(P, 'e1');
      expect(snapshot).toMatchObject({ productId: P, exportId: 'e1', phase: 'pending', seq: 0, attributes: null });
      expect(store.get('e1')).toBe(snapshot);
      expect(store.track(P, 'e1')).toBe(snapshot);
    });

    it('answers a known task as it is', () => {
      const store = newStore();
      const known = store.apply(started('e1', 1));
      expect(store.track(P, 'e1')).toBe(known);
    });
  });

  describe('restore', () => {
    it('resumes a persisted snapshot from its cursor', () => {
      const first = newStore();
      for (const e of [queued('e1'), started('e1', 2), log('e1', 3, 'a')]) first.apply(e);
      const persisted = JSON.stringify(first.get('e1'));

      const store = newStore();
      const restored = store.restore(persisted);
      expect(restored).toEqual(first.get('e1'));
      expect(store.apply(log('e1', 3, 'a'))).toBe(restored);
      expect(store.apply(log('e1', 4, 'b')).log).toEqual(['a', 'b']);
    });

    it('ignores a snapshot older than what the store knows', () => {
      const store = newStore();
      store.apply(queued('e1'));
      const old = store.get('e1')!;
      store.apply(started('e1', 2));
      const known = store.get('e1');
      expect(store.restore(old)).toBe(known);
    });

    // Regression: held events above the restored cursor waited for some later event.
    it('applies the held events that follow the restored cursor at once, and drops those it covers', () => {
      const first = newStore();
      for (const e of [queued('e1'), log('e1', 2, 'two'), log('e1', 3, 'three')]) first.apply(e);
      const store = newStore();
      store.apply(queued('e1'));
      store.apply(log('e1', 3, 'held three'));
      store.apply(log('e1', 4, 'four'));
      const restored = store.restore(JSON.stringify(first.get('e1')));
      expect(restored).toMatchObject({ seq: 4, log: ['two', 'three', 'four'] });
      expect(store.get('e1')).toBe(restored);
    });

    // Regression: a newer snapshot took a final task back to pending.
    it('never changes a task that is already final', () => {
      const store = newStore();
      const final = store.apply(failed('e1', 1));
      expect(store.restore({ ...final, seq: 5, phase: 'running', attributes: null })).toBe(final);
      expect(store.get('e1')).toBe(final);
    });

    // Regression: a newer pending snapshot took a running task back to pending, and progress back.
    it('keeps phase and progress from going back when the restored snapshot is behind them', () => {
      const store = newStore();
      store.apply(queued('e1'));
      store.apply(progress('e1', 2, 0.6));
      const restored = store.restore({ ...store.get('e1')!, seq: 5, phase: 'pending', progress: 0.1 });
      expect(restored).toMatchObject({ seq: 5, phase: 'running', progress: 0.6 });
    });

    it('throws a TypeError for a snapshot of an export the store knows under another product', () => {
      const store = newStore();
      const known = store.apply(queued('e1'));
      expect(() => store.restore({ ...known, productId: 'parcels', seq: 3 })).toThrow(/belongs to product "roads"/);
      expect(store.get('e1')).toBe(known);
    });

    it('throws a TypeError for an invalid snapshot and changes nothing', () => {
      const store = newStore();
      store.apply(queued('e1'));
      const before = [...store.snapshots()];
      expect(() => store.restore({ ...store.get('e1'), seq: 5, phase: 'done' })).toThrow(TypeError);
      expect(() => store.restore('{not json')).toThrow(TypeError);
      expect([...store.snapshots()]).toEqual(before);
    });
  });

  describe('watch', () => {
    it('emits the current snapshot first, then each change, and completes when final', () => {
      const store = newStore();
      store.apply(queued('e1'));
      const seen: number[] = [];
      let completed = 0;
      store.watch('e1').subscribe({ next: (s) => seen.push(s.seq), complete: () => completed++ });
      expect(seen).toEqual([1]);
      store.apply(started('e1', 2));
      store.apply(started('e1', 2)); // a duplicate is no change
      store.apply(log('e1', 4, 'early')); // held: no change yet
      expect(seen).toEqual([1, 2]);
      store.apply(log('e1', 3, 'x'));
      expect(seen).toEqual([1, 2, 4]);
      expect(completed).toBe(0);
      store.apply(succeeded('e1', 5));
      expect(seen).toEqual([1, 2, 4, 5]);
      expect(completed).toBe(1);
      store.apply(failed('e1', 6));
      expect(seen).toEqual([1, 2, 4, 5]);
      expect(completed).toBe(1);
    });

    it('waits for the first event of a task it does not know yet', () => {
      const store = newStore();
      const seen: string[] = [];
      store.watch('e1').subscribe((s) => seen.push(s.phase));
      expect(seen).toEqual([]);
      store.apply(started('e1', 1));
      expect(seen).toEqual(['running']);
    });

    it('emits a final task once and completes at once', () => {
      const store = newStore();
      store.apply(failed('e1', 1));
      const seen: string[] = [];
      let completed = false;
      store.watch('e1').subscribe({ next: (s) => seen.push(s.phase), complete: () => (completed = true) });
      expect(seen).toEqual(['failure']);
      expect(completed).toBe(true);
    });

    it('stops emitting once unsubscribed', () => {
      const store = newStore();
      const seen: number[] = [];
      const sub = store.watch('e1').subscribe((s) => seen.push(s.seq));
      store.apply(queued('e1'));
      sub.unsubscribe();
      store.apply(started('e1', 2));
      expect(seen).toEqual([1]);
    });
  });

  describe('appliedEvents', () => {
    it('emits the events in seq order without duplicates, and completes when final', () => {
      const store = newStore();
      const seqs: number[] = [];
      let completed = false;
      store.appliedEvents('e1').subscribe({ next: (e) => seqs.push(e.seq), complete: () => (completed = true) });
      for (const e of [started('e1', 2), queued('e1'), started('e1', 2), log('e1', 4, 'x'), log('e1', 3, 'y'), succeeded('e1', 5)]) store.apply(e);
      expect(seqs).toEqual([1, 2, 3, 4, 5]);
      expect(completed).toBe(true);
    });
  });

  describe('diagnostics$', () => {
    it('reports duplicates, stale snapshots, conflicts, events after final and overflow', () => {
      const store = newStore({ maxHeld: 1 });
      const seen: TaskDiagnostic[] = [];
      store.diagnostics$.subscribe((d) => seen.push(d));
      store.apply(queued('e1'));
      store.apply(queued('e1'));
      store.apply(snapshotEvent('e1', 1, 'pending'));
      store.apply(log('e1', 3, 'held'));
      store.apply(log('e1', 4, 'overflow'));
      store.apply(log('e1', 2, 'fills'));
      store.apply(succeeded('e1', 4));
      store.apply(failed('e1', 5));
      store.apply(log('e1', 6, 'late'));
      store.apply(succeeded('e1', 7));
      const d = (kind: TaskDiagnostic['kind'], seq: number, type: TaskDiagnostic['type']): TaskDiagnostic => ({ kind, productId: P, exportId: 'e1', seq, type });
      expect(seen).toEqual([
        d('duplicate', 1, 'queued'),
        d('stale-snapshot', 1, 'snapshot'),
        d('overflow', 4, 'log'),
        d('conflict', 5, 'failed'),
        d('after-final', 6, 'log'),
        d('after-final', 7, 'succeeded'),
      ]);
      expect(store.get('e1')?.phase).toBe('success');
    });

    // Regression: a final task used to drop its held events, so an early conflicting terminal
    // event was never reported and the cursor depended on the arrival order.
    it('reports a conflicting terminal event that was held while the task became final', () => {
      const store = newStore();
      const seen: TaskDiagnostic['kind'][] = [];
      store.diagnostics$.subscribe((d) => seen.push(d.kind));
      store.apply(queued('e1'));
      store.apply(failed('e1', 4)); // held: 2 and 3 are missing
      store.apply(succeeded('e1', 2));
      const final = store.get('e1');
      expect(final).toMatchObject({ phase: 'success', seq: 2 });
      store.apply(log('e1', 3, 'late'));
      expect(seen).toEqual(['after-final', 'conflict']);
      // Final means final: the late events moved only the cursor, kept apart from the snapshot.
      expect(store.get('e1')).toBe(final);
      expect(store.get('e1')).toMatchObject({ phase: 'success', seq: 2, log: [] });
      // The cursor still tells a duplicate from a late event.
      store.apply(log('e1', 4, 'again'));
      store.apply(log('e1', 5, 'later'));
      expect(seen).toEqual(['after-final', 'conflict', 'duplicate', 'after-final']);
    });

    it('keeps a final snapshot as it is, emitting it once on changes$ and watch(), whatever comes after', () => {
      const store = newStore();
      const changes: unknown[] = [];
      store.changes$.subscribe((s) => changes.push(s));
      const watched: unknown[] = [];
      store.watch('e1').subscribe((s) => watched.push(s));
      store.apply(queued('e1'));
      store.apply(failed('e1', 2));
      const final = store.get('e1')!;
      const copy = structuredClone(final);
      for (const late of [failed('e1', 3, 'oom'), log('e1', 4, 'late'), progress('e1', 5, 0.9), succeeded('e1', 6), snapshotEvent('e1', 7, 'running', { progress: 0.5 })]) {
        expect(store.apply(late)).toBe(final);
      }
      expect(store.get('e1')).toBe(final);
      expect(final).toEqual(copy);
      expect(changes.filter((s) => s === final)).toHaveLength(1);
      expect(changes.at(-1)).toBe(final);
      expect(watched.at(-1)).toBe(final);
      expect(watched.filter((s) => s === final)).toHaveLength(1);
      // A restore of a later snapshot of it is ignored too.
      expect(store.restore({ ...final, seq: 9, log: ['rewritten'] })).toBe(final);
    });

    it('reports a final snapshot that disagrees with the outcome as a conflict', () => {
      const store = newStore();
      const seen: TaskDiagnostic['kind'][] = [];
      store.diagnostics$.subscribe((d) => seen.push(d.kind));
      store.apply(failed('e1', 1, 'oom'));
      store.apply(snapshotEvent('e1', 2, 'success', { progress: 1, attributes: { status: 'SUCCESS' } }));
      expect(seen).toEqual(['conflict']);
      expect(store.get('e1')).toMatchObject({ phase: 'failure', attributes: { failureType: 'oom' } });
    });
  });

  describe('resyncRequests$', () => {
    it('asks once per gap that overflows, with the cursor, and again for a later gap', () => {
      const store = newStore({ maxHeld: 2 });
      const asked: ResyncRequest[] = [];
      store.resyncRequests$.subscribe((r) => asked.push(r));
      store.apply(queued('e1'));
      for (const seq of [3, 4, 5, 6, 7]) store.apply(log('e1', seq, String(seq)));
      expect(asked).toEqual([{ productId: P, exportId: 'e1', seq: 1 }]);
      // The snapshot fills the gap; the held 3 and 4 follow; 5..7 were dropped.
      store.apply(snapshotEvent('e1', 2, 'running', { log: ['2'] }));
      expect(store.get('e1')).toMatchObject({ seq: 4, log: ['2', '3', '4'] });
      for (const seq of [6, 7, 8]) store.apply(log('e1', seq, String(seq)));
      expect(asked).toEqual([
        { productId: P, exportId: 'e1', seq: 1 },
        { productId: P, exportId: 'e1', seq: 4 },
      ]);
    });
    it('asks at once when the end of a task is held behind a gap, since nothing may ever fill it, and only once', () => {
      const store = newStore();
      const asked: ResyncRequest[] = [];
      store.resyncRequests$.subscribe((r) => asked.push(r));
      store.apply(queued('e1'));
      store.apply(progress('e1', 3, 0.5));
      expect(asked).toEqual([]); // an early event alone waits for its gap
      store.apply(succeeded('e1', 4));
      expect(asked).toEqual([{ productId: P, exportId: 'e1', seq: 1 }]);
      store.apply(failed('e2', 3));
      store.apply(failed('e1', 5)); // a second end held behind the same gap asks nothing more
      expect(asked).toEqual([
        { productId: P, exportId: 'e1', seq: 1 },
        { productId: P, exportId: 'e2', seq: 0 },
      ]);
      // Once the snapshot fills the gap, the held end applies.
      store.apply(snapshotEvent('e1', 2, 'running'));
      expect(store.get('e1')).toMatchObject({ phase: 'success', seq: 4 });
    });

    it('asks nothing of a final task whatever is held after it', () => {
      const store = newStore();
      const asked: ResyncRequest[] = [];
      store.resyncRequests$.subscribe((r) => asked.push(r));
      store.apply(queued('e1'));
      store.apply(succeeded('e1', 2));
      store.apply(failed('e1', 4));
      expect(asked).toEqual([]);
    });
  });

  describe('connect', () => {
    it('sends rejected input to errors$ and goes on with the stream', () => {
      const store = newStore();
      const errors: Error[] = [];
      store.errors$.subscribe((e) => errors.push(e));
      store.connect(from([queued('e1'), 'not json', ev('progress', 'e1', 2, { fraction: -1 }), started('e1', 2)]));
      expect(errors).toHaveLength(2);
      expect(errors.every((e) => e instanceof InvalidEventError)).toBe(true);
      expect((errors[1] as InvalidEventError).field).toBe('fraction');
      expect(store.get('e1')).toMatchObject({ phase: 'running', seq: 2 });
    });

    it("sends the source's own error to errors$", () => {
      const store = newStore();
      const errors: Error[] = [];
      store.errors$.subscribe((e) => errors.push(e));
      store.connect(throwError(() => 'connection reset'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(Error);
      expect(errors[0]!.message).toBe('connection reset');
    });

    it('leaves a failure that is not bad input to rxjs to report, instead of passing it off as rejected input on errors$', () => {
      // rxjs reports an error thrown by a subscriber on a later macrotask: virtual time runs it.
      vi.useFakeTimers();
      const store = newStore();
      const errors: Error[] = [];
      store.errors$.subscribe((e) => errors.push(e));
      const unhandled: unknown[] = [];
      const previous = config.onUnhandledError;
      config.onUnhandledError = (error) => unhandled.push(error);
      try {
        // An input whose `type` getter throws: a fault of the source's objects, not a malformed event.
        const fault = new RangeError('getter failed');
        const input = Object.defineProperty({}, 'type', {
          enumerable: true,
          get: () => {
            throw fault;
          },
        });
        store.connect(from([queued('e1'), input, started('e1', 2)]));
        vi.runOnlyPendingTimers();
        expect(errors).toEqual([]);
        expect(unhandled).toEqual([fault]);
        expect(store.get('e1')).toMatchObject({ phase: 'running', seq: 2 });
      } finally {
        config.onUnhandledError = previous;
      }
    });

    it('stops folding once unsubscribed', () => {
      const store = newStore();
      const source = new Subject<unknown>();
      const sub = store.connect(source);
      source.next(queued('e1'));
      sub.unsubscribe();
      source.next(started('e1', 2));
      expect(store.get('e1')?.seq).toBe(1);
    });
  });

  describe('settled', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });

    it('resolves with the final snapshot when the task becomes final', async () => {
      const store = newStore();
      const wait = outcome(store.settled('e1'));
      store.apply(queued('e1'));
      await vi.advanceTimersByTimeAsync(0);
      expect(wait.settled).toBe(false);
      expect(store.pendingWaits).toBe(1);
      const final = store.apply(succeeded('e1', 2));
      expect(await wait.value).toEqual({ ok: final });
    });

    it('resolves at once for a task that is already final', async () => {
      const store = newStore();
      const final = store.apply(failed('e1', 1));
      await expect(store.settled('e1', { timeout: 0 })).resolves.toBe(final);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('clears its timer when the task becomes final before the deadline', async () => {
      const store = newStore();
      const wait = outcome(store.settled('e1', { timeout: 1000 }));
      expect(store.timerArmed).toBe(true);
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(500);
      store.apply(succeeded('e1', 1));
      expect(await wait.value).toMatchObject({ ok: { phase: 'success' } });
      expect(vi.getTimerCount()).toBe(0);
    });

    it('rejects with a TimeoutError carrying the snapshot, after calling beforeTimeout once', async () => {
      const store = newStore();
      store.apply(started('e1', 1));
      const beforeTimeout = vi.fn(() => Promise.resolve());
      const wait = outcome(store.settled('e1', { timeout: 1000, beforeTimeout }));
      await vi.advanceTimersByTimeAsync(999);
      expect(beforeTimeout).not.toHaveBeenCalled();
      expect(wait.settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const result = await wait.value;
      expect(beforeTimeout).toHaveBeenCalledTimes(1);
      expect('error' in result && result.error).toBeInstanceOf(TimeoutError);
      const error = (result as { error: TimeoutError }).error;
      expect(error.name).toBe('TimeoutError');
      expect(error.timeout).toBe(1000);
      expect(error.snapshot).toBe(store.get('e1'));
      expect(error.message).toMatch(/not final after 1000 ms \(export e1 was running, 0% done\)/);
    });

    it('calls beforeTimeout once even with timeout 0', async () => {
      const store = newStore();
      const beforeTimeout = vi.fn(() => Promise.resolve());
      const wait = outcome(store.settled('e1', { timeout: 0, beforeTimeout }));
      expect(beforeTimeout).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(0);
      const result = await wait.value;
      expect(beforeTimeout).toHaveBeenCalledTimes(1);
      expect((result as { error: unknown }).error).toBeInstanceOf(TimeoutError);
      expect((result as { error: TimeoutError }).error.snapshot).toBeUndefined();
    });

    it('resolves when the last check at the deadline finds the task final', async () => {
      const store = newStore();
      store.apply(started('e1', 1));
      const beforeTimeout = vi.fn(() => {
        store.apply(succeeded('e1', 2));
        return Promise.resolve();
      });
      const wait = outcome(store.settled('e1', { timeout: 10, beforeTimeout }));
      await vi.advanceTimersByTimeAsync(10);
      expect(await wait.value).toMatchObject({ ok: { phase: 'success', seq: 2 } });
      expect(beforeTimeout).toHaveBeenCalledTimes(1);
    });

    it('rejects with the error of a failed last check', async () => {
      const store = newStore();
      const problem = new Error('status route down');
      const wait = outcome(store.settled('e1', { timeout: 10, beforeTimeout: () => Promise.reject(problem) }));
      await vi.advanceTimersByTimeAsync(10);
      expect(await wait.value).toEqual({ error: problem });
    });

    it("rejects with the signal's reason when aborted, and removes its listener", async () => {
      const store = newStore();
      const controller = new AbortController();
      const added = vi.spyOn(controller.signal, 'addEventListener');
      const removed = vi.spyOn(controller.signal, 'removeEventListener');
      const wait = outcome(store.settled('e1', { timeout: 1000, signal: controller.signal }));
      const reason = new Error('user left');
      controller.abort(reason);
      expect(await wait.value).toEqual({ error: reason });
      expect(added).toHaveBeenCalledTimes(1);
      expect(removed).toHaveBeenCalledWith('abort', added.mock.calls[0]![1]);
      expect(vi.getTimerCount()).toBe(0);
      // The task itself is untouched and later waits still work.
      store.apply(succeeded('e1', 1));
      await expect(store.settled('e1')).resolves.toMatchObject({ phase: 'success' });
    });

    it("rejects at once with an already aborted signal's reason", async () => {
      const store = newStore();
      const signal = AbortSignal.abort('gone');
      await expect(store.settled('e1', { signal })).rejects.toBe('gone');
      expect(store.pendingWaits).toBe(0);
    });

    it('removes the abort listener when the task settles first', async () => {
      const store = newStore();
      const controller = new AbortController();
      const removed = vi.spyOn(controller.signal, 'removeEventListener');
      const wait = outcome(store.settled('e1', { signal: controller.signal }));
      store.apply(succeeded('e1', 1));
      expect(await wait.value).toMatchObject({ ok: { phase: 'success' } });
      expect(removed).toHaveBeenCalledTimes(1);
      controller.abort();
    });

    it.each<[string, unknown]>([
      ['a negative timeout', { timeout: -5 }],
      ['a NaN timeout', { timeout: Number.NaN }],
      ['a timeout given as text', { timeout: '100' }],
      ['an unknown option', { timeot: 100 }],
      ['a signal that is not an AbortSignal', { signal: {} }],
      ['a beforeTimeout that is not a function', { beforeTimeout: 'later' }],
      ['options that are not an object', 100],
    ])('rejects %s with a TypeError before anything', async (_, options) => {
      const store = newStore();
      const beforeTimeout = vi.fn(() => Promise.resolve());
      const bag = typeof options === 'object' && options !== null && !('beforeTimeout' in options) ? { ...options, beforeTimeout } : options;
      const promise = store.settled('e1', bag as Parameters<TaskStore['settled']>[1]);
      expect(store.pendingWaits).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
      await expect(promise).rejects.toThrow(TypeError);
      expect(beforeTimeout).not.toHaveBeenCalled();
    });

    it('checks its options even for a task that is already final', async () => {
      const store = newStore();
      store.apply(succeeded('e1', 1));
      await expect(store.settled('e1', { timeout: -1 })).rejects.toThrow(/non-negative number of milliseconds/);
    });

    it('arms a single timer for 10,000 waits with timeouts, and none once they time out', async () => {
      const store = newStore();
      const waits = Array.from({ length: 10_000 }, (_, i) => outcome(store.settled(`e${i % 100}`, { timeout: 1000 + (i % 10) })));
      expect(vi.getTimerCount()).toBe(1);
      expect(store.pendingWaits).toBe(10_000);
      await vi.advanceTimersByTimeAsync(1005);
      expect(vi.getTimerCount()).toBe(1);
      expect(store.pendingWaits).toBe(4000);
      await vi.advanceTimersByTimeAsync(5);
      const results = await Promise.all(waits.map((w) => w.value));
      expect(results.every((r) => 'error' in r && r.error instanceof TimeoutError)).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('arms a single timer for 10,000 waits, and clears it when every task settles first', async () => {
      const store = newStore();
      const waits = Array.from({ length: 10_000 }, (_, i) => outcome(store.settled(`e${i % 100}`, { timeout: 60_000 - i })));
      expect(vi.getTimerCount()).toBe(1);
      for (let i = 0; i < 100; i++) store.apply(succeeded(`e${i}`, 1));
      const results = await Promise.all(waits.map((w) => w.value));
      expect(results.every((r) => 'ok' in r && r.ok.phase === 'success')).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('times out waits in the order of their deadlines', async () => {
      const store = newStore();
      const order: number[] = [];
      const waits = [300, 100, 200, 0].map((timeout) =>
        store.settled('e1', { timeout }).catch((error: unknown) => {
          order.push((error as TimeoutError).timeout);
        }),
      );
      await vi.advanceTimersByTimeAsync(300);
      await Promise.all(waits);
      expect(order).toEqual([0, 100, 200, 300]);
    });
  });
});

/** The snapshot one store folds from `event`, moved to cursor `seq` (as a later persisted copy). */
function replayed(event: Record<string, unknown>, seq: number): ExportTaskSnapshot {
  return { ...new TaskStore().apply(event), seq };
}

describe('TaskStore, observers and waits', () => {
  describe('observedPending', () => {
    it("answers the product's unfinished tasks someone waits for or watches, each once", () => {
      const store = newStore();
      for (const id of ['waited', 'watched', 'both', 'unobserved', 'final']) store.apply(queued(id));
      store.apply(ev('queued', 'other-product', 1, { product_id: 'parcels' }));
      store.apply(succeeded('final', 2));
      const subscriptions = ['watched', 'both', 'final', 'other-product'].map((id) => store.watch(id).subscribe());
      const waits = ['waited', 'both', 'final', 'other-product', 'unknown'].map((id) => outcome(store.settled(id)));
      expect(store.observedPending(P).sort()).toEqual(['both', 'waited', 'watched']);
      expect(store.observedPending('parcels')).toEqual(['other-product']);
      expect(store.observedPending('nothing')).toEqual([]);
      for (const subscription of subscriptions) subscription.unsubscribe();
      expect(store.observedPending(P).sort()).toEqual(['both', 'waited']);
      for (const id of ['waited', 'both', 'other-product', 'unknown']) {
        store.apply(ev('failed', id, (store.get(id)?.seq ?? 0) + 1, { product_id: id === 'other-product' ? 'parcels' : P }));
      }
      return Promise.all(waits.map((w) => w.value)).then(() => expect(store.observedPending(P)).toEqual([]));
    });

    it('forgets a watch once unsubscribed, also of appliedEvents', () => {
      const store = newStore();
      store.apply(queued('e1'));
      const events = store.appliedEvents('e1').subscribe();
      expect(store.observedPending(P)).toEqual(['e1']);
      events.unsubscribe();
      expect(store.observedPending(P)).toEqual([]);
    });

    it('forgets the waits of a task once all of them are released', async () => {
      const store = newStore();
      store.apply(queued('e1'));
      const first = new AbortController();
      const second = new AbortController();
      const waits = [outcome(store.settled('e1', { signal: first.signal })), outcome(store.settled('e1', { signal: second.signal }))];
      first.abort('first');
      second.abort('second');
      expect(await Promise.all(waits.map((w) => w.value))).toEqual([{ error: 'first' }, { error: 'second' }]);
      expect(store.pendingWaits).toBe(0);
      expect(store.observedPending(P)).toEqual([]);
    });
  });

  describe('watch', () => {
    it('notifies every watcher of a task, and the others still after one leaves', () => {
      const store = newStore();
      store.apply(queued('e1'));
      const seen: [string, number][] = [];
      const a = store.watch('e1').subscribe((s) => seen.push(['a', s.seq]));
      store.watch('e1').subscribe((s) => seen.push(['b', s.seq]));
      store.apply(started('e1', 2));
      a.unsubscribe();
      store.apply(log('e1', 3, 'x'));
      expect(seen).toEqual([
        ['a', 1],
        ['b', 1],
        ['a', 2],
        ['b', 2],
        ['b', 3],
      ]);
    });

    it('calls the watchers there when a change began: one that leaves or joins during it changes the next call only', () => {
      const store = newStore();
      store.apply(queued('e1'));
      const seen: string[] = [];
      let late: Subscription | undefined;
      const third = store.watch('e1').subscribe((s) => seen.push(`third ${s.seq}`));
      const first = store.watch('e1').subscribe((s) => {
        seen.push(`first ${s.seq}`);
        if (s.seq === 2) late = store.watch('e1').subscribe((t) => seen.push(`late ${t.seq}`));
        if (s.seq === 3) first.unsubscribe();
      });
      store.apply(started('e1', 2));
      store.apply(log('e1', 3, 'x'));
      store.apply(log('e1', 4, 'y'));
      late!.unsubscribe();
      store.apply(log('e1', 5, 'z'));
      third.unsubscribe();
      expect(seen).toEqual(['third 1', 'first 1', 'third 2', 'first 2', 'late 2', 'third 3', 'first 3', 'late 3', 'third 4', 'late 4', 'third 5']);
      expect(store.observedPending(P)).toEqual([]);
    });
  });

  describe('appliedEvents', () => {
    it('completes at once, without events, for a task that is already final', () => {
      const store = newStore();
      store.apply(succeeded('e1', 1));
      const events: unknown[] = [];
      let completed = false;
      store.appliedEvents('e1').subscribe({ next: (e) => events.push(e), complete: () => (completed = true) });
      expect(completed).toBe(true);
      expect(events).toEqual([]);
    });
  });

  describe('changes$', () => {
    it("emits every task's snapshot each time it changes, and not for a duplicate", () => {
      const store = newStore();
      const seen: [string, number][] = [];
      store.changes$.subscribe((s) => seen.push([s.exportId, s.seq]));
      store.apply(queued('e1'));
      store.apply(queued('e2'));
      store.apply(queued('e1'));
      store.apply(started('e1', 2));
      expect(seen).toEqual([
        ['e1', 1],
        ['e2', 1],
        ['e1', 2],
      ]);
    });
  });

  describe('errors$', () => {
    it('passes on what reportError() reports', () => {
      const store = newStore();
      const errors: Error[] = [];
      store.errors$.subscribe((e) => errors.push(e));
      const error = new Error('poll failed');
      store.reportError(error);
      expect(errors).toEqual([error]);
    });
  });

  describe('holding', () => {
    it('drops the held events a snapshot covers, so they do not count against maxHeld', () => {
      const store = newStore({ maxHeld: 2 });
      const seen: TaskDiagnostic['kind'][] = [];
      store.diagnostics$.subscribe((d) => seen.push(d.kind));
      store.apply(queued('e1'));
      store.apply(log('e1', 3, 'three'));
      store.apply(log('e1', 4, 'four'));
      store.apply(snapshotEvent('e1', 3, 'running', { progress: 0.5, log: ['two', 'three'] }));
      expect(store.get('e1')).toMatchObject({ seq: 4, log: ['two', 'three', 'four'] });
      store.apply(log('e1', 6, 'six'));
      store.apply(log('e1', 7, 'seven'));
      expect(seen).toEqual([]);
      store.apply(log('e1', 5, 'five'));
      expect(store.get('e1')).toMatchObject({ seq: 7, log: ['two', 'three', 'four', 'five', 'six', 'seven'] });
    });

    it('drops the held events a snapshot covers when nothing held follows it', () => {
      const store = newStore({ maxHeld: 2 });
      const seen: TaskDiagnostic['kind'][] = [];
      store.diagnostics$.subscribe((d) => seen.push(d.kind));
      store.apply(queued('e1'));
      store.apply(log('e1', 3, 'three'));
      store.apply(log('e1', 4, 'four'));
      store.apply(snapshotEvent('e1', 4, 'running', { log: ['two', 'three', 'four'] }));
      store.apply(log('e1', 6, 'six'));
      store.apply(log('e1', 7, 'seven'));
      expect(seen).toEqual([]);
      store.apply(log('e1', 5, 'five'));
      expect(store.get('e1')).toMatchObject({ seq: 7, log: ['two', 'three', 'four', 'five', 'six', 'seven'] });
    });

    it('drops the held events a restored snapshot covers, so they do not count against maxHeld', () => {
      const store = newStore({ maxHeld: 2 });
      const seen: TaskDiagnostic['kind'][] = [];
      store.diagnostics$.subscribe((d) => seen.push(d.kind));
      const known = store.apply(queued('e1'));
      store.apply(log('e1', 3, 'three'));
      store.apply(log('e1', 4, 'four'));
      store.restore({ ...known, phase: 'running', seq: 3, log: ['two', 'three'] });
      expect(store.get('e1')).toMatchObject({ seq: 4, log: ['two', 'three', 'four'] });
      store.apply(log('e1', 6, 'six'));
      store.apply(log('e1', 7, 'seven'));
      expect(seen).toEqual([]);
    });
  });

  describe('restore', () => {
    it('ignores a snapshot at the seq it already knows', () => {
      const store = newStore();
      const known = store.apply(queued('e1'));
      expect(store.restore({ ...known, log: ['other'] })).toBe(known);
      expect(store.get('e1')).toBe(known);
    });

    it('keeps a running task running, and takes the higher progress of a pending snapshot', () => {
      const store = newStore();
      store.apply(progress('e1', 1, 0.2));
      expect(store.restore({ ...store.get('e1')!, seq: 4, phase: 'pending', progress: 0.7 })).toMatchObject({ seq: 4, phase: 'running', progress: 0.7 });
    });

    it('keeps the higher progress of a task the snapshot moves forward', () => {
      const store = newStore();
      store.apply(snapshotEvent('e1', 1, 'pending', { progress: 0.4 }));
      expect(store.restore({ ...store.get('e1')!, seq: 2, phase: 'running', progress: 0.1 })).toMatchObject({ seq: 2, phase: 'running', progress: 0.4 });
    });

    it('keeps a pending task pending on a later pending snapshot', () => {
      const store = newStore();
      store.apply(queued('e1'));
      expect(store.restore({ ...store.get('e1')!, seq: 3, log: ['waiting'] })).toMatchObject({ seq: 3, phase: 'pending', log: ['waiting'] });
    });

    it.each(['pending', 'running'] as const)('takes a %s task to the final phase of a restored snapshot', (phase) => {
      const store = newStore();
      store.apply(phase === 'pending' ? queued('e1') : started('e1', 1));
      const final = replayed(succeeded('e1', 1), 3);
      expect(store.restore(final)).toMatchObject({ seq: 3, phase: 'success', progress: 1, attributes: { status: 'SUCCESS' } });
    });

    it('takes a restored snapshot as it is when it is ahead in phase and progress', () => {
      const store = newStore();
      store.apply(queued('e1'));
      const ahead = { ...store.get('e1')!, seq: 3, phase: 'running' as const, progress: 0.5 };
      expect(store.restore(ahead)).toEqual(ahead);
    });
  });

  describe('diagnostics$', () => {
    it('tells events after the outcome that agree with it from conflicts', () => {
      const store = newStore();
      const seen: [TaskDiagnostic['kind'], TaskDiagnostic['type']][] = [];
      store.diagnostics$.subscribe((d) => seen.push([d.kind, d.type]));
      store.apply(failed('e1', 1));
      store.apply(failed('e1', 2, 'oom'));
      store.apply(snapshotEvent('e1', 3, 'failure', { attributes: { status: 'FAILURE' } }));
      store.apply(snapshotEvent('e1', 4, 'running'));
      store.apply(succeeded('e1', 5));
      expect(seen).toEqual([
        ['after-final', 'failed'],
        ['after-final', 'snapshot'],
        ['after-final', 'snapshot'],
        ['conflict', 'succeeded'],
      ]);
    });
  });

  describe('settled', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });

    it('keeps the other waits of a task when a wait aborted during its last check is released a second time', async () => {
      const store = newStore();
      const controller = new AbortController();
      let finishCheck!: () => void;
      const check = new Promise<void>((resolve) => (finishCheck = resolve));
      const aborted = outcome(store.settled('e1', { timeout: 10, signal: controller.signal, beforeTimeout: () => check }));
      const kept = outcome(store.settled('e1'));
      await vi.advanceTimersByTimeAsync(10);
      controller.abort('enough');
      expect(await aborted.value).toEqual({ error: 'enough' });
      // The last check ends after the abort released the wait: its release is a no-op.
      finishCheck();
      await vi.advanceTimersByTimeAsync(0);
      expect(store.pendingWaits).toBe(1);
      store.apply(succeeded('e1', 1));
      expect(await kept.value).toMatchObject({ ok: { phase: 'success' } });
    });

    it('keeps the other waits of a task when one is aborted', async () => {
      const store = newStore();
      const controller = new AbortController();
      const aborted = outcome(store.settled('e1', { signal: controller.signal }));
      const kept = outcome(store.settled('e1'));
      const timed = outcome(store.settled('e1', { timeout: 1000 }));
      controller.abort('enough');
      expect(await aborted.value).toEqual({ error: 'enough' });
      expect(store.pendingWaits).toBe(2);
      store.apply(succeeded('e1', 1));
      expect(await kept.value).toMatchObject({ ok: { phase: 'success' } });
      expect(await timed.value).toMatchObject({ ok: { phase: 'success' } });
    });

    it('times out a wait whatever waits without a timeout began after it', async () => {
      const store = newStore();
      const timed = outcome(store.settled('e1', { timeout: 100 }));
      const untimed = outcome(store.settled('e2'));
      await vi.advanceTimersByTimeAsync(100);
      const result = await timed.value;
      expect('error' in result && result.error).toBeInstanceOf(TimeoutError);
      store.apply(succeeded('e2', 1));
      expect(await untimed.value).toMatchObject({ ok: { phase: 'success' } });
    });

    it('names itself and the option in its TypeErrors', async () => {
      const store = newStore();
      await expect(store.settled('e1', { timeout: -1 })).rejects.toThrow(
        'TaskStore.settled(): expected `timeout` to be a non-negative number of milliseconds (or undefined for no limit), got -1',
      );
      await expect(store.settled('e1', { beforeTimeout: 1 as never })).rejects.toThrow(
        'TaskStore.settled(): expected `beforeTimeout` to be a function returning a promise',
      );
    });
  });

  describe('constructor and apply', () => {
    it('names itself in its TypeErrors', () => {
      expect(() => new TaskStore({ maxheld: 1 } as TaskStoreOptions)).toThrow('new TaskStore(): unknown option `maxheld`; the options are `maxHeld`');
    });

    it('names the product an export belongs to when an event says another', () => {
      const store = newStore();
      store.apply(queued('e1'));
      expect(() => store.apply(ev('started', 'e1', 2, { product_id: 'parcels' }))).toThrow(
        'Invalid task event: expected `product_id` to be "roads", the product this export belongs to (export e1), got "parcels"',
      );
    });
  });

  describe('the client\'s entry for getResult (finishedChecked)', () => {
    it('answers no promise for a task final already, and one resolving with nothing for a task that becomes final', async () => {
      const store = newStore();
      store.apply(queued('done'));
      store.apply(succeeded('done', 2));
      expect(finishedChecked(store, 'done', undefined, undefined, undefined)).toBeUndefined();
      expect(store.pendingWaits).toBe(0);
      // A task the store has not heard of yet is waited for too.
      const unknown = finishedChecked(store, 'unheard', undefined, undefined, undefined);
      expect(unknown).toBeInstanceOf(Promise);
      store.apply(succeeded('unheard', 1));
      await expect(unknown).resolves.toBeUndefined();
      store.apply(queued('later'));
      const wait = finishedChecked(store, 'later', 60_000, undefined, undefined);
      store.apply(failed('later', 2));
      await expect(wait).resolves.toBeUndefined();
      expect(store.pendingWaits).toBe(0);
      expect(store.timerArmed).toBe(false);
    });
  });

  describe('onStep', () => {
    it('keeps the other listeners when one is removed, and a second removal is harmless', () => {
      const store = newStore();
      const first: string[] = [];
      const second: string[] = [];
      const removeFirst = store.onStep((event) => first.push(event.type));
      const removeSecond = store.onStep((event, before, after) => second.push(`${before.phase}>${after.phase}`));
      store.apply(queued('e1'));
      removeFirst();
      store.apply(started('e1', 2));
      removeSecond();
      removeSecond();
      removeFirst();
      store.apply(succeeded('e1', 3));
      expect(first).toEqual(['queued']);
      expect(second).toEqual(['pending>pending', 'pending>running']);
    });
  });
});
