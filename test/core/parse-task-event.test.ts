import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../src/core/errors.js';
import { EVENT_LIMITS, parseTaskEvent } from '../../src/core/parse-task-event.js';
import { malformedEventArb, taskEventArb, taskHistoryArb } from '../../src/testing/arbitraries.js';

const base = { product_id: 'roads', export_id: 'e1', seq: 3, time: '2026-01-01T00:00:00.000Z' } as const;
const SHA = 'a'.repeat(64);

function invalid(input: unknown): InvalidEventError {
  try {
    parseTaskEvent(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return error as InvalidEventError;
  }
  throw new Error(`expected parseTaskEvent to reject ${JSON.stringify(input)}`);
}

describe('parseTaskEvent', () => {
  describe('valid events', () => {
    it.each(['queued', 'started', 'cancel_requested'] as const)('reads a %s event (common fields only)', (type) => {
      expect(parseTaskEvent({ type, ...base })).toEqual({ type, ...base });
    });

    it('reads a progress event, with or without a message (a null message is left out)', () => {
      expect(parseTaskEvent({ type: 'progress', ...base, fraction: 0.5, message: 'half' })).toEqual({
        type: 'progress',
        ...base,
        fraction: 0.5,
        message: 'half',
      });
      expect(parseTaskEvent({ type: 'progress', ...base, fraction: 0 })).toEqual({ type: 'progress', ...base, fraction: 0 });
      const noMessage = parseTaskEvent({ type: 'progress', ...base, fraction: 1, message: null });
      expect(noMessage).toEqual({ type: 'progress', ...base, fraction: 1 });
      expect('message' in noMessage).toBe(false);
    });

    it('reads a log event (an empty line is a line)', () => {
      expect(parseTaskEvent({ type: 'log', ...base, line: '' })).toEqual({ type: 'log', ...base, line: '' });
    });

    it('reads a succeeded event', () => {
      const event = {
        type: 'succeeded',
        ...base,
        runtime: 12.5,
        peak_memory_usage: 1024,
        key: 'exports/roads.ndjson',
        labels: ['a', 'b', 'c', 'exports/roads.ndjson'],
        size_bytes: 10,
        sha256: SHA,
      };
      expect(parseTaskEvent(event)).toEqual(event);
    });

    it('reads a failed event; absent fields read as null; "None" reads as null for failure_type and exception_name', () => {
      expect(parseTaskEvent({ type: 'failed', ...base })).toEqual({
        type: 'failed',
        ...base,
        failure_type: null,
        exception_name: null,
        stacktrace: null,
        runtime: null,
        peak_memory_usage: null,
      });
      expect(
        parseTaskEvent({ type: 'failed', ...base, failure_type: 'None', exception_name: 'None', stacktrace: 'None', runtime: 1, peak_memory_usage: 2 }),
      ).toEqual({
        type: 'failed',
        ...base,
        failure_type: null,
        exception_name: null,
        // Only the two name fields follow DL's convention; a stack trace is text.
        stacktrace: 'None',
        runtime: 1,
        peak_memory_usage: 2,
      });
    });

    it('keeps failure types it does not know as strings', () => {
      for (const failureType of ['executable_failure', 'cancelled', 'quota_exceeded']) {
        expect(parseTaskEvent({ type: 'failed', ...base, failure_type: failureType })).toMatchObject({ failure_type: failureType });
      }
    });

    it('reads a failed event with a key and labels', () => {
      expect(parseTaskEvent({ type: 'failed', ...base, failure_type: 'oom', key: 'k', labels: ['a', 'b', 'c', 'k'] })).toMatchObject({
        key: 'k',
        labels: ['a', 'b', 'c', 'k'],
      });
    });

    it('reads a non-final snapshot (attributes absent or null read as null)', () => {
      expect(parseTaskEvent({ type: 'snapshot', ...base, phase: 'running', progress: 0.25 })).toEqual({
        type: 'snapshot',
        ...base,
        phase: 'running',
        progress: 0.25,
        attributes: null,
      });
      expect(
        parseTaskEvent({
          type: 'snapshot',
          ...base,
          phase: 'pending',
          progress: 0,
          attributes: null,
          log: ['a'],
          message: null,
          cancel_requested: true,
          created: '2026-01-01T00:00:00Z',
        }),
      ).toEqual({
        type: 'snapshot',
        ...base,
        phase: 'pending',
        progress: 0,
        attributes: null,
        log: ['a'],
        message: null,
        cancel_requested: true,
        created: '2026-01-01T00:00:00Z',
      });
    });

    it('reads a final snapshot: absent attributes read as null, "None" as null', () => {
      expect(
        parseTaskEvent({ type: 'snapshot', ...base, phase: 'failure', progress: 0.5, attributes: { status: 'FAILURE', failure_type: 'None', exception_name: 'None' } }),
      ).toEqual({
        type: 'snapshot',
        ...base,
        phase: 'failure',
        progress: 0.5,
        attributes: {
          created: null,
          status: 'FAILURE',
          failure_type: null,
          exception_name: null,
          stacktrace: null,
          peak_memory_usage: null,
          runtime: null,
          labels: null,
          key: null,
          size_bytes: null,
          sha256: null,
        },
      });
    });

    it('reads JSON text', () => {
      const text = JSON.stringify({ type: 'progress', ...base, fraction: 0.75 });
      expect(parseTaskEvent(text)).toEqual({ type: 'progress', ...base, fraction: 0.75 });
    });

    it('drops unknown extra fields and answers a new object', () => {
      const input = { type: 'log', ...base, line: 'x', extra: 1, nested: { a: 1 } };
      const event = parseTaskEvent(input);
      expect(event).toEqual({ type: 'log', ...base, line: 'x' });
      expect(event).not.toBe(input);
      input.line = 'changed';
      expect((event as { line: string }).line).toBe('x');
    });

    it.each(['2026-01-01T00:00:00Z', '2026-01-01T00:00:00.123456789Z', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00-0000'])(
      'accepts the UTC time %s',
      (time) => {
        expect(parseTaskEvent({ type: 'queued', ...base, time }).time).toBe(time);
      },
    );

    it('accepts strings at their size limits', () => {
      expect(parseTaskEvent({ type: 'log', ...base, line: 'x'.repeat(EVENT_LIMITS.line) })).toMatchObject({ type: 'log' });
      expect(parseTaskEvent({ type: 'queued', ...base, export_id: 'e'.repeat(EVENT_LIMITS.id) })).toMatchObject({ type: 'queued' });
      expect(parseTaskEvent({ type: 'queued', ...base, seq: Number.MAX_SAFE_INTEGER }).seq).toBe(Number.MAX_SAFE_INTEGER);
    });

    it('answers every canonical event as it is, from an object and from JSON text', () => {
      fc.assert(
        fc.property(taskEventArb(), (event) => {
          expect(parseTaskEvent(event)).toEqual(event);
          expect(parseTaskEvent(JSON.stringify(event))).toEqual(event);
        }),
      );
    });

    it('accepts every event of generated histories', () => {
      fc.assert(
        fc.property(taskHistoryArb({ order: 'any' }), (history) => {
          for (const event of history) expect(parseTaskEvent(event)).toEqual(event);
        }),
      );
    });
  });

  describe('invalid events', () => {
    it('names the field, the value and what was expected', () => {
      const error = invalid({ type: 'progress', ...base, fraction: 1.5 });
      expect(error.name).toBe('InvalidEventError');
      expect(error.field).toBe('fraction');
      expect(error.value).toBe(1.5);
      expect(error.expected).toBe('a number from 0 to 1');
      expect(error.message).toBe('Invalid task event (type "progress", export e1): expected `fraction` to be a number from 0 to 1, got 1.5');
    });

    it.each<[string, unknown, string, RegExp]>([
      ['not JSON', '{"type":', '', /JSON text/],
      ['JSON of a number', '42', '', /a JSON object with a `type`/],
      ['an array', [], '', /a JSON object/],
      ['null', null, '', /a JSON object/],
      ['an unknown type', { ...base, type: 'finished' }, 'type', /one of "queued", "started"/],
      ['a missing type', { ...base }, 'type', /got nothing \(the field is missing\)/],
      ['seq 0', { type: 'queued', ...base, seq: 0 }, 'seq', /a positive safe integer, got 0/],
      ['a negative seq', { type: 'queued', ...base, seq: -1 }, 'seq', /a positive safe integer, got -1/],
      ['a fractional seq', { type: 'queued', ...base, seq: 1.5 }, 'seq', /got 1\.5/],
      ['an unsafe seq', { type: 'queued', ...base, seq: 2 ** 53 }, 'seq', /a positive safe integer/],
      ['a seq as text', { type: 'queued', ...base, seq: '1' }, 'seq', /got "1"/],
      ['a time that is not UTC', { type: 'queued', ...base, time: '2026-01-01T00:00:00+02:00' }, 'time', /ISO-8601 UTC/],
      ['an empty export_id', { type: 'queued', ...base, export_id: '' }, 'export_id', /a non-empty string, got ""/],
      ['a numeric product_id', { type: 'queued', ...base, product_id: 7 }, 'product_id', /a string, got 7/],
      ['an oversized export_id', { type: 'queued', ...base, export_id: 'e'.repeat(300) }, 'export_id', /at most 256 characters, got a string of 300 characters/],
      ['a fraction below 0', { type: 'progress', ...base, fraction: -0.1 }, 'fraction', /from 0 to 1, got -0\.1/],
      ['a NaN fraction', { type: 'progress', ...base, fraction: Number.NaN }, 'fraction', /got NaN/],
      ['a numeric message', { type: 'progress', ...base, fraction: 0, message: 5 }, 'message', /a string, got 5/],
      ['a missing line', { type: 'log', ...base }, 'line', /a string, got nothing/],
      ['an oversized line', { type: 'log', ...base, line: 'x'.repeat(EVENT_LIMITS.line + 1) }, 'line', /at most 65536 characters/],
      ['an upper-case sha256', { type: 'succeeded', ...base, runtime: 1, peak_memory_usage: 1, key: 'k', labels: [], size_bytes: 1, sha256: 'A'.repeat(64) }, 'sha256', /lower-case hex/],
      ['fractional bytes', { type: 'succeeded', ...base, runtime: 1, peak_memory_usage: 1.5, key: 'k', labels: [], size_bytes: 1, sha256: SHA }, 'peak_memory_usage', /non-negative safe integer/],
      ['a label that is not a string', { type: 'succeeded', ...base, runtime: 1, peak_memory_usage: 1, key: 'k', labels: ['a', 2], size_bytes: 1, sha256: SHA }, 'labels[1]', /a string, got 2/],
      ['a negative runtime', { type: 'failed', ...base, runtime: -1 }, 'runtime', /non-negative finite number/],
      ['a numeric failure_type', { type: 'failed', ...base, failure_type: 3 }, 'failure_type', /a string, got 3/],
      ['an unknown phase', { type: 'snapshot', ...base, phase: 'done', progress: 0 }, 'phase', /one of "pending", "running", "success", "failure"/],
      ['attributes on a running snapshot', { type: 'snapshot', ...base, phase: 'running', progress: 0, attributes: { status: 'SUCCESS' } }, 'attributes', /null while the phase is running/],
      ['no attributes on a final snapshot', { type: 'snapshot', ...base, phase: 'success', progress: 1 }, 'attributes', /an object of result attributes/],
      ['a status that disagrees with the phase', { type: 'snapshot', ...base, phase: 'success', progress: 1, attributes: { status: 'FAILURE' } }, 'attributes.status', /"SUCCESS" \(the snapshot's phase is success\)/],
      ['a log line that is not a string', { type: 'snapshot', ...base, phase: 'running', progress: 0, log: ['a', null] }, 'log[1]', /a string, got null/],
      ['cancel_requested as text', { type: 'snapshot', ...base, phase: 'running', progress: 0, cancel_requested: 'yes' }, 'cancel_requested', /a boolean/],
      ['created not an ISO time', { type: 'snapshot', ...base, phase: 'running', progress: 0, created: 'today' }, 'created', /ISO-8601 UTC time/],
    ])('rejects %s', (_, input, field, message) => {
      const error = invalid(input);
      expect(error.field).toBe(field);
      expect(error.message).toMatch(message);
      if (field !== '') expect(error.message).toContain(`\`${field}\``);
    });

    it('rejects JSON text larger than its limit without parsing it', () => {
      const error = invalid(' '.repeat(EVENT_LIMITS.json) + JSON.stringify({ type: 'queued', ...base }));
      expect(error.field).toBe('');
      expect(error.expected).toMatch(/at most 4194304 characters/);
      // The error keeps a truncated copy, not the whole input.
      expect((error.value as string).length).toBeLessThan(300);
    });

    it('rejects every generated malformed event with an InvalidEventError naming its field', () => {
      fc.assert(
        fc.property(malformedEventArb(), ({ input, field }) => {
          const error = invalid(input);
          expect(error.field).toBe(field);
          expect(error.expected.length).toBeGreaterThan(0);
          expect(error.message).toContain(field === '' ? 'the event' : `\`${field}\``);
          expect(error.message.length).toBeLessThan(1000);
        }),
      );
    });

    it('does not touch its input', () => {
      fc.assert(
        fc.property(malformedEventArb({ huge: false }), ({ input }) => {
          const before = typeof input === 'object' && input !== null ? structuredClone(input) : input;
          invalid(input);
          expect(input).toEqual(before);
        }),
      );
    });
  });
});
