import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, type CallbackDeadline } from '../../../src/core/internal/deadline-queue.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('DeadlineQueue', () => {
  it('fires deadlines in time order, each once, on a single timer', () => {
    const queue = new DeadlineQueue();
    const fired: number[] = [];
    const now = Date.now();
    for (const delay of [50, 10, 40, 20, 30]) queue.add(now + delay, () => fired.push(delay));
    expect(queue.size).toBe(5);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(25);
    expect(fired).toEqual([10, 20]);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([10, 20, 30, 40, 50]);
    expect(queue.size).toBe(0);
    expect(queue.armed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fires a deadline at its time, not before', () => {
    const queue = new DeadlineQueue();
    const fire = vi.fn();
    queue.add(Date.now() + 100, fire);
    vi.advanceTimersByTime(99);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('fires a deadline already past on the next timer tick, not inside add()', () => {
    const queue = new DeadlineQueue();
    const fire = vi.fn();
    queue.add(Date.now() - 1000, fire);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(0);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('keeps its timer for a later deadline: one setTimeout while the earliest stays the same', () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const queue = new DeadlineQueue();
    const now = Date.now();
    queue.add(now + 10, () => undefined);
    queue.add(now + 20, () => undefined);
    queue.add(now + 10, () => undefined);
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1);
    setTimeoutSpy.mockRestore();
    vi.advanceTimersByTime(20);
  });

  it('re-arms for an earlier deadline added later', () => {
    const queue = new DeadlineQueue();
    const fired: string[] = [];
    queue.add(Date.now() + 100, () => fired.push('late'));
    queue.add(Date.now() + 10, () => fired.push('early'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(10);
    expect(fired).toEqual(['early']);
    vi.advanceTimersByTime(90);
    expect(fired).toEqual(['early', 'late']);
  });

  it('waits past the longest delay setTimeout takes', () => {
    const queue = new DeadlineQueue();
    const fire = vi.fn();
    const max = 2_147_483_647;
    queue.add(Date.now() + max + 1000, fire);
    vi.advanceTimersByTime(max);
    expect(fire).not.toHaveBeenCalled();
    expect(queue.armed).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(fire).toHaveBeenCalledTimes(1);
    expect(queue.armed).toBe(false);
  });

  describe('cancel', () => {
    it('keeps a cancelled deadline from firing and disarms when nothing is left', () => {
      const queue = new DeadlineQueue();
      const fire = vi.fn();
      const deadline = queue.add(Date.now() + 10, fire);
      queue.cancel(deadline);
      expect(queue.size).toBe(0);
      expect(queue.armed).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(100);
      expect(fire).not.toHaveBeenCalled();
    });

    it('is a no-op for a deadline that fired or was cancelled already', () => {
      const queue = new DeadlineQueue();
      const a = queue.add(Date.now() + 10, () => undefined);
      const fireB = vi.fn();
      queue.add(Date.now() + 20, fireB);
      vi.advanceTimersByTime(10);
      queue.cancel(a);
      queue.cancel(a);
      expect(queue.size).toBe(1);
      vi.advanceTimersByTime(10);
      expect(fireB).toHaveBeenCalledTimes(1);
    });

    it('leaves the others alone when a cancelled deadline is cancelled again', () => {
      const queue = new DeadlineQueue();
      const fired: string[] = [];
      const now = Date.now();
      const victim = queue.add(now + 10, () => fired.push('victim'));
      for (const name of ['a', 'b', 'c']) queue.add(now + 20, () => fired.push(name));
      queue.cancel(victim);
      queue.cancel(victim);
      expect(queue.size).toBe(3);
      vi.advanceTimersByTime(20);
      expect(fired.sort()).toEqual(['a', 'b', 'c']);
    });

    it('leaves the others alone when a deadline cancelled by a callback of its batch is cancelled again', () => {
      const queue = new DeadlineQueue();
      const fired: string[] = [];
      const now = Date.now();
      const later: CallbackDeadline[] = [];
      queue.add(now + 10, () => {
        fired.push('first');
        queue.cancel(later[0]!);
        queue.cancel(later[0]!);
      });
      later.push(queue.add(now + 10, () => fired.push('second')));
      for (const name of ['a', 'b']) queue.add(now + 20, () => fired.push(name));
      vi.advanceTimersByTime(10);
      expect(fired).toEqual(['first']);
      expect(queue.size).toBe(2);
      vi.advanceTimersByTime(10);
      expect(fired.slice(1).sort()).toEqual(['a', 'b']);
    });

    it('cancelling the earliest deadline still fires the next at its own time', () => {
      const queue = new DeadlineQueue();
      const fired: string[] = [];
      const first = queue.add(Date.now() + 10, () => fired.push('first'));
      queue.add(Date.now() + 30, () => fired.push('second'));
      queue.cancel(first);
      vi.advanceTimersByTime(29);
      expect(fired).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(fired).toEqual(['second']);
    });
  });

  describe('re-entrancy', () => {
    it('lets a callback add deadlines, due now or later', () => {
      const queue = new DeadlineQueue();
      const fired: string[] = [];
      queue.add(Date.now() + 10, () => {
        fired.push('a');
        queue.add(Date.now(), () => fired.push('now'));
        queue.add(Date.now() + 10, () => fired.push('later'));
      });
      vi.advanceTimersByTime(10);
      expect(fired).toEqual(['a']);
      // A deadline added by a callback waits for the next timer, even when it is due now.
      vi.advanceTimersByTime(1);
      expect(fired).toEqual(['a', 'now']);
      vi.advanceTimersByTime(9);
      expect(fired).toEqual(['a', 'now', 'later']);
      expect(queue.armed).toBe(false);
    });

    // Regression: a deadline of the same batch, cancelled by an earlier callback, used to fire anyway.
    it('lets a callback cancel another deadline of the same batch', () => {
      const queue = new DeadlineQueue();
      const fired: string[] = [];
      const at = Date.now() + 10;
      queue.add(at, () => {
        fired.push('a');
        queue.cancel(b);
      });
      const b = queue.add(at, () => fired.push('b'));
      vi.advanceTimersByTime(10);
      expect(fired).toEqual(['a']);
      expect(queue.size).toBe(0);
    });

    it('lets a callback cancel itself and a deadline still waiting', () => {
      const queue = new DeadlineQueue();
      const fired: string[] = [];
      const self: CallbackDeadline = queue.add(Date.now() + 10, () => {
        fired.push('self');
        queue.cancel(self);
        queue.cancel(later);
      });
      const later = queue.add(Date.now() + 20, () => fired.push('later'));
      vi.advanceTimersByTime(100);
      expect(fired).toEqual(['self']);
      expect(queue.armed).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  it('agrees with a plain list model under any adds, cancels and waits', () => {
    type Op = { kind: 'add'; delay: number } | { kind: 'cancel'; pick: number } | { kind: 'wait'; ms: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), delay: fc.integer({ min: -5, max: 100 }) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 60 }) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        vi.setSystemTime(0);
        const queue = new DeadlineQueue();
        const fired: { id: number; at: number; when: number }[] = [];
        const model: { id: number; at: number; deadline: CallbackDeadline }[] = [];
        let next = 0;
        for (const op of ops) {
          if (op.kind === 'add') {
            const id = next++;
            const at = Date.now() + op.delay;
            model.push({ id, at, deadline: queue.add(at, () => fired.push({ id, at, when: Date.now() })) });
          } else if (op.kind === 'cancel') {
            if (model.length === 0) continue;
            const [victim] = model.splice(op.pick % model.length, 1);
            queue.cancel(victim!.deadline);
          } else {
            const before = fired.length;
            vi.advanceTimersByTime(op.ms);
            const now = Date.now();
            const due = model.filter((m) => m.at <= now).map((m) => m.id);
            const firedNow = fired.slice(before);
            expect(firedNow.map((f) => f.id).sort((a, b) => a - b)).toEqual(due.sort((a, b) => a - b));
            for (let i = 1; i < firedNow.length; i++) expect(firedNow[i]!.at).toBeGreaterThanOrEqual(firedNow[i - 1]!.at);
            // Never early, and never later than the next tick after the deadline.
            for (const f of firedNow) expect(f.when).toBeGreaterThanOrEqual(f.at);
            for (let i = model.length - 1; i >= 0; i--) if (model[i]!.at <= now) model.splice(i, 1);
          }
          expect(queue.size).toBe(model.length);
          expect(queue.armed).toBe(model.length > 0);
          expect(vi.getTimerCount()).toBe(model.length > 0 ? 1 : 0);
        }
        vi.clearAllTimers();
      }),
    );
  });

  describe('one list per delay', () => {
    it('fires the waits of one timeout in order, whichever of them were cancelled', () => {
      const queue = new DeadlineQueue<CallbackDeadline & { id: number }>((deadline) => deadline.fire());
      const fired: number[] = [];
      const deadlines: (CallbackDeadline & { id: number })[] = [];
      for (let id = 0; id < 1000; id++) {
        const deadline = { id, at: 0, prev: null, next: null, fire: () => fired.push(id) };
        queue.insert(deadline, 100);
        deadlines.push(deadline);
        if (id % 20 === 19) vi.advanceTimersByTime(1);
      }
      for (const deadline of deadlines) if (deadline.id % 3 === 0) queue.cancel(deadline);
      expect(queue.size).toBe(666);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(100);
      expect(fired).toEqual(deadlines.filter((d) => d.id % 3 !== 0).map((d) => d.id));
      expect(queue.armed).toBe(false);
    });

    it('fires each deadline of a delay at its own time, not at a later one of the same delay', () => {
      const queue = new DeadlineQueue();
      const fired: string[] = [];
      queue.add(Date.now() + 100, () => fired.push('first'));
      vi.advanceTimersByTime(10);
      queue.add(Date.now() + 100, () => fired.push('second'));
      vi.advanceTimersByTime(90);
      expect(fired).toEqual(['first']);
      vi.advanceTimersByTime(9);
      expect(fired).toEqual(['first']);
      vi.advanceTimersByTime(1);
      expect(fired).toEqual(['first', 'second']);
    });

    it('gives a deadline added after the clock went back its place before the later ones of its delay', () => {
      const queue = new DeadlineQueue();
      const fired: string[] = [];
      vi.setSystemTime(1_000);
      queue.add(1_100, () => fired.push('first, due at 1100'));
      vi.setSystemTime(500);
      queue.add(600, () => fired.push('second, due at 600'));
      vi.advanceTimersByTime(100);
      expect(fired).toEqual(['second, due at 600']);
      vi.advanceTimersByTime(499);
      expect(fired).toEqual(['second, due at 600']);
      vi.advanceTimersByTime(1);
      expect(fired).toEqual(['second, due at 600', 'first, due at 1100']);
      expect(queue.armed).toBe(false);
    });

    it('forgets the list of a delay once its last deadline is cancelled, and makes it again', () => {
      const queue = new DeadlineQueue();
      const fired: string[] = [];
      const now = Date.now();
      const a = queue.add(now + 50, () => fired.push('a'));
      queue.add(now + 10, () => fired.push('b'));
      queue.cancel(a);
      vi.advanceTimersByTime(10);
      expect(fired).toEqual(['b']);
      queue.add(Date.now() + 50, () => fired.push('c'));
      vi.advanceTimersByTime(50);
      expect(fired).toEqual(['b', 'c']);
    });
  });

  it('agrees with a plain list model under inserts with shared delays, cancels, waits and clock jumps back', () => {
    type Op =
      | { kind: 'insert'; delay: number }
      | { kind: 'cancel'; pick: number }
      | { kind: 'wait'; ms: number }
      | { kind: 'back'; ms: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('insert' as const), delay: fc.constantFrom(0, 10, 25, 100) }), weight: 4 },
      { arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 60 }) }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('back' as const), ms: fc.integer({ min: 1, max: 50 }) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        vi.setSystemTime(1_000);
        const fired: number[] = [];
        const queue = new DeadlineQueue<CallbackDeadline>();
        const model: { id: number; deadline: CallbackDeadline }[] = [];
        let next = 0;
        for (const op of ops) {
          if (op.kind === 'insert') {
            const id = next++;
            const deadline: CallbackDeadline = { at: 0, prev: null, next: null, fire: () => fired.push(id) };
            queue.insert(deadline, op.delay);
            expect(deadline.at).toBe(Date.now() + op.delay);
            model.push({ id, deadline });
          } else if (op.kind === 'cancel') {
            if (model.length === 0) continue;
            const [victim] = model.splice(op.pick % model.length, 1);
            queue.cancel(victim!.deadline);
          } else if (op.kind === 'back') {
            vi.setSystemTime(Date.now() - op.ms);
          } else {
            const before = fired.length;
            const start = Date.now();
            vi.advanceTimersByTime(op.ms);
            const now = Date.now();
            // Due: everything whose time has come, and nothing else (never early by the clock).
            const due = model.filter((m) => m.deadline.at <= now).map((m) => m.id);
            expect([...fired.slice(before)].sort((a, b) => a - b)).toEqual(due.sort((a, b) => a - b));
            expect(now).toBe(start + op.ms);
            for (let i = model.length - 1; i >= 0; i--) if (model[i]!.deadline.at <= now) model.splice(i, 1);
          }
          expect(queue.size).toBe(model.length);
          expect(queue.armed).toBe(model.length > 0);
          expect(vi.getTimerCount()).toBe(model.length > 0 ? 1 : 0);
        }
        vi.clearAllTimers();
      }),
    );
  });
});
