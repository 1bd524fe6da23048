/**
 * fast-check arbitraries of the backend's event stream: valid histories of one task, many
 * tasks interleaved, hostile deliveries (duplicated, reordered, lossy but covered by a
 * snapshot) and malformed events. They are what the library's own property tests run on;
 * applications use them to test their own code against the same streams.
 *
 * Every arbitrary here is pure: it only builds values. Snapshots in a history are truthful:
 * they are computed by folding the history's prefix with {@link replay}.
 *
 * `fast-check` is a peer dependency of this module only.
 *
 * @packageDocumentation
 */
import fc, { type Arbitrary } from 'fast-check';
import type {
  FailedEvent,
  FailureType,
  SnapshotEvent,
  SucceededEvent,
  TaskEvent,
  TaskEventBase,
  TaskEventType,
  TaskPhase,
  WireAttributes,
} from '../core/events.js';
import { EVENT_LIMITS } from '../core/parse-task-event.js';
import { replay } from '../core/replay.js';
import type { ExportTaskAttributes, ExportTaskSnapshot } from '../core/snapshot.js';

// ---------------------------------------------------------------------------------------------
// Building blocks

const ID_UNIT = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789');
const HEX_UNIT = fc.constantFrom(...'0123456789abcdef');

/** Short lower-case alphanumeric ids, like the backend's. */
const idArb: Arbitrary<string> = fc.string({ unit: ID_UNIT, minLength: 1, maxLength: 12 });

const START_MS = Date.UTC(2020, 0, 1);
const END_MS = Date.UTC(2030, 0, 1);

// `+ 0` turns -0 into 0: -0 does not survive JSON, and snapshots must.
const noNegativeZero = (x: number): number => x + 0;

/** A number from 0 to 1: mostly round thousandths (as servers send), sometimes any double. */
const fractionArb: Arbitrary<number> = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000), weight: 3 },
  { arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map(noNegativeZero), weight: 1 },
);

/** CPU seconds. */
const runtimeArb: Arbitrary<number> = fc.oneof(
  fc.integer({ min: 0, max: 3_600_000 }).map((n) => n / 1000),
  fc.double({ min: 0, max: 86_400, noNaN: true }).map(noNegativeZero),
);

/** Bytes. */
const bytesArb: Arbitrary<number> = fc.integer({ min: 0, max: 2 ** 40 });

const sha256Arb: Arbitrary<string> = fc.string({ unit: HEX_UNIT, minLength: 64, maxLength: 64 });

const isoTimeArb: Arbitrary<string> = fc.integer({ min: START_MS, max: END_MS }).map((ms) => new Date(ms).toISOString());

const keyArb: Arbitrary<string> = fc
  .tuple(fc.constantFrom('exports', 'exports/daily', 'tmp'), idArb, fc.constantFrom('.ndjson', '.geojson', ''))
  .map(([dir, name, ext]) => `${dir}/${name}${ext}`);

const messageArb: Arbitrary<string> = fc.oneof(
  fc.constantFrom('reading features', 'writing ndjson', 'uploading', 'almost done'),
  fc.string({ maxLength: 40 }),
);

const logLineArb: Arbitrary<string> = fc.oneof(
  fc.constantFrom('INFO starting export', 'INFO 1000 features written', 'WARN slow query', ''),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

const KNOWN_FAILURE_TYPES: readonly FailureType[] = ['exception', 'oom', 'timeout', 'cancelled', 'internal', 'unknown', 'executable_failure'];

const failureTypeArb: Arbitrary<FailureType | null> = fc.oneof(
  { arbitrary: fc.constantFrom(...KNOWN_FAILURE_TYPES), weight: 6 },
  { arbitrary: fc.constant(null), weight: 1 },
  // Servers may send values this client does not know yet: they are kept as strings.
  // ("None" is left out: it reads as null, so a history holding it would not be canonical.)
  { arbitrary: idArb.filter((s) => s !== 'None').map((s) => `x_${s}`), weight: 1 },
);

const exceptionNameArb: Arbitrary<string | null> = fc.option(
  fc.constantFrom('ValueError', 'MemoryError', 'TimeoutError', 'KeyError', 'RuntimeError', 'WorkerLost'),
);

const stacktraceArb: Arbitrary<string | null> = fc.option(
  fc
    .array(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 4 })
    .map((lines) => `Traceback (most recent call last):\n${lines.map((l) => `  ${l}`).join('\n')}`),
);

function toArb<T>(value: T | Arbitrary<T> | undefined, fallback: Arbitrary<T>): Arbitrary<T> {
  if (value === undefined) return fallback;
  return value instanceof fc.Arbitrary ? value : fc.constant(value);
}

/** DL's labels: the element at index 3 is the key. */
function labelsFor(productId: string, exportId: string, key: string): readonly string[] {
  return ['vector', productId, exportId, key];
}

type SucceededFields = Omit<SucceededEvent, keyof TaskEventBase | 'type' | 'labels'>;
type FailedFields = Omit<FailedEvent, keyof TaskEventBase | 'type' | 'labels'> & { readonly withLabels: boolean };

const succeededFieldsArb: Arbitrary<SucceededFields> = fc.record({
  runtime: runtimeArb,
  peak_memory_usage: bytesArb,
  key: keyArb,
  size_bytes: bytesArb,
  sha256: sha256Arb,
});

const failedFieldsArb: Arbitrary<FailedFields> = fc
  .record({
    failure_type: failureTypeArb,
    exception_name: exceptionNameArb,
    stacktrace: stacktraceArb,
    runtime: fc.option(runtimeArb),
    peak_memory_usage: fc.option(bytesArb),
    key: fc.option(keyArb),
    withLabels: fc.boolean(),
  })
  .map(({ key, ...rest }) => (key === null ? rest : { ...rest, key }));

function succeededEvent(base: TaskEventBase, fields: SucceededFields): SucceededEvent {
  return { type: 'succeeded', ...base, ...fields, labels: labelsFor(base.product_id, base.export_id, fields.key) };
}

