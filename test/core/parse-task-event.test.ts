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

describe('parseTaskEvent, field by field', () => {
  const succeeded = { type: 'succeeded', ...base, runtime: 1, peak_memory_usage: 1, key: 'k', labels: [], size_bytes: 1, sha256: SHA };
  const finalSnapshot = (attributes: Record<string, unknown>) => ({ type: 'snapshot', ...base, phase: 'success', progress: 1, attributes: { status: 'SUCCESS', ...attributes } });

  it('reads every field of a failed event, and leaves out the key and labels it was not sent (or sent as null)', () => {
    const full = {
      type: 'failed',
      ...base,
      failure_type: 'exception',
      exception_name: 'ValueError',
      stacktrace: 'Traceback (most recent call last)',
      runtime: 2.5,
      peak_memory_usage: 4096,
      key: 'exports/k',
      labels: ['a', 'b', 'c', 'exports/k'],
    };
    expect(parseTaskEvent(full)).toStrictEqual(full);
    const nulls = parseTaskEvent({ ...full, key: null, labels: null });
    const { key: _key, labels: _labels, ...rest } = full;
    expect(nulls).toStrictEqual(rest);
  });

  it('leaves out the optional fields of a snapshot it was not sent, and keeps a null created out too', () => {
    const snapshot = parseTaskEvent({ type: 'snapshot', ...base, phase: 'running', progress: 0.5, created: null });
    expect(snapshot).toStrictEqual({ type: 'snapshot', ...base, phase: 'running', progress: 0.5, attributes: null });
    expect(Object.keys(snapshot)).not.toContain('created');
  });

  it('reads every attribute of a final snapshot', () => {
    const attributes = {
      created: '2026-01-01T00:00:00Z',
      status: 'SUCCESS',
      failure_type: 'exception',
      exception_name: 'ValueError',
      stacktrace: 'Traceback',
      peak_memory_usage: 2048,
      runtime: 0.5,
      labels: ['a', 'b', 'c', 'k'],
      key: 'k',
      size_bytes: 7,
      sha256: SHA,
    };
    expect(parseTaskEvent(finalSnapshot(attributes))).toStrictEqual({ type: 'snapshot', ...base, phase: 'success', progress: 1, attributes });
  });

  it('accepts limits exactly: 16 labels, 100,000 log lines, JSON text of 4 MiB', () => {
    const labels = Array.from({ length: EVENT_LIMITS.labels }, (_, i) => `l${i}`);
    expect(parseTaskEvent({ ...succeeded, labels })).toMatchObject({ labels });
    const log = Array.from({ length: EVENT_LIMITS.logLines }, () => '');
    const snapshot = parseTaskEvent({ type: 'snapshot', ...base, phase: 'running', progress: 0, log });
    expect(snapshot.type === 'snapshot' ? snapshot.log : undefined).toHaveLength(EVENT_LIMITS.logLines);
    const json = JSON.stringify({ type: 'queued', ...base });
    expect(parseTaskEvent(' '.repeat(EVENT_LIMITS.json - json.length) + json)).toStrictEqual({ type: 'queued', ...base });
  });

  it('names the offending export in the context, cut to 64 characters, and leaves it out when export_id is not a string', () => {
    const id = 'e'.repeat(100);
    expect(invalid({ type: 'queued', ...base, export_id: id, seq: 0 }).message).toBe(
      `Invalid task event (type "queued", export ${'e'.repeat(64)}): expected \`seq\` to be a positive safe integer, got 0`,
    );
    expect(invalid({ type: 'queued', ...base, export_id: 5 }).message).toBe(
      'Invalid task event (type "queued"): expected `export_id` to be a string, got 5',
    );
  });

  it.each<[string, unknown, string, RegExp]>([
    ['a time given as an array', { type: 'queued', ...base, time: [base.time] }, 'time', /an ISO-8601 UTC time/],
    ['a time after other text', { type: 'queued', ...base, time: `at ${base.time}` }, 'time', /an ISO-8601 UTC time/],
    ['a time followed by other text', { type: 'queued', ...base, time: `${base.time}; later` }, 'time', /an ISO-8601 UTC time/],
    ['a created time followed by other text', { type: 'snapshot', ...base, phase: 'running', progress: 0, created: `${base.time}x` }, 'created', /an ISO-8601 UTC time/],
    ['an infinite runtime', { ...succeeded, runtime: Infinity }, 'runtime', /a non-negative finite number, got Infinity/],
    ['a NaN runtime', { ...succeeded, runtime: Number.NaN }, 'runtime', /a non-negative finite number, got NaN/],
    ['17 labels', { ...succeeded, labels: Array.from({ length: 17 }, () => 'l') }, 'labels', /an array of at most 16 strings, got an array of 17/],
    ['a sha256 in an array', { ...succeeded, sha256: [SHA] }, 'sha256', /a lower-case hex SHA-256/],
    ['a sha256 of 65 hex digits', { ...succeeded, sha256: `${SHA}a` }, 'sha256', /a lower-case hex SHA-256/],
    ['a sha256 after a prefix', { ...succeeded, sha256: `x${SHA}` }, 'sha256', /a lower-case hex SHA-256/],
    ['a numeric exception_name', { type: 'failed', ...base, exception_name: 1 }, 'exception_name', /a string, got 1/],
    ['a numeric stacktrace', { type: 'failed', ...base, stacktrace: 1 }, 'stacktrace', /a string, got 1/],
    ['a runtime given as text', { type: 'failed', ...base, runtime: '1' }, 'runtime', /a non-negative finite number/],
    ['fractional peak memory', { type: 'failed', ...base, peak_memory_usage: 1.5 }, 'peak_memory_usage', /a non-negative safe integer, got 1\.5/],
    ['a snapshot log that is not an array', { type: 'snapshot', ...base, phase: 'running', progress: 0, log: 'a' }, 'log', /an array of strings, got "a"/],
    ['a snapshot log of 100,001 lines', { type: 'snapshot', ...base, phase: 'running', progress: 0, log: Array.from({ length: EVENT_LIMITS.logLines + 1 }, () => '') }, 'log', /an array of at most 100000 lines/],
    ['a numeric snapshot message', { type: 'snapshot', ...base, phase: 'running', progress: 0, message: 1 }, 'message', /a string, got 1/],
    ['a numeric created', { type: 'snapshot', ...base, phase: 'running', progress: 0, created: 1 }, 'created', /a string, got 1/],
    ['null attributes on a final snapshot', { type: 'snapshot', ...base, phase: 'success', progress: 1, attributes: null }, 'attributes', /an object of result attributes, got null/],
    ['attributes with a created that is not an ISO time', finalSnapshot({ created: 'yesterday' }), 'attributes.created', /an ISO-8601 UTC time, got "yesterday"/],
    ['attributes with a numeric created', finalSnapshot({ created: 1 }), 'attributes.created', /a string, got 1/],
    ['attributes with a sha256 that is not hex', finalSnapshot({ sha256: 'x' }), 'attributes.sha256', /a lower-case hex SHA-256/],
    ['an oversized label', { ...succeeded, labels: ['x'.repeat(EVENT_LIMITS.key + 1)] }, 'labels[0]', /a string of at most 1024 characters/],
    ['an oversized line in a snapshot log', { type: 'snapshot', ...base, phase: 'running', progress: 0, log: ['ok', 'x'.repeat(EVENT_LIMITS.line + 1)] }, 'log[1]', /a string of at most 65536 characters/],
    ['attributes with a numeric failure_type', finalSnapshot({ failure_type: 1 }), 'attributes.failure_type', /a string, got 1/],
    ['attributes with a numeric exception_name', finalSnapshot({ exception_name: 1 }), 'attributes.exception_name', /a string, got 1/],
    ['attributes with a numeric stacktrace', finalSnapshot({ stacktrace: 1 }), 'attributes.stacktrace', /a string, got 1/],
    ['attributes with fractional peak memory', finalSnapshot({ peak_memory_usage: 1.5 }), 'attributes.peak_memory_usage', /a non-negative safe integer, got 1\.5/],
    ['attributes with a negative runtime', finalSnapshot({ runtime: -1 }), 'attributes.runtime', /a non-negative finite number, got -1/],
    ['attributes with fractional bytes', finalSnapshot({ size_bytes: 1.5 }), 'attributes.size_bytes', /a non-negative safe integer, got 1\.5/],
    ['attributes with a numeric key', finalSnapshot({ key: 1 }), 'attributes.key', /a string, got 1/],
  ])('rejects %s, naming the field', (_, input, field, message) => {
    const error = invalid(input);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });
});
