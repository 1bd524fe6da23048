import type { ExportTaskSnapshot } from './snapshot.js';

/**
 * The task is not final yet, so what was asked (a result, a file) is not available.
 * The DL client raised it with the message "Result not yet ready".
 */
export class TransientResultError extends Error {
  override readonly name = 'TransientResultError' as const;
  /** What was known of the task when this was thrown, when there was a task. */
  readonly snapshot: ExportTaskSnapshot | undefined;

  constructor(message = 'Result not yet ready', snapshot?: ExportTaskSnapshot) {
    super(message);
    this.snapshot = snapshot;
  }
}

/** A wait ran out of time before the task was final, even after a last check at the deadline. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError' as const;
  /** The last snapshot seen before giving up. */
  readonly snapshot: ExportTaskSnapshot | undefined;
  /** How long the wait was allowed, in ms. */
  readonly timeout: number;

  constructor(timeout: number, snapshot?: ExportTaskSnapshot) {
    const where = snapshot ? ` (export ${snapshot.exportId} was ${snapshot.phase}, ${Math.round(snapshot.progress * 100)}% done)` : '';
    super(`Timeout exceeded: the task was not final after ${timeout} ms${where}`);
    this.timeout = timeout;
    this.snapshot = snapshot;
  }
}

/** Export tasks have no result: read the attributes or download the file instead. */
export class NoResultError extends Error {
  override readonly name = 'NoResultError' as const;

  constructor() {
    super("Export tasks don't have a result: await task.getResult(), then read its attributes or call getFile()");
  }
}

/**
 * A malformed event was rejected at the boundary. The task it names (if any) is unchanged.
 * `field` is the dotted path of the offending field (`""` for the event as a whole).
 */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError' as const;
  readonly field: string;
  /** The offending value (truncated when it is a long string). */
  readonly value: unknown;
  /** What was expected instead. */
  readonly expected: string;

  constructor(field: string, value: unknown, expected: string, context = '') {
    const where = field === '' ? 'the event' : `\`${field}\``;
    super(`Invalid task event${context}: expected ${where} to be ${expected}, got ${describeValue(value)}`);
    this.field = field;
    this.value = typeof value === 'string' && value.length > 200 ? `${value.slice(0, 200)}...` : value;
    this.expected = expected;
  }
}

/** A short, safe rendering of a value for an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (typeof value === 'string') {
    return value.length > 60 ? `a string of ${value.length} characters ("${value.slice(0, 40)}...")` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}