function failedEvent(base: TaskEventBase, fields: FailedFields): FailedEvent {
  const { withLabels, ...rest } = fields;
  // As parseTaskEvent answers it: `key` and `labels` only when the backend sent them.
  return withLabels && rest.key !== undefined
    ? { type: 'failed', ...base, ...rest, labels: labelsFor(base.product_id, base.export_id, rest.key) }
    : { type: 'failed', ...base, ...rest };
}

function wireAttributes(attributes: ExportTaskAttributes): WireAttributes {
  return {
    created: attributes.created,
    status: attributes.status,
    failure_type: attributes.failureType,
    exception_name: attributes.exceptionName,
    stacktrace: attributes.stacktrace,
    peak_memory_usage: attributes.peakMemoryUsage,
    runtime: attributes.runtime,
    labels: attributes.labels === null ? null : [...attributes.labels],
    key: attributes.key,
    size_bytes: attributes.sizeBytes,
    sha256: attributes.sha256,
  };
}

/**
 * The `snapshot` event a truthful backend sends for a task whose state is `snapshot`: the same
 * state, in the wire's snake_case, as of `snapshot.seq`. It is canonical (what
 * `parseTaskEvent` answers for it is equal to it).
 *
 * @example
 * ```ts
 * const state = replay(history.slice(0, 3));
 * const event = snapshotEventFrom(state, '2026-01-01T00:00:00.000Z'); // seq 3, same phase, log, ...
 * ```
 * @param snapshot - The state to describe.
 * @param time - The event's `time` (ISO-8601 UTC).
 * @returns A `snapshot` event with `seq` equal to `snapshot.seq`.
 */
export function snapshotEventFrom(snapshot: ExportTaskSnapshot, time: string): SnapshotEvent {
  return {
    type: 'snapshot',
    product_id: snapshot.productId,
    export_id: snapshot.exportId,
    seq: snapshot.seq,
    time,
    phase: snapshot.phase,
    progress: snapshot.progress,
    attributes: snapshot.attributes === null ? null : wireAttributes(snapshot.attributes),
    log: [...snapshot.log],
    message: snapshot.message,
    cancel_requested: snapshot.cancelRequested,
    ...(snapshot.created === null ? {} : { created: snapshot.created }),
  };
}

// ---------------------------------------------------------------------------------------------
// One valid event

/**
 * Options of {@link taskEventArb}.
 *
 * @example
 * ```ts
 * taskEventArb({ productId: 'roads', exportId: 'e1', types: ['progress', 'log'] });
 * ```
 */
export interface TaskEventArbOptions {
  /** The events' product id, or an arbitrary of it. @defaultValue short alphanumeric ids */
  readonly productId?: string | Arbitrary<string> | undefined;
  /** The events' export id, or an arbitrary of it. @defaultValue short alphanumeric ids */
  readonly exportId?: string | Arbitrary<string> | undefined;
  /** The events' `seq`, or an arbitrary of it. @defaultValue integers from 1 to 20 */
  readonly seq?: number | Arbitrary<number> | undefined;
  /** The types to draw from. @defaultValue every type */
  readonly types?: readonly TaskEventType[] | undefined;
}

const ALL_TYPES: readonly TaskEventType[] = ['queued', 'started', 'progress', 'log', 'succeeded', 'failed', 'snapshot', 'cancel_requested'];
const PHASE_LIST: readonly TaskPhase[] = ['pending', 'running', 'success', 'failure'];

function wireAttributesArb(phase: 'success' | 'failure', productId: string, exportId: string): Arbitrary<WireAttributes> {
  const created = fc.option(isoTimeArb);
  if (phase === 'success') {
    return fc.record({ fields: succeededFieldsArb, created }).map(({ fields, created }) => ({
      created,
      status: 'SUCCESS',
      failure_type: null,
      exception_name: null,
      stacktrace: null,
      peak_memory_usage: fields.peak_memory_usage,
      runtime: fields.runtime,
      labels: labelsFor(productId, exportId, fields.key),
      key: fields.key,
      size_bytes: fields.size_bytes,
      sha256: fields.sha256,
    }));
  }
  return fc.record({ fields: failedFieldsArb, created }).map(({ fields, created }) => ({
    created,
    status: 'FAILURE',
    failure_type: fields.failure_type,
    exception_name: fields.exception_name,
    stacktrace: fields.stacktrace,
    peak_memory_usage: fields.peak_memory_usage,
    runtime: fields.runtime,
    labels: fields.withLabels && fields.key !== undefined ? labelsFor(productId, exportId, fields.key) : null,
    key: fields.key ?? null,
    size_bytes: null,
    sha256: null,
  }));
}

/**
 * One valid event of any type, on its own (not part of a consistent history): the raw
 * material of "event soups" that check the fold's invariants on inputs no honest backend
 * sends (a `snapshot` that says `pending` for a running task, a second terminal event...).
 * Every value is canonical: `parseTaskEvent(event)` is equal to it.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(fc.array(taskEventArb({ exportId: 'e1', productId: 'roads' })), (events) => {
 *   const store = new TaskStore();
 *   for (const event of events) store.apply(event);
 * }));
 * ```
 * @param options - See {@link TaskEventArbOptions}.
 * @returns An arbitrary of valid events.
 */
