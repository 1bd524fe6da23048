import fc, { type Arbitrary } from 'fast-check';
import { describeValue, type InvalidEventError } from '../core/errors.js';
import type { SnapshotEvent, TaskEvent } from '../core/events.js';
import { replay } from '../core/replay.js';
import type { ExportTaskSnapshot } from '../core/snapshot.js';
import type { TaskStore } from '../core/task-store.js';
import { hostileDeliveryArb, malformedEventArb, snapshotEventFrom } from './arbitraries.js';

/**
 * One thing that happens on a hostile stream of one task's events (see {@link hostileStreamArb}).
 *
 * - `event`: an event arrives (maybe a duplicate, maybe early, maybe late);
 * - `malformed`: something that is not a valid event arrives (the store must reject it with an
 *   `InvalidEventError` naming `field`, and change nothing);
 * - `disconnect`: the stream is cut; the events in `lost` were sent meanwhile and never arrive;
 * - `resync`: after a cut, the source asks the backend for the task's state and gets `event`,
 *   a truthful `snapshot` as of a `seq` at or above every lost event's.
 *
 * @example
 * ```ts
 * const steps: DeliveryStep[] = [
 *   { kind: 'event', event: history[1]! },
 *   { kind: 'disconnect', lost: [history[0]!] },
 *   { kind: 'resync', event: snapshotEventFrom(replay(history.slice(0, 2)), '2026-01-01T00:00:05Z') },
 * ];
 * applyDelivery(new TaskStore(), steps);
 * ```
 */
export type DeliveryStep =
  | { readonly kind: 'event'; readonly event: TaskEvent }
  | { readonly kind: 'malformed'; readonly input: unknown; readonly field: string; readonly reason: string }
  | { readonly kind: 'disconnect'; readonly lost: readonly TaskEvent[] }
  | { readonly kind: 'resync'; readonly event: SnapshotEvent };

/**
 * Options of {@link hostileStreamArb}.
 *
 * @example
 * ```ts
 * hostileStreamArb(history, { maxDisconnects: 1, maxMalformed: 0 }); // one cut at most, no garbage
 * ```
 */
export interface HostileStreamOptions {
  /**
   * Most extra copies of delivered events.
   * @defaultValue the history's length
   */
  readonly maxDuplicates?: number | undefined;
  /**
   * Most cuts of the stream, each losing a run of events and followed by a resync.
   * @defaultValue 2
   */
  readonly maxDisconnects?: number | undefined;
  /**
   * Most malformed inputs slipped into the stream.
   * @defaultValue 2
   */
  readonly maxMalformed?: number | undefined;
}

/**
 * A delivery of one task's history and what any correct fold of it must give.
 *
 * @example
 * ```ts
 * fc.assert(
 *   fc.property(taskHistoryArb().chain((history) => hostileStreamArb(history)), ({ steps, expected }: HostileStream) => {
 *     const store = new TaskStore();
 *     applyDelivery(store, steps);
 *     expect(store.get(expected.exportId)).toEqual(expected);
 *   }),
 * );
 * ```
 */
export interface HostileStream {
  /** The history delivered (gap-free, in `seq` order). */
  readonly history: readonly TaskEvent[];
  /** What happens on the stream, in arrival order. */
  readonly steps: readonly DeliveryStep[];
  /** `replay(history)`: the snapshot every correct fold of `steps` ends at. */
  readonly expected: ExportTaskSnapshot;
}

