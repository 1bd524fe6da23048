import { InvalidEventError } from './errors.js';
import type { FailedEvent, SnapshotEvent, TaskEvent, TaskEventType, TaskPhase, WireAttributes } from './events.js';
import type { Writable } from '../internal/writable.js';

/**
 * Limits past which a field is "oversized" and the event is rejected.
 *
 * @example
 * ```ts
 * const line = 'x'.repeat(EVENT_LIMITS.line + 1);
 * // Rejected with InvalidEventError: `line` is oversized.
 * store.apply({ type: 'log', product_id: 'roads', export_id: 'e1', seq: 4, time: '2026-01-01T00:00:00Z', line });
 * ```
 */
export const EVENT_LIMITS = {
  /** Product and export ids, keys, exception names, hashes: characters. */
  id: 256,
  /** A storage key: characters. */
  key: 1024,
  /** A progress message: characters. */
  message: 4096,
  /** One log line: characters. */
  line: 65_536,
  /** A stack trace: characters. */
  stacktrace: 1_048_576,
  /** Lines in a snapshot's log. */
  logLines: 100_000,
  /** Elements of `labels`. */
  labels: 16,
  /** A whole event given as JSON text: characters. */
  json: 4_194_304,
} as const;

const PHASES: ReadonlySet<string> = new Set<TaskPhase>(['pending', 'running', 'success', 'failure']);
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]00:?00)$/;

/** DL servers send the string "None" for an absent name; it reads as null. */
function noneToNull(value: string | null): string | null {
  return value === 'None' ? null : value;
}

class Checker {
  constructor(
    private readonly input: Record<string, unknown>,
    private readonly type: string,
  ) {}

  fail(field: string, value: unknown, expected: string): never {
    // The context is built only on failure: valid events, the hot path, never pay for it.
    const exportId = this.input['export_id'];
    const hint = typeof exportId === 'string' ? `, export ${exportId.slice(0, 64)}` : '';
    throw new InvalidEventError(field, value, expected, ` (type "${this.type}"${hint})`);
  }

  string(field: string, max: number, value: unknown = this.input[field]): string {
    if (typeof value !== 'string') this.fail(field, value, `a string`);
    if (value.length > max) this.fail(field, value, `a string of at most ${max} characters`);
    return value;
  }

  id(field: string): string {
    const value = this.string(field, EVENT_LIMITS.id);
    if (value.length === 0) this.fail(field, value, 'a non-empty string');
    return value;
  }

  nullableString(field: string, max: number, value: unknown = this.input[field]): string | null {
    return value === null ? null : this.string(field, max, value);
  }

  /** A number >= 0, or null; `bytes` asks for an integer. */
  nullableAmount(field: string, integer: boolean, value: unknown = this.input[field]): number | null {
    if (value === null) return null;
    return this.amount(field, integer, value);
  }

