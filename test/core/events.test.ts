import { describe, expect, it } from 'vitest';
import { exportTaskMachine } from '../../machines/export-task.js';
import { isFinalPhase, TASK_EVENT_TYPES, type TaskPhase } from '../../src/core/events.js';
import { InvalidEventError } from '../../src/core/errors.js';
import { parseTaskEvent } from '../../src/core/parse-task-event.js';

describe('TASK_EVENT_TYPES', () => {
  it('lists the eight event types of the wire format, in a fixed order', () => {
    expect(TASK_EVENT_TYPES).toEqual(['queued', 'started', 'progress', 'log', 'succeeded', 'failed', 'snapshot', 'cancel_requested']);
  });

  it('lists exactly the types parseTaskEvent accepts', () => {
    const base = { product_id: 'roads', export_id: 'e1', seq: 1, time: '2026-01-01T00:00:00Z' };
    for (const type of TASK_EVENT_TYPES) {
      try {
        parseTaskEvent({ ...base, type });
      } catch (error) {
        // A known type gets past the type check, whatever other field it then lacks.
        expect((error as InvalidEventError).field).not.toBe('type');
      }
    }
    expect(() => parseTaskEvent({ ...base, type: 'finished' })).toThrow(InvalidEventError);
  });
});

describe('isFinalPhase', () => {
  it.each<[TaskPhase, boolean]>([
    ['pending', false],
    ['running', false],
    ['success', true],
    ['failure', true],
  ])('says %s is final: %s', (phase, final) => {
    expect(isFinalPhase(phase)).toBe(final);
  });

  it("agrees with the machine's own final states, and answers false for what is not a phase", () => {
    for (const [phase, node] of Object.entries(exportTaskMachine.root.states)) {
      expect(isFinalPhase(phase as TaskPhase)).toBe(node.type === 'final');
    }
    expect(isFinalPhase('toString' as TaskPhase)).toBe(false);
  });
});
