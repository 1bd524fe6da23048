import { describeValue } from './errors.js';
import type { TaskPhase } from './events.js';
import type { ExportTaskAttributes, ExportTaskSnapshot } from './snapshot.js';

const PHASES = ['pending', 'running', 'success', 'failure'];

function fail(field: string, value: unknown, expected: string): never {
  throw new TypeError(`Invalid task snapshot: expected \`${field}\` to be ${expected}, got ${describeValue(value)}`);
}

function str(o: Record<string, unknown>, field: string, prefix = ''): string {
  const v = o[field];
  if (typeof v !== 'string') fail(prefix + field, v, 'a string');
  return v;
}

function nullable<T>(o: Record<string, unknown>, field: string, check: (v: unknown) => v is T, expected: string, prefix = ''): T | null {
  const v = o[field];
  if (v === null) return null;
  if (!check(v)) fail(prefix + field, v, `${expected} or null`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isAmount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

/**
 * Validates a persisted {@link ExportTaskSnapshot} (what `JSON.stringify` of a snapshot gives,
 * parsed back) and answers a fresh copy of it.
 *
 *
 * @example
 * ```ts
 * const saved = await readFile('export-e1.json', 'utf8');
 * const snapshot = parseSnapshot(JSON.parse(saved)); // TypeError naming a bad field
 * ```
 * @throws TypeError naming the field, what was expected and what came.

 */
export function parseSnapshot(input: unknown): ExportTaskSnapshot {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      // A persisted snapshot that is not even JSON is as invalid as one with a bad field.
      fail('snapshot', input, `JSON text of a snapshot (${(error as Error).message})`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('snapshot', value, 'an object');
  const o = value as Record<string, unknown>;
  const phase = o['phase'];
  if (typeof phase !== 'string' || !PHASES.includes(phase)) fail('phase', phase, 'one of "pending", "running", "success", "failure"');
  const seq = o['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) fail('seq', seq, 'a non-negative safe integer');
  const progress = o['progress'];
  if (typeof progress !== 'number' || !(progress >= 0 && progress <= 1)) fail('progress', progress, 'a number from 0 to 1');
  const log = o['log'];
  if (!isStrings(log)) fail('log', log, 'an array of strings');
  const cancelRequested = o['cancelRequested'];
  if (typeof cancelRequested !== 'boolean') fail('cancelRequested', cancelRequested, 'a boolean');
  const final = phase === 'success' || phase === 'failure';
  const a = o['attributes'];
  let attributes: ExportTaskAttributes | null = null;
  if (final) {
    if (typeof a !== 'object' || a === null) fail('attributes', a, `an object (the phase is ${phase})`);
    const r = a as Record<string, unknown>;
    const p = 'attributes.';
    const status = r['status'];
    if (status !== (phase === 'success' ? 'SUCCESS' : 'FAILURE')) fail(`${p}status`, status, `the status of a ${phase}`);
    attributes = {
      status: status as 'SUCCESS' | 'FAILURE',
      failureType: nullable(r, 'failureType', isString, 'a string', p),
      exceptionName: nullable(r, 'exceptionName', isString, 'a string', p),
      stacktrace: nullable(r, 'stacktrace', isString, 'a string', p),
      runtime: nullable(r, 'runtime', isAmount, 'a non-negative number', p),
      peakMemoryUsage: nullable(r, 'peakMemoryUsage', isAmount, 'a non-negative number', p),
      labels: nullable(r, 'labels', isStrings, 'an array of strings', p),
      key: nullable(r, 'key', isString, 'a string', p),
      sizeBytes: nullable(r, 'sizeBytes', isAmount, 'a non-negative number', p),
      sha256: nullable(r, 'sha256', isString, 'a string', p),
      created: nullable(r, 'created', isString, 'a string', p),
    };
  } else if (a !== null) {
    fail('attributes', a, `null (the phase is ${phase})`);
  }
  return {
    productId: str(o, 'productId'),
    exportId: str(o, 'exportId'),
    // JSON allows -0, which a percentage shows as "-0%"; the fold never makes one, so neither does this.
    progress: progress === 0 ? 0 : progress,
    message: nullable(o, 'message', isString, 'a string'),
    log: [...log],
    cancelRequested,
    created: nullable(o, 'created', isString, 'a string'),
    attributes,
    phase: phase as TaskPhase,
    seq,
  };
}