  amount(field: string, integer: boolean, value: unknown = this.input[field]): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isSafeInteger(value))) {
      this.fail(field, value, integer ? 'a non-negative safe integer' : 'a non-negative finite number');
    }
    return value;
  }

  fraction(field: string, value: unknown = this.input[field]): number {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) this.fail(field, value, 'a number from 0 to 1');
    return value;
  }

  labels(field: string, value: unknown): readonly string[] {
    if (!Array.isArray(value)) this.fail(field, value, 'an array of strings');
    if (value.length > EVENT_LIMITS.labels) this.fail(field, value, `an array of at most ${EVENT_LIMITS.labels} strings`);
    this.strings(field, value, EVENT_LIMITS.key);
    return value as string[];
  }

  /** Each element a string of at most `max` characters; `field[i]` is named only on failure. */
  strings(field: string, value: readonly unknown[], max: number): void {
    for (let i = 0; i < value.length; i++) {
      const element = value[i];
      if (typeof element !== 'string' || element.length > max) this.string(`${field}[${i}]`, max, element);
    }
  }

  sha256(field: string, value: unknown): string {
    if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) this.fail(field, value, 'a lower-case hex SHA-256 (64 characters)');
    return value;
  }

  /**
   * The result attributes of a final snapshot (the event's `attributes` field). Absent fields
   * read as null. The field names are literals: nothing is built for a valid event.
   */
  attributes(value: unknown, phase: TaskPhase): WireAttributes {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail('attributes', value, 'an object of result attributes');
    const a = value as Partial<Record<keyof WireAttributes, unknown>>;
    const status = a.status;
    const expectedStatus = phase === 'success' ? 'SUCCESS' : 'FAILURE';
    if (status !== expectedStatus) this.fail('attributes.status', status, `"${expectedStatus}" (the snapshot's phase is ${phase})`);
    const labels = a.labels ?? null;
    const sha256 = a.sha256 ?? null;
    const created = this.nullableString('attributes.created', EVENT_LIMITS.id, a.created ?? null);
    if (created !== null && !ISO_UTC.test(created)) this.fail('attributes.created', created, 'an ISO-8601 UTC time');
    return {
      created,
      status: expectedStatus,
      failure_type: noneToNull(this.nullableString('attributes.failure_type', EVENT_LIMITS.id, a.failure_type ?? null)),
      exception_name: noneToNull(this.nullableString('attributes.exception_name', EVENT_LIMITS.id, a.exception_name ?? null)),
      stacktrace: this.nullableString('attributes.stacktrace', EVENT_LIMITS.stacktrace, a.stacktrace ?? null),
      peak_memory_usage: this.nullableAmount('attributes.peak_memory_usage', true, a.peak_memory_usage ?? null),
      runtime: this.nullableAmount('attributes.runtime', false, a.runtime ?? null),
      labels: labels === null ? null : this.labels('attributes.labels', labels),
      key: this.nullableString('attributes.key', EVENT_LIMITS.key, a.key ?? null),
      size_bytes: this.nullableAmount('attributes.size_bytes', true, a.size_bytes ?? null),
      sha256: sha256 === null ? null : this.sha256('attributes.sha256', sha256),
    };
  }
}

const TYPES: ReadonlySet<string> = new Set<TaskEventType>([
  'queued',
  'started',
  'progress',
  'log',
  'succeeded',
  'failed',
  'snapshot',
  'cancel_requested',
]);

/**
 * Validates one event of the backend's stream and answers it typed.
 *
 * Accepts the event as a parsed object or as JSON text. Unknown extra fields are ignored;
 * DL's `"None"` for an absent `failure_type` or `exception_name` reads as `null`. The answer
 * is a new object holding only the known fields, so later changes to `input` cannot reach it.
 *
 * @example
 * ```ts
 * const event = parseTaskEvent('{"type":"started","product_id":"roads","export_id":"e1","seq":2,"time":"2026-01-01T00:00:00Z"}');
 * event.type; // 'started'
 * ```
 * @param input - A JSON string or a parsed object.
 * @returns The validated event.
 * @throws {@link InvalidEventError} naming the field, the value and what was expected.
 */
