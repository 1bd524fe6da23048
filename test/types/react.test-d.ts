/**
 * Type tests of `export-task/react`: the hooks answer the types of what they are given.
 * Run by vitest's typecheck mode (`vitest.config.ts`, `test.typecheck`): nothing here executes.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { ExportClient, ExportTask, ExportTaskSnapshot, FeatureCollection, TaskPhase } from '../../src/index.js';
import { shallowEqual, useExportTask, useExports, useStartExport, useTaskActor, useTaskStore, type StartExport } from '../../src/react/index.js';

declare const task: ExportTask;
declare const maybeTask: ExportTask | undefined;
declare const client: ExportClient;
declare const roads: FeatureCollection;

describe('useExportTask', () => {
  it('answers a snapshot for a task, and maybe one for maybe a task', () => {
    expectTypeOf(useExportTask(task)).toEqualTypeOf<ExportTaskSnapshot>();
    expectTypeOf(useExportTask(maybeTask)).toEqualTypeOf<ExportTaskSnapshot | undefined>();
    expectTypeOf(useExportTask(null)).toEqualTypeOf<ExportTaskSnapshot | undefined>();
    // @ts-expect-error - a snapshot is not a task: it has no `state$` to follow
    useExportTask(task.snapshot);
  });
});

describe('useTaskStore', () => {
  it('answers what the selector selects, from the store given', () => {
    expectTypeOf(useTaskStore(client.store, (store) => store.get('e1')?.phase)).toEqualTypeOf<TaskPhase | undefined>();
    const ids = useTaskStore(client.store, (store) => [...store.snapshots()].map((s) => s.exportId), shallowEqual);
    expectTypeOf(ids).toEqualTypeOf<string[]>();
    // @ts-expect-error - isEqual compares two selections of the selector's type
    useTaskStore(client.store, (store) => store.size, (a: string, b: string) => a === b);
    // @ts-expect-error - a store has `changes$`; a client is not one
    useTaskStore(client, () => 1);
  });
});

describe('useStartExport', () => {
  it('answers the task type of the collection, with start taking the arguments of export()', () => {
    const started = useStartExport(roads, { cancelOnUnmount: true });
    expectTypeOf(started).toEqualTypeOf<StartExport<ExportTask>>();
    expectTypeOf(started.task).toEqualTypeOf<ExportTask | undefined>();
    expectTypeOf(started.snapshot).toEqualTypeOf<ExportTaskSnapshot | undefined>();
    expectTypeOf(started.data).toEqualTypeOf<ExportTask | undefined>();
    expectTypeOf(started.error).toEqualTypeOf<Error | null>();
    expectTypeOf(started.status).toEqualTypeOf<'idle' | 'pending' | 'success' | 'error'>();
    expectTypeOf(started.start).toBeCallableWith('exports/a.ndjson', { query: { query_expr: { eq: { kind: 'highway' } } } });
    // Like useMutation: `start` (mutate) returns nothing, `startAsync` (mutateAsync) the task.
    expectTypeOf(started.start('exports/a.ndjson')).toEqualTypeOf<void>();
    expectTypeOf(started.startAsync('exports/a.ndjson')).toEqualTypeOf<Promise<ExportTask>>();
    useStartExport(roads, {
      onSuccess: (task, variables) => {
        expectTypeOf(task).toEqualTypeOf<ExportTask>();
        expectTypeOf(variables.key).toEqualTypeOf<string>();
      },
      onSettled: (task, error) => {
        expectTypeOf(task).toEqualTypeOf<ExportTask | undefined>();
        expectTypeOf(error).toEqualTypeOf<Error | null>();
      },
    });
    // @ts-expect-error - an unknown option
    useStartExport(roads, { cancelOnUmount: true });
  });
});

describe('useTaskActor', () => {
  it("answers the task's own actor type", () => {
    const actor = useTaskActor(task);
    expectTypeOf(actor).toEqualTypeOf<ReturnType<ExportTask['actor']>>();
    // @ts-expect-error - a snapshot has no actor()
    useTaskActor(task.snapshot);
  });
});

describe('useExports', () => {
  it("answers the collection's task type", () => {
    const listed = useExports(roads, { store: client.store });
    expectTypeOf(listed.data).toEqualTypeOf<readonly ExportTask[] | undefined>();
    expectTypeOf(listed.inFlight).toEqualTypeOf<readonly ExportTaskSnapshot[]>();
    // @ts-expect-error - an unknown option
    useExports(roads, { refetchInterval: 1000 });
  });
});