function checkCount(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`hostileStreamArb(): expected \`${name}\` to be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/**
 * How a hostile network and a flaky connection deliver one task's `history`: events reordered
 * (some arrive late, some early), duplicated, lost when covered by a snapshot, lost while the
 * stream is cut and then made good by a resync, with malformed inputs in between.
 *
 * **Guarantee.** Folding the steps into a `TaskStore` as {@link applyDelivery} does (events and
 * resyncs through `store.apply`, malformed inputs rejected, cuts doing nothing) ends at
 * `expected`, which is `replay(history)`: the same snapshot as in-order delivery of `history`,
 * `seq` included. Every malformed input is rejected with an `InvalidEventError` and changes
 * nothing. A code of yours that consumes the same stream must end at the same place.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(taskHistoryArb().chain((h) => hostileStreamArb(h)), ({ steps, expected }) => {
 *   const store = new TaskStore();
 *   applyDelivery(store, steps);
 *   expect(store.get(expected.exportId)).toEqual(expected);
 * }));
 * ```
 * @param history - A gap-free history of one task, such as `taskHistoryArb()` gives.
 * @param options - See {@link HostileStreamOptions}.
 * @returns An arbitrary of `{ history, steps, expected }`.
 * @throws TypeError at once for an empty history or a bad option.
 */
export function hostileStreamArb(history: readonly TaskEvent[], options?: HostileStreamOptions): Arbitrary<HostileStream> {
  const first = history[0];
  if (first === undefined) throw new TypeError('hostileStreamArb(): expected a history of at least one event, got []');
  const maxDuplicates = checkCount('maxDuplicates', options?.maxDuplicates, history.length);
  const maxDisconnects = checkCount('maxDisconnects', options?.maxDisconnects, 2);
  const maxMalformed = checkCount('maxMalformed', options?.maxMalformed, 2);
  const expected = replay(history);
  const real = history.filter((e) => e.type !== 'snapshot').sort((a, b) => a.seq - b.seq);
  const lastSeq = real.reduce((max, e) => Math.max(max, e.seq), 0);
  const cut = fc.record({ at: fc.nat(), length: fc.integer({ min: 1, max: 4 }), over: fc.nat(), delay: fc.nat() });
  return fc
    .record({
      delivery: hostileDeliveryArb(history, { maxDuplicates }),
      cuts: fc.array(cut, { maxLength: maxDisconnects }),
      malformed: fc.array(
        fc.record({ at: fc.nat(), bad: malformedEventArb({ productId: first.product_id, exportId: first.export_id, huge: false }) }),
        { maxLength: maxMalformed },
      ),
    })
    .map(({ delivery, cuts, malformed }) => {
      let steps: DeliveryStep[] = delivery.map((event) => ({ kind: 'event', event }));
      for (const { at, length, over, delay } of lastSeq === 0 ? [] : cuts) {
        // A cut at some position loses a run of the events that would have arrived next ...
        // (Only events are lost: an earlier resync in the run still arrives, or what it made
        // good would be lost for good.)
        const start = steps.length === 0 ? 0 : at % steps.length;
        const window = steps.slice(start, start + length);
        const lost = window.flatMap((s) => (s.kind === 'event' ? [s.event] : []));
        const kept = [...steps.slice(0, start), ...window.filter((s) => s.kind !== 'event'), ...steps.slice(start + length)];
        // ... and the resync that follows answers the task's state as of a seq at or above
        // every lost event (the backend has sent them all by then; maybe more).
        const covered = lost.reduce((max, e) => Math.max(max, e.seq), 1);
        const asOf = covered + (over % (lastSeq - covered + 1));
        const state = replay(real.filter((e) => e.seq <= asOf));
        const resync: DeliveryStep = { kind: 'resync', event: snapshotEventFrom(state, real[asOf - 1]?.time ?? first.time) };
        // The resync comes some time after the cut: other events may arrive first.
        const resyncAt = start + (kept.length - start === 0 ? 0 : delay % (kept.length - start + 1));
        steps = [...kept.slice(0, start), { kind: 'disconnect', lost }, ...kept.slice(start, resyncAt), resync, ...kept.slice(resyncAt)];
      }
      for (const { at, bad } of malformed) {
        const i = at % (steps.length + 1);
        steps = [...steps.slice(0, i), { kind: 'malformed', input: bad.input, field: bad.field, reason: bad.reason }, ...steps.slice(i)];
      }
      return { history, steps, expected };
    });
}

/**
 * Feeds a hostile stream's steps to a store as a source should: events and resync snapshots
 * through `store.apply`, malformed inputs too (each must be rejected), cuts doing nothing.
 *
 * @example
 * ```ts
 * const store = new TaskStore();
 * const rejected = applyDelivery(store, steps);
 * rejected.length; // the number of malformed steps
 * ```
 * @param store - The store to fold into.
 * @param steps - From {@link hostileStreamArb}.
 * @returns The errors of the malformed inputs, in order.
 * @throws Error when a malformed input is accepted, or rejected by something other than an
 * `InvalidEventError` naming the step's field (the store is then wrong, not the stream).
 */
export function applyDelivery(store: TaskStore, steps: readonly DeliveryStep[]): InvalidEventError[] {
  const rejected: InvalidEventError[] = [];
  for (const step of steps) {
    switch (step.kind) {
      case 'event':
      case 'resync':
        store.apply(step.event);
        break;
      case 'disconnect':
        break;
      case 'malformed': {
        let error: unknown;
        try {
          store.apply(step.input);
        } catch (caught) {
          error = caught;
        }
        // By name, not `instanceof`: the store may come from another bundle of the package (CommonJS).
        if (!(error instanceof Error) || error.name !== 'InvalidEventError' || (error as InvalidEventError).field !== step.field) {
          throw new Error(
            `applyDelivery(): expected the store to reject a malformed input (${step.reason}) with an InvalidEventError naming \`${step.field}\`, got ${
              error === undefined ? 'no error' : error instanceof Error ? `${error.name}: ${error.message}` : describeValue(error)
            }`,
          );
        }
        rejected.push(error as InvalidEventError);
        break;
      }
    }
  }
  return rejected;
}
