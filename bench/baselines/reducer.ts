/**
 * The baseline of goal 1: what a careful engineer would write by hand instead of the store.
 * A `switch` returning spread objects, per-task state in a `Map`, duplicates and out-of-order
 * events (by `seq`) ignored, and the same checks of the wire fields as `parseTaskEvent`, at the
 * same depth (types, ranges, lengths, the ISO time and SHA-256 formats), so that the ratio
 * measures the machine and the store, not skipped validation.
 *
 * What it does not do, and the store does: hold early events until their gap fills, report
 * diagnostics, notify subscribers and waits, and execute the statechart's own definition.
 */

export type Phase = 'pending' | 'running' | 'success' | 'failure';

export interface PlainAttributes {
  readonly status: 'SUCCESS' | 'FAILURE';
  readonly failureType: string | null;
  readonly exceptionName: string | null;
  readonly stacktrace: string | null;
  readonly runtime: number | null;
  readonly peakMemoryUsage: number | null;
  readonly labels: readonly string[] | null;
  readonly key: string | null;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly created: string | null;
}

export interface PlainTask {
  readonly productId: string;
  readonly exportId: string;
  readonly phase: Phase;
  readonly seq: number;
  readonly progress: number;
  readonly message: string | null;
  readonly log: readonly string[];
  readonly cancelRequested: boolean;
  readonly created: string | null;
  readonly attributes: PlainAttributes | null;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]00:?00)$/;
const SHA256 = /^[0-9a-f]{64}$/;
const TYPES = new Set(['queued', 'started', 'progress', 'log', 'succeeded', 'failed', 'snapshot', 'cancel_requested']);
const PHASES = new Set(['pending', 'running', 'success', 'failure']);

export class BadEvent extends Error {
  constructor(readonly field: string) {
    super(`bad event field ${field}`);
  }
}

type Raw = Record<string, unknown>;

function str(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) throw new BadEvent(field);
  return v;
}
function id(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new BadEvent(field);
  return v;
}
function optStr(v: unknown, field: string, max: number): string | null {
  return v === undefined || v === null ? null : str(v, field, max);
}
function noneToNull(v: string | null): string | null {
  return v === 'None' ? null : v;
}
function amount(v: unknown, field: string, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isSafeInteger(v))) throw new BadEvent(field);
  return v;
}
function optAmount(v: unknown, field: string, integer: boolean): number | null {
  return v === undefined || v === null ? null : amount(v, field, integer);
}
function fraction(v: unknown, field: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new BadEvent(field);
  return v;
}
function labels(v: unknown, field: string): readonly string[] {
  if (!Array.isArray(v) || v.length > 16) throw new BadEvent(field);
  for (const item of v) str(item, field, 1024);
  return v as string[];
}
function sha256(v: unknown, field: string): string {
  if (typeof v !== 'string' || !SHA256.test(v)) throw new BadEvent(field);
  return v;
}
function time(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length > 64 || !ISO_UTC.test(v)) throw new BadEvent(field);
  return v;
}

/** The wire's result attributes, checked, in camelCase. */
export function plainAttributes(v: unknown, phase: Phase): PlainAttributes {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadEvent('attributes');
  const a = v as Raw;
  const status = phase === 'success' ? 'SUCCESS' : 'FAILURE';
  if (a['status'] !== status) throw new BadEvent('attributes.status');
  const created = optStr(a['created'], 'attributes.created', 256);
  if (created !== null && !ISO_UTC.test(created)) throw new BadEvent('attributes.created');
  return {
    status,
    failureType: noneToNull(optStr(a['failure_type'], 'attributes.failure_type', 256)),
    exceptionName: noneToNull(optStr(a['exception_name'], 'attributes.exception_name', 256)),
    stacktrace: optStr(a['stacktrace'], 'attributes.stacktrace', 1_048_576),
    runtime: optAmount(a['runtime'], 'attributes.runtime', false),
    peakMemoryUsage: optAmount(a['peak_memory_usage'], 'attributes.peak_memory_usage', true),
    labels: a['labels'] === undefined || a['labels'] === null ? null : labels(a['labels'], 'attributes.labels'),
    key: optStr(a['key'], 'attributes.key', 1024),
    sizeBytes: optAmount(a['size_bytes'], 'attributes.size_bytes', true),
    sha256: a['sha256'] === undefined || a['sha256'] === null ? null : sha256(a['sha256'], 'attributes.sha256'),
    created,
  };
}

function initial(productId: string, exportId: string): PlainTask {
  return {
    productId,
    exportId,
    phase: 'pending',
    seq: 0,
    progress: 0,
    message: null,
    log: [],
    cancelRequested: false,
    created: null,
    attributes: null,
  };
}

const isFinal = (phase: Phase): boolean => phase === 'success' || phase === 'failure';

/**
 * Checks one wire event and folds it into `tasks`.
 * @returns the task's state after the event.
 * @throws BadEvent naming the field.
 */
