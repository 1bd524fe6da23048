/**
 * The testing kit's options typed `?: T | undefined` mean it: an option given as `undefined`
 * draws exactly what an absent one does (the same values for the same seed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  hostileDeliveryArb,
  hostileStreamArb,
  malformedEventArb,
  multiTaskStreamArb,
  taskEventArb,
  taskHistoryArb,
  taskPaths,
} from '../../src/testing/index.js';

const drawn = <T>(arb: fc.Arbitrary<T>): T[] => fc.sample(arb, { seed: 20260101, numRuns: 20 });

describe('testing kit options given as undefined', () => {
  it('draw what absent options draw', () => {
    const history = drawn(taskHistoryArb())[0]!;
    expect(
      drawn(
        taskHistoryArb({
          productId: undefined,
          exportId: undefined,
          maxEvents: undefined,
          fractions: undefined,
          order: undefined,
          terminal: undefined,
          outcome: undefined,
          failureTypes: undefined,
          maxSnapshots: undefined,
        }),
      ),
    ).toEqual(drawn(taskHistoryArb({})));
    expect(drawn(taskEventArb({ productId: undefined, exportId: undefined, seq: undefined, types: undefined }))).toEqual(drawn(taskEventArb({})));
    expect(drawn(hostileDeliveryArb(history, { maxDuplicates: undefined, drop: undefined }))).toEqual(drawn(hostileDeliveryArb(history, {})));
    expect(drawn(multiTaskStreamArb({ minTasks: undefined, maxTasks: undefined, history: undefined, hostile: undefined }))).toEqual(drawn(multiTaskStreamArb({})));
    expect(drawn(malformedEventArb({ productId: undefined, exportId: undefined, huge: undefined }))).toEqual(drawn(malformedEventArb({})));
    expect(drawn(hostileStreamArb(history, { maxDuplicates: undefined, maxDisconnects: undefined, maxMalformed: undefined }))).toEqual(
      drawn(hostileStreamArb(history, {})),
    );
    expect(taskPaths({ productId: undefined, exportId: undefined })).toEqual(taskPaths({}));
  });
});
