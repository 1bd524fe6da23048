import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../src/core/events.js';
import { replay } from '../../src/core/replay.js';
import { TaskStore } from '../../src/core/task-store.js';
import { applyDelivery, hostileStreamArb, taskHistoryArb, type DeliveryStep, type HostileStream } from '../../src/testing/index.js';

const streamArb = taskHistoryArb().chain((history) => hostileStreamArb(history));
const sample = (arb: fc.Arbitrary<HostileStream>): HostileStream[] => fc.sample(arb, { numRuns: 300, seed: 11 });
const events = (steps: readonly DeliveryStep[]): TaskEvent[] => steps.flatMap((s) => (s.kind === 'event' ? [s.event] : []));

describe('hostileStreamArb', () => {
  it('ends, through a TaskStore, at the in-order snapshot of the history, rejecting every malformed input', () => {
    fc.assert(
      fc.property(streamArb, ({ history, steps, expected }) => {
        expect(expected).toEqual(replay(history));
        const store = new TaskStore();
        const rejected = applyDelivery(store, steps);
        expect(store.get(expected.exportId)).toEqual(expected);
        expect(rejected).toHaveLength(steps.filter((s) => s.kind === 'malformed').length);
      }),
    );
  });

  it('ends at the same snapshot with a store that can hold only one early event (and asks to resync)', () => {
    fc.assert(
      fc.property(streamArb, ({ steps, expected }) => {
        const store = new TaskStore({ maxHeld: 1 });
        const asked: number[] = [];
        const sub = store.resyncRequests$.subscribe((r) => asked.push(r.seq));
        applyDelivery(store, steps);
        // What overflowed is made good by a truthful snapshot, as a source answers a resync.
        if (store.get(expected.exportId)!.seq < expected.seq) {
          // Short of the end only when something overflowed, and then the store asked to resync.
          expect(asked.length).toBeGreaterThan(0);
          store.apply(stepsSnapshot(expected));
        }
        sub.unsubscribe();
        expect(store.get(expected.exportId)).toEqual(expected);
      }),
    );
  });

  it('produces every kind of hostility: duplicates, reordering, cuts that lose events, resyncs, malformed inputs', () => {
    const streams = sample(streamArb);
    const count = (p: (s: HostileStream) => boolean): number => streams.filter(p).length;
    expect(count((s) => new Set(events(s.steps).map((e) => `${e.type}${e.seq}`)).size < events(s.steps).length)).toBeGreaterThan(10);
    expect(count((s) => events(s.steps).some((e, i, all) => i > 0 && e.seq < all[i - 1]!.seq))).toBeGreaterThan(10);
    expect(count((s) => s.steps.some((x) => x.kind === 'disconnect' && x.lost.length > 0))).toBeGreaterThan(10);
    expect(count((s) => s.steps.some((x) => x.kind === 'resync'))).toBeGreaterThan(10);
    expect(count((s) => s.steps.some((x) => x.kind === 'malformed'))).toBeGreaterThan(10);
  });

  it('really loses events in its cuts: without the resyncs some deliveries end short of the history', () => {
    const short = sample(streamArb).filter(({ steps, expected }) => {
      const store = new TaskStore();
      applyDelivery(store, steps.filter((s) => s.kind !== 'resync'));
      return (store.get(expected.exportId)?.seq ?? 0) < expected.seq;
    });
    expect(short.length).toBeGreaterThan(10);
  });

  it('follows its options: no cuts and no malformed inputs when their maxima are 0', () => {
    const streams = sample(taskHistoryArb().chain((h) => hostileStreamArb(h, { maxDisconnects: 0, maxMalformed: 0, maxDuplicates: 0 })));
    for (const { steps, history } of streams) {
      expect(steps.every((s) => s.kind === 'event')).toBe(true);
      expect(new Set(events(steps)).size).toBe(events(steps).length);
      expect(events(steps).length).toBeLessThanOrEqual(history.length);
    }
  });

  it('throws a TypeError for an empty history or a bad option', () => {
    expect(() => hostileStreamArb([])).toThrow(new TypeError('hostileStreamArb(): expected a history of at least one event, got []'));
    const [history] = fc.sample(taskHistoryArb(), { numRuns: 1, seed: 1 });
    expect(() => hostileStreamArb(history!, { maxDisconnects: -1 })).toThrow(
      new TypeError('hostileStreamArb(): expected `maxDisconnects` to be a non-negative integer, got -1'),
    );
  });
});

describe('applyDelivery', () => {
  it('fails loudly when a "malformed" input is accepted: the store, not the stream, would be wrong', () => {
    const valid = { type: 'queued', product_id: 'roads', export_id: 'e1', seq: 1, time: '2026-01-01T00:00:00.000Z' };
    expect(() => applyDelivery(new TaskStore(), [{ kind: 'malformed', input: valid, field: 'seq', reason: 'not really' }])).toThrow(
      'applyDelivery(): expected the store to reject a malformed input (not really) with an InvalidEventError naming `seq`, got no error',
    );
  });

  it('fails when the rejection names another field than the step says', () => {
    const bad = { type: 'queued', product_id: 'roads', export_id: 'e1', seq: 0, time: '2026-01-01T00:00:00.000Z' };
    expect(() => applyDelivery(new TaskStore(), [{ kind: 'malformed', input: bad, field: 'time', reason: 'wrong field' }])).toThrow(
      /naming `time`, got InvalidEventError/,
    );
  });
});

function stepsSnapshot(expected: HostileStream['expected']): TaskEvent {
  return {
    type: 'snapshot',
    product_id: expected.productId,
    export_id: expected.exportId,
    seq: expected.seq,
    time: '2026-01-01T00:00:00.000Z',
    phase: expected.phase,
    progress: expected.progress,
    log: [...expected.log],
    message: expected.message,
    cancel_requested: expected.cancelRequested,
    attributes:
      expected.attributes === null
        ? null
        : {
            created: expected.attributes.created,
            status: expected.attributes.status,
            failure_type: expected.attributes.failureType,
            exception_name: expected.attributes.exceptionName,
            stacktrace: expected.attributes.stacktrace,
            peak_memory_usage: expected.attributes.peakMemoryUsage,
            runtime: expected.attributes.runtime,
            labels: expected.attributes.labels,
            key: expected.attributes.key,
            size_bytes: expected.attributes.sizeBytes,
            sha256: expected.attributes.sha256,
          },
    ...(expected.created === null ? {} : { created: expected.created }),
  };
}