export function parseTaskEvent(input: unknown): TaskEvent {
  let value = input;
  if (typeof value === 'string') {
    if (value.length > EVENT_LIMITS.json) throw new InvalidEventError('', value, `JSON text of at most ${EVENT_LIMITS.json} characters`);
    try {
      value = JSON.parse(value);
    } catch (error) {
      throw new InvalidEventError('', value, `JSON text (${(error as Error).message})`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidEventError('', value, 'a JSON object with a `type`');
  }
  const raw = value as Record<string, unknown>;
  const type = raw['type'];
  if (typeof type !== 'string' || !TYPES.has(type)) {
    throw new InvalidEventError('type', type, `one of ${[...TYPES].map((t) => `"${t}"`).join(', ')}`);
  }
  const c: Checker = new Checker(raw, type);
  const seq = raw['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) c.fail('seq', seq, 'a positive safe integer');
  const time = raw['time'];
  if (typeof time !== 'string' || time.length > 64 || !ISO_UTC.test(time)) {
    c.fail('time', time, 'an ISO-8601 UTC time such as "2026-01-01T00:00:00.000Z"');
  }
  // Each event is one object literal with its fields in a fixed order, and optional fields are
  // added after it: no spread of a shared `base` and no `...(cond ? {} : { x })` objects, which
  // were most of the parser's own time on a snapshot (BENCHMARKS.md, goal 4).
  const product_id = c.id('product_id');
  const export_id = c.id('export_id');

  switch (type as TaskEventType) {
    case 'queued':
    case 'started':
    case 'cancel_requested':
      return { type: type as 'queued', product_id, export_id, seq, time };
    case 'progress': {
      const fraction = c.fraction('fraction');
      const message = raw['message'];
      return message === undefined || message === null
        ? { type: 'progress', product_id, export_id, seq, time, fraction }
        : { type: 'progress', product_id, export_id, seq, time, fraction, message: c.string('message', EVENT_LIMITS.message, message) };
    }
    case 'log':
      return { type: 'log', product_id, export_id, seq, time, line: c.string('line', EVENT_LIMITS.line) };
    case 'succeeded': {
      const key = c.string('key', EVENT_LIMITS.key);
      return {
        type: 'succeeded',
        product_id,
        export_id,
        seq,
        time,
        runtime: c.amount('runtime', false),
        peak_memory_usage: c.amount('peak_memory_usage', true),
        key,
        labels: c.labels('labels', raw['labels']),
        size_bytes: c.amount('size_bytes', true),
        sha256: c.sha256('sha256', raw['sha256']),
      };
    }
    case 'failed': {
      const failureType = raw['failure_type'];
      const labels = raw['labels'];
      const key = raw['key'];
      const event: Writable<FailedEvent> = {
        type: 'failed',
        product_id,
        export_id,
        seq,
        time,
        failure_type: noneToNull(c.nullableString('failure_type', EVENT_LIMITS.id, failureType === undefined ? null : failureType)),
        exception_name: noneToNull(
          c.nullableString('exception_name', EVENT_LIMITS.id, raw['exception_name'] === undefined ? null : raw['exception_name']),
        ),
        stacktrace: c.nullableString('stacktrace', EVENT_LIMITS.stacktrace, raw['stacktrace'] === undefined ? null : raw['stacktrace']),
        runtime: c.nullableAmount('runtime', false, raw['runtime'] === undefined ? null : raw['runtime']),
        peak_memory_usage: c.nullableAmount('peak_memory_usage', true, raw['peak_memory_usage'] === undefined ? null : raw['peak_memory_usage']),
      };
      if (key !== undefined && key !== null) event.key = c.string('key', EVENT_LIMITS.key, key);
      if (labels !== undefined && labels !== null) event.labels = c.labels('labels', labels);
      return event;
    }
    case 'snapshot': {
      const phase = raw['phase'];
      if (typeof phase !== 'string' || !PHASES.has(phase)) c.fail('phase', phase, 'one of "pending", "running", "success", "failure"');
      const final = phase === 'success' || phase === 'failure';
      const attributes = raw['attributes'];
      if (!final && attributes !== undefined && attributes !== null) {
        c.fail('attributes', attributes, `null while the phase is ${phase}`);
      }
      const log = raw['log'];
      if (log !== undefined) {
        if (!Array.isArray(log)) c.fail('log', log, 'an array of strings');
        if (log.length > EVENT_LIMITS.logLines) c.fail('log', log, `an array of at most ${EVENT_LIMITS.logLines} lines`);
        c.strings('log', log, EVENT_LIMITS.line);
      }
      const message = raw['message'];
      const cancel = raw['cancel_requested'];
      if (cancel !== undefined && typeof cancel !== 'boolean') c.fail('cancel_requested', cancel, 'a boolean');
      const created = raw['created'];
      const event: Writable<SnapshotEvent> = {
        type: 'snapshot',
        product_id,
        export_id,
        seq,
        time,
        phase: phase as TaskPhase,
        progress: c.fraction('progress'),
        attributes: final ? c.attributes(attributes, phase) : null,
      };
      if (log !== undefined) event.log = log as string[];
      if (message !== undefined) event.message = c.nullableString('message', EVENT_LIMITS.message, message);
      if (cancel !== undefined) event.cancel_requested = cancel;
      if (created !== undefined && created !== null) {
        event.created = ISO_UTC.test(c.string('created', 64, created)) ? (created as string) : c.fail('created', created, 'an ISO-8601 UTC time');
      }
      return event;
    }
  }
}
