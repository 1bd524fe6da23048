/**
 * Type tests of the statechart as users type their own actors with it.
 */
import { createActor, type SnapshotFrom } from 'xstate';
import { describe, expectTypeOf, it } from 'vitest';
import { exportTaskMachine } from '../../src/index.js';
import type { ExportTaskContext, ExportTaskInput, ExportTaskMachine, TaskEvent, TaskPhase } from '../../src/index.js';

describe('exportTaskMachine', () => {
  it('is typed by ExportTaskMachine', () => {
    expectTypeOf(exportTaskMachine).toEqualTypeOf<ExportTaskMachine>();
  });

  it('has the four phases as state values and the task context', () => {
    type Snapshot = SnapshotFrom<ExportTaskMachine>;
    expectTypeOf<Snapshot['value']>().toEqualTypeOf<TaskPhase>();
    expectTypeOf<Snapshot['context']>().toEqualTypeOf<ExportTaskContext>();
  });

  it('takes the task ids as input and the wire events', () => {
    const actor = createActor(exportTaskMachine, { input: { productId: 'roads', exportId: 'e1' } });
    expectTypeOf<Parameters<typeof actor.send>[0]>().toEqualTypeOf<TaskEvent>();
    expectTypeOf<ExportTaskInput>().toEqualTypeOf<{ readonly productId: string; readonly exportId: string }>();
    // @ts-expect-error - the input names the product and the export.
    createActor(exportTaskMachine, { input: { exportId: 'e1' } });
    // @ts-expect-error - not one of the backend's events.
    actor.send({ type: 'finished' });
  });
});
