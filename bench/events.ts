/**
 * The wire events the benchmarks feed: N tasks of one product, each with the history
 * queued, started, progress, progress, log, succeeded (seq 1..6), delivered interleaved
 * (event k of every task, then event k + 1 of every task), as a multiplexed stream of many
 * tasks in flight arrives.
 */

export const PRODUCT = 'roads';
export const EVENTS_PER_TASK = 6;
const TIME = '2026-01-01T00:00:00.000Z';
const SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** A wire event as a parsed JSON object (what an SSE or WebSocket source hands over). */
export type WireEvent = Record<string, unknown>;

export function exportId(i: number): string {
  return `exp-${i}`;
}

/** Event `k` (0..5) of task `i`; fresh objects and strings on every call. */
export function taskEvent(k: number, i: number): WireEvent {
  const base = { product_id: PRODUCT, export_id: exportId(i), seq: k + 1, time: TIME };
  switch (k) {
    case 0:
      return { type: 'queued', ...base };
    case 1:
      return { type: 'started', ...base };
    case 2:
      return { type: 'progress', ...base, fraction: 0.25, message: 'reading features' };
    case 3:
      return { type: 'progress', ...base, fraction: 0.75, message: 'writing file' };
    case 4:
      return { type: 'log', ...base, line: `wrote ${i} features` };
    default:
      return succeededEvent(i, k + 1);
  }
}

/** The `succeeded` event of task `i` at `seq`. */
export function succeededEvent(i: number, seq: number): WireEvent {
  const key = `exports/${exportId(i)}.ndjson`;
  return {
    type: 'succeeded',
    product_id: PRODUCT,
    export_id: exportId(i),
    seq,
    time: TIME,
    runtime: 1.5,
    peak_memory_usage: 52_428_800,
    key,
    labels: [PRODUCT, exportId(i), 'export', key],
    size_bytes: 123_456,
    sha256: SHA,
  };
}

/** Every event of N tasks, interleaved: `6 * n` events. */
export function interleavedEvents(n: number): WireEvent[] {
  const events: WireEvent[] = [];
  for (let k = 0; k < EVENTS_PER_TASK; k++) for (let i = 0; i < n; i++) events.push(taskEvent(k, i));
  return events;
}

/** Calls `f` with each interleaved event of N tasks, built on the fly (nothing else keeps them). */
export function forEachInterleaved(n: number, f: (event: WireEvent) => void): void {
  for (let k = 0; k < EVENTS_PER_TASK; k++) for (let i = 0; i < n; i++) f(taskEvent(k, i));
}

/** A final `snapshot` event of task `i`, as a list or status route answers it. */
export function finalSnapshotEvent(i: number): WireEvent {
  const key = `exports/${exportId(i)}.ndjson`;
  return {
    type: 'snapshot',
    product_id: PRODUCT,
    export_id: exportId(i),
    seq: 6,
    time: TIME,
    phase: 'success',
    progress: 1,
    message: 'writing file',
    log: [`wrote ${i} features`],
    cancel_requested: false,
    created: TIME,
    attributes: {
      created: TIME,
      status: 'SUCCESS',
      failure_type: null,
      exception_name: null,
      stacktrace: null,
      peak_memory_usage: 52_428_800,
      runtime: 1.5,
      labels: [PRODUCT, exportId(i), 'export', key],
      key,
      size_bytes: 123_456,
      sha256: SHA,
    },
  };
}
