/**
 * Type tests of `export-task/testing` and of inspection: what the kit's values are, and that its
 * backends plug into `createClient({ backend })`.
 */
import type { Arbitrary, Scheduler } from 'fast-check';
import type { InspectionEvent, Observer } from 'xstate';
import { describe, expectTypeOf, it } from 'vitest';
import { createClient, inspectStore, TaskStore } from '../../src/index.js';
import type { ExportBackend, ExportTaskSnapshot, InspectionSubscription, TaskEvent } from '../../src/index.js';
import {
  createScheduledBackend,
  createTestBackend,
  forEachTaskPath,
  hostileStreamArb,
  taskHistoryArb,
  taskPaths,
  type DeliveryStep,
  type HostileStream,
  type ScheduledBackend,
  type TaskPath,
} from '../../src/testing/index.js';

declare const s: Scheduler;

describe('export-task/testing', () => {
  it('gives arbitraries of histories and of hostile streams with what they must fold to', () => {
    expectTypeOf(taskHistoryArb({ outcome: ['success', 'cancelled'] })).toEqualTypeOf<Arbitrary<TaskEvent[]>>();
    expectTypeOf(hostileStreamArb([])).toEqualTypeOf<Arbitrary<HostileStream>>();
    expectTypeOf<HostileStream['expected']>().toEqualTypeOf<ExportTaskSnapshot>();
    expectTypeOf<DeliveryStep['kind']>().toEqualTypeOf<'event' | 'malformed' | 'disconnect' | 'resync'>();
    // @ts-expect-error - an outcome is one of 'success', 'failure', 'cancelled', 'unfinished'.
    taskHistoryArb({ outcome: 'done' });
  });

  it('gives backends that createClient takes', () => {
    expectTypeOf(createTestBackend()).toExtend<ExportBackend>();
    expectTypeOf(createScheduledBackend(s)).toEqualTypeOf<ScheduledBackend>();
    createClient({ backend: createScheduledBackend(s, { reorder: false, scheduleRequests: ['status'] }) });
    // @ts-expect-error - `events` is a stream, not a request whose answer is scheduled.
    createScheduledBackend(s, { scheduleRequests: ['events'] });
  });

  it('gives the machine\'s paths as events and snapshots, and runs assertions on each', () => {
    expectTypeOf(taskPaths()).toEqualTypeOf<TaskPath[]>();
    expectTypeOf<TaskPath['steps'][number]>().toEqualTypeOf<{ readonly event: TaskEvent; readonly snapshot: ExportTaskSnapshot }>();
    expectTypeOf(forEachTaskPath(async () => {})).toEqualTypeOf<Promise<number>>();
    // @ts-expect-error - coverage is 'transitions', 'states' or 'simple'.
    taskPaths({ coverage: 'everything' });
  });
});

describe('inspection', () => {
  it('takes a function or an observer of InspectionEvent, as createActor does', () => {
    createClient({ inspect: (event: InspectionEvent) => void event.type });
    createClient({ inspect: { next: (event: InspectionEvent) => void event.type } satisfies Observer<InspectionEvent> });
    expectTypeOf(inspectStore(new TaskStore(), () => undefined)).toEqualTypeOf<InspectionSubscription>();
    // @ts-expect-error - an inspector receives events; a string is not one.
    createClient({ inspect: 'console' });
  });
});
