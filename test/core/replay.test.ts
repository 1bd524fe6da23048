import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../src/core/errors.js';
import { replay } from '../../src/core/replay.js';
import { hostileDeliveryArb, taskHistoryArb } from '../../src/testing/arbitraries.js';

const T0 = '2026-01-01T00:00:00.000Z';
const ev = (type: string, seq: number, extra: Record<string, unknown> = {}) => ({ type, product_id: 'roads', export_id: 'e1', seq, time: T0, ...extra });

const history = [
  ev('queued', 1),
  ev('started', 2),
  ev('progress', 3, { fraction: 0.4, message: 'reading' }),
  ev('log', 4, { line: 'one' }),
  ev('cancel_requested', 5),
  ev('failed', 6, { failure_type: 'cancelled', exception_name: 'None', stacktrace: null, runtime: 3, peak_memory_usage: null }),
];

describe('replay', () => {
  it('folds a history into its snapshot', () => {
    expect(replay(history)).toEqual({
      productId: 'roads',
      exportId: 'e1',
      phase: 'failure',
      seq: 6,
      progress: 0.4,
      message: 'reading',
      log: ['one'],
      cancelRequested: true,
      created: T0,
      attributes: {
        status: 'FAILURE',
        failureType: 'cancelled',
        exceptionName: null,
        stacktrace: null,
        runtime: 3,
        peakMemoryUsage: null,
        labels: null,
        key: null,
        sizeBytes: null,
        sha256: null,
        created: T0,
      },
    });
  });

  it('gives the same snapshot for any order and duplication', () => {
    const shuffled = [history[5], history[2], history[0], history[2], history[4], history[1], history[3], history[0]];
    expect(replay(shuffled)).toEqual(replay(history));
  });

  it('accepts JSON text', () => {
    expect(replay(history.map((e) => JSON.stringify(e)))).toEqual(replay(history));
  });

  it('leaves out events after a gap nothing fills', () => {
    const snapshot = replay([history[0], history[1], history[3]]);
    expect(snapshot).toMatchObject({ seq: 2, phase: 'running', log: [] });
  });

  it('resumes from a persisted snapshot', () => {
    const prefix = replay(history.slice(0, 3));
    const persisted: unknown = JSON.parse(JSON.stringify(prefix));
    expect(replay(history.slice(3), persisted as typeof prefix)).toEqual(replay(history));
    // Events at or below the cursor are duplicates.
    expect(replay(history, persisted as typeof prefix)).toEqual(replay(history));
  });

  it('answers a copy of `from` when there are no events', () => {
    const from = replay(history.slice(0, 2));
    const again = replay([], from);
    expect(again).toEqual(from);
    expect(again).not.toBe(from);
  });

  it('does not change `from`', () => {
    const from = replay(history.slice(0, 2));
    const copy = structuredClone(from);
    replay(history, from);
    expect(from).toEqual(copy);
  });

  it("rejects another task's event with an InvalidEventError naming export_id", () => {
    expect(() => replay([history[0], { ...history[1], export_id: 'e2' }])).toThrow(InvalidEventError);
    expect(() => replay([{ ...history[1], export_id: 'e2' }], replay(history.slice(0, 1)))).toThrow(/replay\(\) folds one task's history/);
    try {
      replay([history[0], { ...history[1], export_id: 'e2' }]);
    } catch (error) {
      expect(error).toMatchObject({ field: 'export_id', value: 'e2' });
    }
    expect.assertions(3);
  });

  it('holds as many early events as a history has: 2,000 logs delivered last first', () => {
    const logs = Array.from({ length: 2000 }, (_, i) => ev('log', i + 2, { line: `line ${i + 2}` }));
    const snapshot = replay([...logs].reverse().concat([ev('queued', 1)]));
    expect(snapshot.seq).toBe(2001);
    expect(snapshot.log).toHaveLength(2000);
    expect(snapshot.log.at(-1)).toBe('line 2001');
  });

  it('rejects a malformed event with an InvalidEventError', () => {
    expect(() => replay([history[0], ev('progress', 2, { fraction: 7 })])).toThrow(InvalidEventError);
  });

  it('throws a TypeError with neither an event nor a snapshot', () => {
    expect(() => replay([])).toThrow(TypeError);
    expect(() => replay([])).toThrow(/at least one event or a snapshot/);
  });

  it('throws a TypeError for an invalid `from`', () => {
    expect(() => replay(history, { ...replay(history.slice(0, 1)), progress: 2 })).toThrow(TypeError);
  });

  it('gives the in-order snapshot for any hostile delivery of a generated history', () => {
    fc.assert(
      fc.property(
        taskHistoryArb().chain((h) => hostileDeliveryArb(h).map((delivery) => ({ history: h, delivery }))),
        ({ history: h, delivery }) => {
          expect(replay(delivery)).toEqual(replay(h.filter((e) => e.type !== 'snapshot')));
        },
      ),
    );
  });
});
