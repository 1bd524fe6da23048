import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replay } from '../../src/core/replay.js';
import { TASK_OUTCOMES, taskHistoryArb, type TaskOutcome } from '../../src/testing/index.js';

describe('taskHistoryArb({ outcome })', () => {
  it.each(TASK_OUTCOMES)('gives gap-free histories that fold to the %s outcome', (outcome: TaskOutcome) => {
    fc.assert(
      fc.property(taskHistoryArb({ outcome }), (history) => {
        const real = history.filter((e) => e.type !== 'snapshot');
        expect(real.map((e) => e.seq)).toEqual(real.map((_, i) => i + 1));
        const final = replay(history);
        expect(final.seq).toBe(real.length);
        switch (outcome) {
          case 'success':
            expect(final.phase).toBe('success');
            expect(final.attributes?.status).toBe('SUCCESS');
            expect(final.progress).toBe(1);
            break;
          case 'failure':
            expect(final.phase).toBe('failure');
            expect(final.attributes?.status).toBe('FAILURE');
            expect(final.attributes?.failureType).not.toBe('cancelled');
            break;
          case 'cancelled':
            expect(final.phase).toBe('failure');
            expect(final.attributes?.failureType).toBe('cancelled');
            expect(final.cancelRequested).toBe(true);
            break;
          case 'unfinished':
            expect(['pending', 'running']).toContain(final.phase);
            expect(final.attributes).toBeNull();
            break;
        }
      }),
    );
  });

  it('draws the failure types it is given, and only those', () => {
    const arb = taskHistoryArb({ outcome: 'failure', failureTypes: ['oom', 'timeout', null] });
    fc.assert(
      fc.property(arb, (history) => {
        expect(['oom', 'timeout', null]).toContain(replay(history).attributes!.failureType);
      }),
    );
    // A claim about the distribution, on a fixed sample: each type comes up.
    const seen = new Set(fc.sample(arb, { numRuns: 200, seed: 3 }).map((h) => replay(h).attributes!.failureType));
    expect(seen).toEqual(new Set(['oom', 'timeout', null]));
  });

  it('draws every known failure type but cancelled, null and unknown strings for a failure, by default', () => {
    const types = new Set(fc.sample(taskHistoryArb({ outcome: 'failure' }), { numRuns: 500, seed: 5 }).map((h) => replay(h).attributes!.failureType));
    for (const known of ['exception', 'oom', 'timeout', 'internal', 'unknown', 'executable_failure', null]) expect(types).toContain(known);
    expect(types).not.toContain('cancelled');
    expect([...types].some((t) => typeof t === 'string' && t.startsWith('x_'))).toBe(true);
  });

  it('draws every outcome of a list', () => {
    const phases = new Set(
      fc.sample(taskHistoryArb({ outcome: TASK_OUTCOMES }), { numRuns: 400, seed: 7 }).map((h) => {
        const s = replay(h);
        return s.attributes?.failureType === 'cancelled' ? 'cancelled' : s.phase;
      }),
    );
    expect(phases).toEqual(new Set(['success', 'failure', 'cancelled', 'pending', 'running']));
  });

  it('rejects an unknown outcome or an empty list with a TypeError naming the choices', () => {
    expect(() => taskHistoryArb({ outcome: 'done' as TaskOutcome })).toThrow(
      new TypeError(`taskHistoryArb(): expected \`outcome\` to be one of 'success', 'failure', 'cancelled', 'unfinished' or a non-empty array of them, got "done"`),
    );
    expect(() => taskHistoryArb({ outcome: [] })).toThrow(/non-empty array of outcomes, got \[\]/);
    expect(() => taskHistoryArb({ outcome: 'failure', failureTypes: [] })).toThrow(/`failureTypes` to be a non-empty array/);
  });
});