export function taskEventArb(options?: TaskEventArbOptions): Arbitrary<TaskEvent> {
  const baseArb: Arbitrary<TaskEventBase> = fc.record({
    product_id: toArb(options?.productId, idArb),
    export_id: toArb(options?.exportId, idArb),
    seq: toArb(options?.seq, fc.integer({ min: 1, max: 20 })),
    time: isoTimeArb,
  });
  const types = options?.types ?? ALL_TYPES;
  return fc.tuple(baseArb, fc.constantFrom(...types)).chain(([base, type]): Arbitrary<TaskEvent> => {
    switch (type) {
      case 'queued':
      case 'started':
      case 'cancel_requested':
        return fc.constant({ type, ...base });
      case 'progress':
        return fc
          .record({ fraction: fractionArb, message: fc.option(messageArb, { nil: undefined }) })
          .map(({ fraction, message }) =>
            message === undefined ? { type: 'progress', ...base, fraction } : { type: 'progress', ...base, fraction, message },
          );
      case 'log':
        return logLineArb.map((line) => ({ type: 'log', ...base, line }));
      case 'succeeded':
        return succeededFieldsArb.map((fields) => succeededEvent(base, fields));
      case 'failed':
        return failedFieldsArb.map((fields) => failedEvent(base, fields));
      case 'snapshot':
        return fc.constantFrom(...PHASE_LIST).chain((phase) =>
          fc
            .record({
              progress: fractionArb,
              attributes:
                phase === 'success' || phase === 'failure' ? wireAttributesArb(phase, base.product_id, base.export_id) : fc.constant(null),
              log: fc.option(fc.array(logLineArb, { maxLength: 4 }), { nil: undefined }),
              message: fc.option(fc.option(messageArb), { nil: undefined }),
              cancel_requested: fc.option(fc.boolean(), { nil: undefined }),
              created: fc.option(isoTimeArb, { nil: undefined }),
            })
            .map(({ log, message, cancel_requested, created, ...rest }): SnapshotEvent => ({
              type: 'snapshot',
              ...base,
              phase,
              ...rest,
              ...(log === undefined ? {} : { log }),
              ...(message === undefined ? {} : { message }),
              ...(cancel_requested === undefined ? {} : { cancel_requested }),
              ...(created === undefined ? {} : { created }),
            })),
        );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// One task's history

/**
 * Options of {@link taskHistoryArb}.
 *
 * @example
 * ```ts
 * taskHistoryArb({ terminal: 'always', fractions: 'non-decreasing', maxSnapshots: 0 });
 * ```
 */
export interface TaskHistoryOptions {
  /** The task's product id, or an arbitrary of it. @defaultValue one of a few product names */
  readonly productId?: string | Arbitrary<string> | undefined;
  /** The task's export id, or an arbitrary of it. @defaultValue short alphanumeric ids */
  readonly exportId?: string | Arbitrary<string> | undefined;
  /**
   * Most events between the start and the terminal event.
   * @defaultValue 12
   */
  readonly maxEvents?: number | undefined;
  /**
   * `'non-decreasing'`: progress fractions as an honest worker reports them; `'arbitrary'`:
   * any fraction at any time (the fold keeps the highest).
   * @defaultValue 'arbitrary'
   */
  readonly fractions?: 'non-decreasing' | 'arbitrary' | undefined;
  /**
   * `'realistic'`: `queued`, usually `started`, then progress, logs and cancel requests;
   * `'any'`: the non-terminal events in any order (progress before `started`, a second `queued`...).
   * @defaultValue 'realistic'
   */
  readonly order?: 'realistic' | 'any' | undefined;
  /**
   * Whether the history ends with one terminal event (`succeeded` or `failed`).
   * @defaultValue 'maybe'
   */
  readonly terminal?: 'always' | 'never' | 'maybe' | undefined;
  /**
   * How the history ends, or a list to draw from (each equally likely); when given, it decides
   * the terminal event instead of `terminal`:
   *
   * - `'success'`: a `succeeded` event;
   * - `'failure'`: a `failed` event whose `failure_type` is drawn from `failureTypes`;
   * - `'cancelled'`: at least one `cancel_requested`, then `failed` with `failure_type: "cancelled"`;
   * - `'unfinished'`: no terminal event (the task is still pending or running).
   *
   * @defaultValue undefined (`terminal` decides)
   */
  readonly outcome?: TaskOutcome | readonly TaskOutcome[] | undefined;
  /**
   * The `failure_type`s of an `outcome: 'failure'` history.
   * @defaultValue every known type but `cancelled`, `null`, and unknown strings (kept as they come)
   */
  readonly failureTypes?: readonly (FailureType | null)[] | undefined;
  /**
   * Most truthful `snapshot` events added (each right after the event whose `seq` it shares).
   * @defaultValue 3
   */
  readonly maxSnapshots?: number | undefined;
}

/**
 * How a task's history ends: see {@link TaskHistoryOptions.outcome}.
 *
 * @example
 * ```ts
 * const outcome: TaskOutcome = 'cancelled';
 * fc.assert(fc.property(taskHistoryArb({ outcome }), (history) => expect(replay(history).attributes?.failureType).toBe('cancelled')));
 * ```
 */
export type TaskOutcome = 'success' | 'failure' | 'cancelled' | 'unfinished';

/**
 * Every {@link TaskOutcome}, for `taskHistoryArb({ outcome: TASK_OUTCOMES })` or a loop over them.
 *
 * @example
 * ```ts
 * for (const outcome of TASK_OUTCOMES) {
 *   fc.assert(fc.property(taskHistoryArb({ outcome }), (history) => expect(replay(history).seq).toBe(history.length)));
 * }
 * ```
 */
export const TASK_OUTCOMES: readonly TaskOutcome[] = ['success', 'failure', 'cancelled', 'unfinished'];

type Item =
  | { readonly kind: 'queued' | 'started' | 'cancel_requested' }
  | { readonly kind: 'progress'; readonly fraction: number; readonly message: string | undefined }
  | { readonly kind: 'log'; readonly line: string };

type Terminal = { readonly kind: 'succeeded'; readonly fields: SucceededFields } | { readonly kind: 'failed'; readonly fields: FailedFields };

const progressItemArb: Arbitrary<Item> = fc
  .record({ fraction: fractionArb, message: fc.option(messageArb, { nil: undefined }) })
  .map(({ fraction, message }) => ({ kind: 'progress', fraction, message }));
const logItemArb: Arbitrary<Item> = logLineArb.map((line) => ({ kind: 'log', line }));
const cancelItemArb: Arbitrary<Item> = fc.constant({ kind: 'cancel_requested' });

const terminalArb: Arbitrary<Terminal> = fc.oneof(
  succeededFieldsArb.map((fields): Terminal => ({ kind: 'succeeded', fields })),
  failedFieldsArb.map((fields): Terminal => ({ kind: 'failed', fields })),
);

const OTHER_FAILURE_TYPES: readonly (FailureType | null)[] = [...KNOWN_FAILURE_TYPES.filter((t) => t !== 'cancelled'), null];

/** The terminal event of an outcome (`null` for an unfinished task). */
function outcomeTerminalArb(outcome: TaskOutcome, failureTypes: readonly (FailureType | null)[] | undefined): Arbitrary<Terminal | null> {
  switch (outcome) {
    case 'success':
      return succeededFieldsArb.map((fields): Terminal => ({ kind: 'succeeded', fields }));
    case 'unfinished':
      return fc.constant(null);
    case 'cancelled':
    case 'failure': {
      const typeArb: Arbitrary<FailureType | null> =
        outcome === 'cancelled'
          ? fc.constant('cancelled')
          : failureTypes !== undefined
            ? fc.constantFrom(...failureTypes)
            : fc.oneof(
                { arbitrary: fc.constantFrom(...OTHER_FAILURE_TYPES), weight: 6 },
                { arbitrary: idArb.filter((s) => s !== 'None').map((s) => `x_${s}`), weight: 1 },
              );
      return fc
        .tuple(failedFieldsArb, typeArb)
        .map(([fields, failure_type]): Terminal => ({ kind: 'failed', fields: { ...fields, failure_type } }));
    }
  }
}

function checkOutcomes(outcome: TaskOutcome | readonly TaskOutcome[], failureTypes: readonly (FailureType | null)[] | undefined): readonly TaskOutcome[] {
  const outcomes: readonly unknown[] = typeof outcome === 'string' ? [outcome] : Array.isArray(outcome) ? outcome : [outcome];
  for (const o of outcomes) {
    if (!TASK_OUTCOMES.includes(o as TaskOutcome)) {
      throw new TypeError(`taskHistoryArb(): expected \`outcome\` to be one of ${TASK_OUTCOMES.map((t) => `'${t}'`).join(', ')} or a non-empty array of them, got ${JSON.stringify(o)}`);
    }
  }
  if (outcomes.length === 0) throw new TypeError('taskHistoryArb(): expected `outcome` to be a non-empty array of outcomes, got []');
  if (failureTypes !== undefined && (!Array.isArray(failureTypes) || failureTypes.length === 0)) {
    throw new TypeError(`taskHistoryArb(): expected \`failureTypes\` to be a non-empty array of failure types (strings or null), got ${JSON.stringify(failureTypes)}`);
  }
  return outcomes as readonly TaskOutcome[];
}

function toEvent(item: Item | Terminal, base: TaskEventBase): TaskEvent {
  switch (item.kind) {
    case 'queued':
    case 'started':
    case 'cancel_requested':
      return { type: item.kind, ...base };
    case 'progress':
      return item.message === undefined
        ? { type: 'progress', ...base, fraction: item.fraction }
        : { type: 'progress', ...base, fraction: item.fraction, message: item.message };
    case 'log':
      return { type: 'log', ...base, line: item.line };
    case 'succeeded':
      return succeededEvent(base, item.fields);
    case 'failed':
      return failedEvent(base, item.fields);
  }
}

/** The real (non-snapshot) events of a history, in `seq` order. */
function realEvents(history: readonly TaskEvent[]): TaskEvent[] {
  return history.filter((e) => e.type !== 'snapshot').sort((a, b) => a.seq - b.seq);
}

/**
 * A valid, gap-free history of one task, in `seq` order: `queued`, `started`, progress (with
 * non-decreasing or arbitrary fractions), log lines and cancel requests, then optionally one
 * terminal event (`succeeded` with a key, labels, size and SHA-256; or `failed` with a
 * failure type, exception name and stack trace). Real events have seqs 1..N.
 *
 * It may also hold `snapshot` events, each placed right after the event whose `seq` it shares
 * and truthful: its state is the fold ({@link replay}) of the events up to its `seq`. So a
 * delivery that loses events covered by a later snapshot still reaches the same state.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(taskHistoryArb({ terminal: 'always' }), (history) => {
 *   expect(isFinalPhase(replay(history).phase)).toBe(true);
 * }));
 * ```
 * @param options - See {@link TaskHistoryOptions}.
 * @returns An arbitrary of histories (arrays of wire events, canonical: each equals its parse).
 */
export function taskHistoryArb(options?: TaskHistoryOptions): Arbitrary<TaskEvent[]> {
  const maxEvents = options?.maxEvents ?? 12;
  const order = options?.order ?? 'realistic';
  const terminal = options?.terminal ?? 'maybe';
  const maxSnapshots = options?.maxSnapshots ?? 3;
  const itemArb: Arbitrary<Item> =
    order === 'realistic'
      ? fc.oneof({ arbitrary: progressItemArb, weight: 3 }, { arbitrary: logItemArb, weight: 3 }, { arbitrary: cancelItemArb, weight: 1 })
      : fc.oneof(
          { arbitrary: progressItemArb, weight: 3 },
          { arbitrary: logItemArb, weight: 3 },
          { arbitrary: cancelItemArb, weight: 1 },
          { arbitrary: fc.constant<Item>({ kind: 'queued' }), weight: 1 },
          { arbitrary: fc.constant<Item>({ kind: 'started' }), weight: 1 },
        );
  const outcomes = options?.outcome === undefined ? undefined : checkOutcomes(options.outcome, options.failureTypes);
  const terminalOption: Arbitrary<Terminal | null> =
    outcomes !== undefined
      ? fc.constantFrom(...outcomes).chain((outcome) => outcomeTerminalArb(outcome, options?.failureTypes))
      : terminal === 'always'
        ? terminalArb
        : terminal === 'never'
          ? fc.constant(null)
          : fc.option(terminalArb, { freq: 3 });
  return fc
    .record({
      productId: toArb(options?.productId, fc.constantFrom('roads', 'parcels', 'rivers')),
      exportId: toArb(options?.exportId, idArb),
      start: fc.integer({ min: START_MS, max: END_MS }),
      step: fc.integer({ min: 0, max: 60_000 }),
      started: order === 'realistic' ? fc.boolean() : fc.constant(false),
      items: fc.array(itemArb, { minLength: order === 'any' ? 1 : 0, maxLength: maxEvents }),
      terminal: terminalOption,
      snapshotPicks: fc.uniqueArray(fc.nat(), { maxLength: maxSnapshots }),
      cancelAt: fc.nat(),
    })
    .map(({ productId, exportId, start, step, started, items, terminal, snapshotPicks, cancelAt }) => {
      const head: Item[] = order === 'realistic' ? [{ kind: 'queued' }, ...(started ? [{ kind: 'started' } as const] : [])] : [];
      let all: Item[] = [...head, ...items];
      // A cancelled task was asked to cancel first: make sure some event says so.
      if (terminal?.kind === 'failed' && terminal.fields.failure_type === 'cancelled' && outcomes !== undefined && !all.some((i) => i.kind === 'cancel_requested')) {
        const at = head.length + (cancelAt % (all.length - head.length + 1));
        all = [...all.slice(0, at), { kind: 'cancel_requested' }, ...all.slice(at)];
      }
      if (options?.fractions === 'non-decreasing') {
        const sorted = all.flatMap((i) => (i.kind === 'progress' ? [i.fraction] : [])).sort((a, b) => a - b);
        let k = 0;
        all = all.map((i) => (i.kind === 'progress' ? { ...i, fraction: sorted[k++]! } : i));
      }
      const sequence: (Item | Terminal)[] = terminal === null ? all : [...all, terminal];
      const events = sequence.map((item, i) =>
        toEvent(item, { product_id: productId, export_id: exportId, seq: i + 1, time: new Date(start + i * step).toISOString() }),
      );
      const snapshotSeqs = new Set(events.length === 0 ? [] : snapshotPicks.map((p) => (p % events.length) + 1));
      if (snapshotSeqs.size === 0) return events;
      // Each snapshot is the fold of its prefix, resumed from the previous one (one pass in all).
      const history: TaskEvent[] = [];
      let state: ExportTaskSnapshot | undefined;
      for (const event of events) {
        history.push(event);
        if (!snapshotSeqs.has(event.seq)) continue;
        state = replay(events.slice(state?.seq ?? 0, event.seq), state);
        history.push(snapshotEventFrom(state, event.time));
      }
      return history;
    });
}

// ---------------------------------------------------------------------------------------------
// Hostile delivery

/**
 * Options of {@link hostileDeliveryArb}.
 *
 * @example
 * ```ts
 * hostileDeliveryArb(history, { maxDuplicates: 2, drop: false }); // reordered, a few copies, nothing lost
 * ```
 */
export interface HostileDeliveryOptions {
  /**
   * Most extra copies of delivered events.
   * @defaultValue the history's length
   */
  readonly maxDuplicates?: number | undefined;
  /**
   * Whether events may be lost; only those at or below the `seq` of a delivered snapshot are,
   * so the delivery still reaches the history's final state.
   * @defaultValue true
   */
  readonly drop?: boolean | undefined;
}

/**
 * How a hostile network delivers `history`: in any order, with duplicates, without some of
 * its snapshots, and without some events that a delivered (truthful) snapshot covers. Any
 * correct fold of such a delivery ends where the in-order fold of `history` ends.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(
 *   taskHistoryArb().chain((history) => hostileDeliveryArb(history).map((delivery) => ({ history, delivery }))),
 *   ({ history, delivery }) => {
 *     expect(replay(delivery)).toEqual(replay(history));
 *   },
 * ));
 * ```
 * @param history - A gap-free history, such as {@link taskHistoryArb} gives.
 * @param options - See {@link HostileDeliveryOptions}.
 * @returns An arbitrary of deliveries (arrays holding the history's own event objects).
 */
export function hostileDeliveryArb(history: readonly TaskEvent[], options?: HostileDeliveryOptions): Arbitrary<TaskEvent[]> {
  const snapshots = history.filter((e) => e.type === 'snapshot');
  const real = realEvents(history);
  const maxDuplicates = options?.maxDuplicates ?? history.length;
  const mayDrop = options?.drop ?? true;
  const total = history.length + maxDuplicates;
  return fc
    .record({
      keep: fc.array(fc.boolean(), { minLength: snapshots.length, maxLength: snapshots.length }),
      drop: fc.array(fc.boolean(), { minLength: real.length, maxLength: real.length }),
      duplicates: fc.array(fc.nat(), { maxLength: maxDuplicates }),
      // Sort keys: shrinking them towards 0 shrinks the delivery towards the history's order.
      keys: fc.array(fc.nat(), { minLength: total, maxLength: total }),
    })
    .map(({ keep, drop, duplicates, keys }) => {
      const kept = snapshots.filter((_, i) => keep[i]);
      const cover = kept.reduce((max, s) => Math.max(max, s.seq), 0);
      const delivered = [...real.filter((e, i) => !(mayDrop && drop[i] && e.seq <= cover)), ...kept];
      const copies = delivered.length === 0 ? [] : duplicates.map((d) => delivered[d % delivered.length]!);
      return [...delivered, ...copies]
        .map((event, i) => ({ event, key: keys[i] ?? 0 }))
        .sort((a, b) => a.key - b.key)
        .map(({ event }) => event);
    });
}

// ---------------------------------------------------------------------------------------------
// Many tasks

/**
 * Options of {@link multiTaskStreamArb}.
 *
 * @example
 * ```ts
 * multiTaskStreamArb({ maxTasks: 3, hostile: false, history: { terminal: 'always' } });
 * ```
 */
export interface MultiTaskStreamOptions {
  /** Fewest tasks in the stream. @defaultValue 1 */
  readonly minTasks?: number | undefined;
  /** Most tasks in the stream. @defaultValue 5 */
  readonly maxTasks?: number | undefined;
  /** Options of each task's history (their export ids are drawn unique). */
  readonly history?: Omit<TaskHistoryOptions, 'exportId'> | undefined;
  /** Whether each task's events are delivered hostilely ({@link hostileDeliveryArb}). @defaultValue true */
  readonly hostile?: boolean | undefined;
}

/**
 * Several tasks' histories, and one stream that interleaves their deliveries.
 *
 * @example
 * ```ts
 * const { histories, stream } = fc.sample(multiTaskStreamArb(), 1)[0]!;
 * stream.length >= histories.length; // true
 * ```
 */
export interface MultiTaskStream {
  /** Each task's history, in `seq` order; export ids are unique. */
  readonly histories: readonly TaskEvent[][];
  /** Every task's events, interleaved in an arbitrary order (nothing about order is kept). */
  readonly stream: readonly TaskEvent[];
}

/**
 * Several tasks' histories interleaved in one stream, as a product's event stream (or a
 * resync of many tasks) delivers them: the interleaving keeps nothing about order, and with
 * `hostile` each task's events are also duplicated and partly lost (covered by snapshots).
 *
 * @example
 * ```ts
 * fc.assert(fc.property(multiTaskStreamArb(), ({ histories, stream }) => {
 *   const store = new TaskStore();
 *   for (const event of stream) store.apply(event);
 *   for (const history of histories) expect(store.get(history[0]!.export_id)).toEqual(replay(history));
 * }));
 * ```
 * @param options - See {@link MultiTaskStreamOptions}.
 * @returns An arbitrary of `{ histories, stream }`.
 */
export function multiTaskStreamArb(options?: MultiTaskStreamOptions): Arbitrary<MultiTaskStream> {
  const hostile = options?.hostile ?? true;
  return fc
    .uniqueArray(idArb, { minLength: options?.minTasks ?? 1, maxLength: options?.maxTasks ?? 5 })
    .chain((ids) => fc.tuple(...ids.map((exportId) => taskHistoryArb({ ...options?.history, exportId }))))
    .chain((histories) =>
      fc
        .tuple(...histories.map((history) => (hostile ? hostileDeliveryArb(history) : fc.constant(history))))
        .chain((deliveries) => {
          const all = deliveries.flat();
          return fc
            .array(fc.nat(), { minLength: all.length, maxLength: all.length })
            .map((keys) => ({
              histories,
              stream: all
                .map((event, i) => ({ event, key: keys[i]! }))
                .sort((a, b) => a.key - b.key)
                .map(({ event }) => event),
            }));
        }),
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed events

/**
 * An input that `parseTaskEvent` must reject, and what it must say.
 *
 * @example
 * ```ts
 * const { input, field } = fc.sample(malformedEventArb(), 1)[0]!;
 * try { parseTaskEvent(input); } catch (error) { (error as InvalidEventError).field === field; } // true
 * ```
 */
export interface MalformedEvent {
  /** What to feed the parser: an object, JSON text, or anything else. */
  readonly input: unknown;
  /** The field the `InvalidEventError` must name (`''` for the event as a whole). */
  readonly field: string;
  /** What is wrong with it, for people reading a counterexample. */
  readonly reason: string;
}

/**
 * Options of {@link malformedEventArb}.
 *
 * @example
 * ```ts
 * malformedEventArb({ productId: 'roads', exportId: 'e1', huge: false }); // aimed at one known task
 * ```
 */
export interface MalformedEventOptions {
  /** The product of the events that are malformed in another field. @defaultValue short ids */
  readonly productId?: string | Arbitrary<string> | undefined;
  /** The task the events that are malformed in another field name. @defaultValue short ids */
  readonly exportId?: string | Arbitrary<string> | undefined;
  /**
   * Whether to include the expensive cases (text of more than 4 MiB, stack traces of more
   * than 1 MiB).
   * @defaultValue true
   */
  readonly huge?: boolean | undefined;
}

const REMOVE = Symbol('remove');
type Path = readonly (string | number)[];
interface Mutation {
  readonly path: Path;
  readonly value: unknown;
  readonly reason: string;
  /** The field the error names, when it is deeper than `path` (an element of an array set whole). */
  readonly field?: string | undefined;
}

const oversized = (max: number): Arbitrary<string> => fc.nat(8).map((extra) => 'x'.repeat(max + 1 + extra));
const notAString = (nullable: boolean): Arbitrary<unknown> =>
  fc.oneof(fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}), ...(nullable ? [] : [fc.constant(null)]));
const notANumber = (nullable: boolean): Arbitrary<unknown> =>
  fc.oneof(fc.constant('1'), fc.boolean(), fc.constant([]), fc.constant({}), ...(nullable ? [] : [fc.constant(null)]));

function mutation(path: Path, reason: string, value: Arbitrary<unknown>): Arbitrary<Mutation> {
  return value.map((v) => ({ path, value: v, reason }));
}
const missing = (path: Path): Arbitrary<Mutation> => fc.constant({ path, value: REMOVE, reason: 'missing' });
const fieldName = (path: Path): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

function idMutations(field: string): Arbitrary<Mutation>[] {
  return [
    missing([field]),
    mutation([field], 'not a string', notAString(false)),
    mutation([field], 'empty', fc.constant('')),
    mutation([field], 'oversized', oversized(EVENT_LIMITS.id)),
  ];
}

function amountMutations(field: string, integer: boolean, nullable: boolean, required: boolean): Arbitrary<Mutation>[] {
  return [
    ...(required ? [missing([field])] : []),
    mutation([field], 'negative', fc.integer({ min: -1_000_000, max: -1 })),
    mutation([field], 'not a number', notANumber(nullable)),
    mutation([field], 'not finite', fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)),
    ...(integer
      ? [
          mutation([field], 'fractional', fc.integer({ min: 0, max: 1000 }).map((n) => n + 0.5)),
          mutation([field], 'unsafe integer', fc.constantFrom(2 ** 53, 2 ** 60)),
        ]
      : []),
  ];
}

function labelsMutations(path: Path, required: boolean): Arbitrary<Mutation>[] {
  return [
    ...(required ? [missing(path)] : []),
    mutation(path, 'not an array', fc.oneof(fc.constant('labels'), fc.integer(), fc.constant({}))),
    mutation(path, 'too many labels', fc.constant(Array.from({ length: EVENT_LIMITS.labels + 1 }, (_, i) => `l${i}`))),
    fc.tuple(fc.nat(3), notAString(false)).map(([i, bad]) => ({
      path,
      value: ['vector', 'roads', 'e1', 'exports/a.ndjson'].map((label, j) => (j === i ? bad : label)),
      reason: 'a label that is not a string',
      field: `${fieldName(path)}[${i}]`,
    })),
  ];
}

function sha256Mutations(path: Path, required: boolean): Arbitrary<Mutation>[] {
  return [
    ...(required ? [missing(path)] : []),
    mutation(path, 'upper-case hex', sha256Arb.filter((h) => /[a-f]/.test(h)).map((h) => h.toUpperCase())),
    mutation(path, 'too short', fc.string({ unit: HEX_UNIT, minLength: 1, maxLength: 63 })),
    mutation(path, 'not hex', fc.constant('z'.repeat(64))),
    mutation(path, 'not a string', notAString(!required)),
  ];
}

const fractionMutations = (field: string): Arbitrary<Mutation>[] => [
  missing([field]),
  mutation([field], 'below 0', fc.double({ max: -Number.MIN_VALUE, noNaN: true })),
  mutation([field], 'above 1', fc.double({ min: 1.0000001, noNaN: true })),
  mutation([field], 'NaN', fc.constant(Number.NaN)),
  mutation([field], 'not a number', notANumber(false)),
];

const notIsoTime: Arbitrary<string> = fc.oneof(
  fc.constantFrom('yesterday', '2026-01-01', '2026-01-01T00:00:00', '2026-01-01T00:00:00+02:00', '01/02/2026 10:00', ''),
  isoTimeArb.map((t) => t.replace('T', ' ')),
);

const mutationCache = new Map<string, Arbitrary<Mutation>>();

/** The mutations of an event depend only on its type (and whether a snapshot is final): built once. */
function mutationArb(event: TaskEvent, huge: boolean): Arbitrary<Mutation> {
  const key = `${event.type}/${event.type === 'snapshot' ? event.phase : ''}/${huge}`;
  let arb = mutationCache.get(key);
  if (arb === undefined) mutationCache.set(key, (arb = fc.oneof(...mutationsFor(event, huge))));
  return arb;
}

function mutationsFor(event: TaskEvent, huge: boolean): Arbitrary<Mutation>[] {
  const common: Arbitrary<Mutation>[] = [
    missing(['type']),
    mutation(['type'], 'unknown type', fc.oneof(fc.constantFrom('finished', 'QUEUED', 'progress ', 'snap_shot', ''), idArb.map((s) => `x_${s}`))),
    mutation(['type'], 'type not a string', notAString(false)),
    missing(['seq']),
    mutation(
      ['seq'],
      'seq not a positive safe integer',
      fc.oneof(
        fc.constant(0),
        fc.integer({ min: -1_000_000, max: -1 }),
        fc.integer({ min: 1, max: 1000 }).map((n) => n + 0.25),
        fc.constantFrom(2 ** 53, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, -0.5),
        fc.constantFrom('1', null, true),
      ),
    ),
    missing(['time']),
    mutation(['time'], 'not an ISO-8601 UTC time', notIsoTime),
    mutation(['time'], 'time not a string', notAString(false)),
    mutation(['time'], 'oversized time', fc.constant(`2026-01-01T00:00:00.${'0'.repeat(60)}Z`)),
    ...idMutations('product_id'),
    ...idMutations('export_id'),
  ];
  const own: Arbitrary<Mutation>[] = [];
  switch (event.type) {
    case 'progress':
      own.push(
        ...fractionMutations('fraction'),
        mutation(['message'], 'message not a string', notAString(true)),
        mutation(['message'], 'oversized message', oversized(EVENT_LIMITS.message)),
      );
      break;
    case 'log':
      own.push(missing(['line']), mutation(['line'], 'line not a string', notAString(false)), mutation(['line'], 'oversized line', oversized(EVENT_LIMITS.line)));
      break;
    case 'succeeded':
      own.push(
        ...amountMutations('runtime', false, false, true),
        ...amountMutations('peak_memory_usage', true, false, true),
        ...amountMutations('size_bytes', true, false, true),
        missing(['key']),
        mutation(['key'], 'key not a string', notAString(false)),
        mutation(['key'], 'oversized key', oversized(EVENT_LIMITS.key)),
        ...labelsMutations(['labels'], true),
        ...sha256Mutations(['sha256'], true),
      );
      break;
    case 'failed':
      own.push(
        mutation(['failure_type'], 'failure_type not a string', notAString(true)),
        mutation(['failure_type'], 'oversized failure_type', oversized(EVENT_LIMITS.id)),
        mutation(['exception_name'], 'exception_name not a string', notAString(true)),
        mutation(['stacktrace'], 'stacktrace not a string', notAString(true)),
        ...(huge ? [mutation(['stacktrace'], 'oversized stacktrace', oversized(EVENT_LIMITS.stacktrace))] : []),
        ...amountMutations('runtime', false, true, false),
        ...amountMutations('peak_memory_usage', true, true, false),
        mutation(['key'], 'key not a string', notAString(true)),
        ...labelsMutations(['labels'], false),
      );
      break;
    case 'snapshot': {
      const final = event.phase === 'success' || event.phase === 'failure';
      own.push(
        missing(['phase']),
        mutation(['phase'], 'unknown phase', fc.oneof(fc.constantFrom('done', 'SUCCESS', 'queued', ''), fc.integer())),
        ...fractionMutations('progress'),
        mutation(['log'], 'log not an array', fc.oneof(fc.constant('a line'), fc.integer(), fc.constant({}), fc.constant(null))),
        fc.tuple(fc.nat(3), notAString(false)).map(([i, bad]) => ({
          path: ['log'],
          value: [...Array.from({ length: i }, () => 'ok'), bad],
          reason: 'a log line that is not a string',
          field: `log[${i}]`,
        })),
        mutation(['message'], 'message not a string', notAString(true)),
        mutation(['cancel_requested'], 'cancel_requested not a boolean', fc.oneof(fc.constant('true'), fc.integer(), fc.constant(null))),
        mutation(['created'], 'created not an ISO-8601 UTC time', notIsoTime),
      );
      if (final) {
        const status = event.phase === 'success' ? 'FAILURE' : 'SUCCESS';
        own.push(
          missing(['attributes']),
          mutation(['attributes'], 'attributes not an object', fc.oneof(fc.constant(null), fc.constant([]), fc.constant('attrs'))),
          mutation(['attributes', 'status'], 'status disagrees with the phase', fc.constantFrom(status, 'DONE', null)),
          mutation(['attributes', 'created'], 'attributes.created not an ISO time', notIsoTime),
          mutation(['attributes', 'runtime'], 'negative runtime', fc.integer({ min: -100, max: -1 })),
          mutation(['attributes', 'peak_memory_usage'], 'fractional bytes', fc.constant(1.5)),
          mutation(['attributes', 'size_bytes'], 'size_bytes not a number', fc.constant('12')),
          mutation(['attributes', 'key'], 'key not a string', fc.integer()),
          mutation(['attributes', 'failure_type'], 'failure_type not a string', fc.integer()),
          ...sha256Mutations(['attributes', 'sha256'], false),
          ...labelsMutations(['attributes', 'labels'], false),
        );
      } else {
        own.push(
          mutation(
            ['attributes'],
            `attributes on a ${event.phase} snapshot`,
            wireAttributesArb('success', 'roads', 'e1').map((a) => ({ ...a })),
          ),
        );
      }
      break;
    }
    default:
      break;
  }
  return [...common, ...own];
}

function setPath(target: Record<string, unknown>, path: Path, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...target };
  let node: Record<string | number, unknown> = copy;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const child = node[key];
    const next: Record<string | number, unknown> = Array.isArray(child)
      ? ([...(child as unknown[])] as unknown as Record<number, unknown>)
      : typeof child === 'object' && child !== null
        ? { ...(child as Record<string, unknown>) }
        : {};
    node[key] = next;
    node = next;
  }
  const last = path[path.length - 1]!;
  if (value === REMOVE) delete node[last];
  else node[last] = value;
  return copy;
}

/** Whether JSON text keeps the value as it is (no NaN, infinities or undefined inside). */
function survivesJson(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (value === undefined) return false;
  if (Array.isArray(value)) return value.every(survivesJson);
  if (typeof value === 'object' && value !== null) return Object.values(value).every(survivesJson);
  return true;
}

/**
 * Inputs that `parseTaskEvent` (and so `TaskStore.apply`) must reject with an
 * `InvalidEventError` naming `field`: text that is not JSON, JSON that is not an object, an
 * unknown `type`, a missing or wrongly typed field, a `seq` that is 0, negative, fractional or
 * unsafe, an oversized string, a fraction out of 0..1, attributes on a non-final snapshot, a
 * bad SHA-256... Each is one valid event with exactly one thing wrong (so the error can only
 * name that field), given as an object or as its JSON text.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(malformedEventArb(), ({ input, field }) => {
 *   expect(() => parseTaskEvent(input)).toThrow(expect.objectContaining({ name: 'InvalidEventError', field }));
 * }));
 * ```
 * @param options - See {@link MalformedEventOptions}.
 * @returns An arbitrary of `{ input, field, reason }`.
 */
export function malformedEventArb(options?: MalformedEventOptions): Arbitrary<MalformedEvent> {
  const huge = options?.huge ?? true;
  const eventArb = taskEventArb({
    ...(options?.productId === undefined ? {} : { productId: options.productId }),
    ...(options?.exportId === undefined ? {} : { exportId: options.exportId }),
  });
  const oneField: Arbitrary<MalformedEvent> = eventArb.chain((event) =>
    fc.tuple(mutationArb(event, huge), fc.boolean()).map(([m, asText]) => {
      const input = setPath(event as unknown as Record<string, unknown>, m.path, m.value);
      return {
        input: asText && survivesJson(input) ? JSON.stringify(input) : input,
        field: m.field ?? fieldName(m.path),
        reason: `${event.type} event with ${fieldName(m.path)} ${m.reason}`,
      };
    }),
  );
  const wholeEvent: Arbitrary<MalformedEvent> = fc.oneof(
    eventArb.chain((event) => {
      const text = JSON.stringify(event);
      // Any proper prefix of an object's JSON text is not JSON: the object is never closed.
      return fc.nat(text.length - 1).map((n) => ({ input: text.slice(0, n), field: '', reason: 'truncated JSON text' }));
    }),
    fc
      .constantFrom('not json', '{type: "queued"}', "{'type':'queued'}", '{"type":"queued",}', 'NaN')
      .map((input) => ({ input, field: '', reason: 'not JSON text' })),
    fc
      .oneof(fc.integer(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.string({ maxLength: 10 }).map((s) => JSON.stringify(s)))
      .map((value) => ({ input: typeof value === 'string' ? value : JSON.stringify(value), field: '', reason: 'JSON text of a non-object' })),
    fc
      .oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constant([]), fc.constant(Symbol('event')))
      .map((input) => ({ input, field: '', reason: 'not an object' })),
  );
  const hugeText: Arbitrary<MalformedEvent> = eventArb.map((event) => ({
    input: ' '.repeat(EVENT_LIMITS.json) + JSON.stringify(event),
    field: '',
    reason: 'JSON text of more than 4 MiB',
  }));
  return fc.oneof(
    { arbitrary: oneField, weight: 60 },
    { arbitrary: wholeEvent, weight: 10 },
    ...(huge ? [{ arbitrary: hugeText, weight: 1 }] : []),
  );
}