export function reduce(tasks: Map<string, PlainTask>, input: unknown): PlainTask {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new BadEvent('');
  const e = input as Raw;
  const type = e['type'];
  if (typeof type !== 'string' || !TYPES.has(type)) throw new BadEvent('type');
  const seq = e['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new BadEvent('seq');
  const at = time(e['time'], 'time');
  const productId = id(e['product_id'], 'product_id');
  const exportId = id(e['export_id'], 'export_id');
  const prev = tasks.get(exportId) ?? initial(productId, exportId);
  if (prev.productId !== productId) throw new BadEvent('product_id');
  // Duplicates and events after a gap are ignored (a source would resync).
  if (type === 'snapshot' ? seq <= prev.seq : seq !== prev.seq + 1) return prev;
  let next: PlainTask;
  if (isFinal(prev.phase) && type !== 'snapshot') {
    next = { ...prev, seq };
  } else {
    switch (type) {
      case 'queued':
        next = { ...prev, seq, created: prev.created ?? at };
        break;
      case 'started':
        next = { ...prev, seq, phase: 'running' };
        break;
      case 'progress': {
        const f = fraction(e['fraction'], 'fraction');
        const message = optStr(e['message'], 'message', 4096);
        next = { ...prev, seq, phase: 'running', progress: f > prev.progress ? f : prev.progress, message: message ?? prev.message };
        break;
      }
      case 'log':
        next = { ...prev, seq, log: [...prev.log, str(e['line'], 'line', 65_536)] };
        break;
      case 'cancel_requested':
        next = { ...prev, seq, cancelRequested: true };
        break;
      case 'succeeded': {
        const key = str(e['key'], 'key', 1024);
        next = {
          ...prev,
          seq,
          phase: 'success',
          progress: 1,
          attributes: {
            status: 'SUCCESS',
            failureType: null,
            exceptionName: null,
            stacktrace: null,
            runtime: amount(e['runtime'], 'runtime', false),
            peakMemoryUsage: amount(e['peak_memory_usage'], 'peak_memory_usage', true),
            labels: labels(e['labels'], 'labels'),
            key,
            sizeBytes: amount(e['size_bytes'], 'size_bytes', true),
            sha256: sha256(e['sha256'], 'sha256'),
            created: prev.created,
          },
        };
        break;
      }
      case 'failed': {
        const l = e['labels'] === undefined || e['labels'] === null ? null : labels(e['labels'], 'labels');
        next = {
          ...prev,
          seq,
          phase: 'failure',
          attributes: {
            status: 'FAILURE',
            failureType: noneToNull(optStr(e['failure_type'], 'failure_type', 256)),
            exceptionName: noneToNull(optStr(e['exception_name'], 'exception_name', 256)),
            stacktrace: optStr(e['stacktrace'], 'stacktrace', 1_048_576),
            runtime: optAmount(e['runtime'], 'runtime', false),
            peakMemoryUsage: optAmount(e['peak_memory_usage'], 'peak_memory_usage', true),
            labels: l,
            key: optStr(e['key'], 'key', 1024) ?? l?.[3] ?? null,
            sizeBytes: null,
            sha256: null,
            created: prev.created,
          },
        };
        break;
      }
      default: {
        next = snapshot(prev, e, seq);
      }
    }
  }
  tasks.set(exportId, next);
  return next;
}

function snapshot(prev: PlainTask, e: Raw, seq: number): PlainTask {
  const phase = e['phase'];
  if (typeof phase !== 'string' || !PHASES.has(phase)) throw new BadEvent('phase');
  const p = phase as Phase;
  const progress = fraction(e['progress'], 'progress');
  const attributes = isFinal(p) ? plainAttributes(e['attributes'], p) : null;
  if (!isFinal(p) && e['attributes'] !== undefined && e['attributes'] !== null) throw new BadEvent('attributes');
  const rawLog = e['log'];
  if (rawLog !== undefined && (!Array.isArray(rawLog) || rawLog.length > 100_000)) throw new BadEvent('log');
  if (rawLog !== undefined) for (const line of rawLog as unknown[]) str(line, 'log', 65_536);
  const message = e['message'] === undefined ? prev.message : optStr(e['message'], 'message', 4096);
  const cancel = e['cancel_requested'];
  if (cancel !== undefined && typeof cancel !== 'boolean') throw new BadEvent('cancel_requested');
  const createdRaw = e['created'];
  const created = createdRaw === undefined || createdRaw === null ? (attributes?.created ?? prev.created) : time(createdRaw, 'created');
  if (isFinal(prev.phase)) return { ...prev, seq };
  const rank = { pending: 0, running: 1, success: 2, failure: 2 };
  return {
    ...prev,
    seq,
    phase: rank[p] > rank[prev.phase] ? p : prev.phase,
    progress: p === 'success' ? 1 : progress > prev.progress ? progress : prev.progress,
    message,
    log: (rawLog as string[] | undefined) ?? prev.log,
    cancelRequested: cancel ?? prev.cancelRequested,
    created,
    attributes: attributes && attributes.created === null && created !== null ? { ...attributes, created } : attributes,
  };
}
