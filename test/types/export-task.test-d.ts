/**
 * Type tests of `ExportTask`, the seed's blocking accessors turned into promises (SPEC section 4).
 * Run by vitest's typecheck mode (`vitest.config.ts`, `test.typecheck`): nothing here executes.
 */
import type { Observable } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import type { ExportClient, ExportTask, ExportTaskSnapshot, FeatureCollection, GetFileOptions, GetResultOptions } from '../../src/index.js';
import { asCompleted } from '../../src/index.js';

declare const task: ExportTask;

describe('ExportTask', () => {
  it('has the seed attributes as promises that settle once final', () => {
    expectTypeOf(task.status).toEqualTypeOf<Promise<'SUCCESS' | 'FAILURE'>>();
    expectTypeOf(task.isSuccess).toEqualTypeOf<Promise<boolean>>();
    expectTypeOf(task.exception).toEqualTypeOf<Promise<string | null>>();
    expectTypeOf(task.exceptionName).toEqualTypeOf<Promise<string | null>>();
    expectTypeOf(task.failureType).toEqualTypeOf<Promise<string | null>>();
    expectTypeOf(task.log).toEqualTypeOf<Promise<string | null>>();
    expectTypeOf(task.stacktrace).toEqualTypeOf<Promise<string | null>>();
    expectTypeOf(task.traceback).toEqualTypeOf<Promise<string | null>>();
    // Units are the backend's: CPU seconds and bytes.
    expectTypeOf(task.runtime).toEqualTypeOf<Promise<number | null>>();
    expectTypeOf(task.peakMemoryUsage).toEqualTypeOf<Promise<number | null>>();
  });

  it('has no result: `result` is never', () => {
    expectTypeOf(task.result).toBeNever();
    expectTypeOf<ExportTask['result']>().toBeNever();
  });

  it('has ids and what never waits as plain values', () => {
    expectTypeOf(task.guid).toEqualTypeOf<string>();
    expectTypeOf(task.tuid).toEqualTypeOf<string>();
    expectTypeOf(task.exportId).toEqualTypeOf<string>();
    expectTypeOf(task.key).toEqualTypeOf<string | undefined>();
    expectTypeOf(task.ready).toEqualTypeOf<boolean>();
    expectTypeOf(task.snapshot).toEqualTypeOf<ExportTaskSnapshot>();
    expectTypeOf(task.state$).toEqualTypeOf<Observable<ExportTaskSnapshot>>();
    expectTypeOf<ExportTask['refresh']>().returns.toEqualTypeOf<Promise<ExportTaskSnapshot>>();
    expectTypeOf<ExportTask['cancel']>().returns.toEqualTypeOf<Promise<void>>();
  });

  it('has read-only attributes', () => {
    // @ts-expect-error - the attributes are getters: assigning one is a mistake, not a cache.
    task.status = Promise.resolve('SUCCESS');
    // @ts-expect-error - ids are read-only.
    task.tuid = 'another';
    // @ts-expect-error - `ready` says what is known; it cannot be set.
    task.ready = true;
  });

  it('takes getResult options by name, with the timeout in ms', () => {
    expectTypeOf<ExportTask['getResult']>().parameters.toEqualTypeOf<[options?: GetResultOptions]>();
    expectTypeOf<ExportTask['getResult']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<GetResultOptions>().toEqualTypeOf<{
      readonly wait?: boolean | undefined;
      readonly timeout?: number | undefined;
      readonly signal?: AbortSignal | undefined;
    }>();
    void task.getResult();
    void task.getResult({ wait: false });
    void task.getResult({ wait: true, timeout: 30_000, signal: AbortSignal.timeout(60_000) });
    void task.getResult({ wait: true, timeout: undefined });
    // @ts-expect-error - unknown option (a misspelt `timeout` would otherwise wait forever).
    void task.getResult({ wait: true, timout: 30_000 });
    // @ts-expect-error - the timeout is a number of ms, not a string with a unit.
    void task.getResult({ wait: true, timeout: '30s' });
    // @ts-expect-error - the timeout is a number of ms, not a Date to wait until.
    void task.getResult({ wait: true, timeout: new Date() });
    // @ts-expect-error - `wait` is a boolean.
    void task.getResult({ wait: 'yes' });
    // @ts-expect-error - `signal` is an AbortSignal, not its controller.
    void task.getResult({ wait: true, signal: new AbortController() });
    // @ts-expect-error - the options are an object, not the timeout itself.
    void task.getResult(30_000);
  });

  it('downloads to a path, a Node stream or a WHATWG stream', () => {
    expectTypeOf<ExportTask['getFile']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<ExportTask['getFile']>().parameter(1).toEqualTypeOf<GetFileOptions | undefined>();
    void task.getFile('roads.ndjson');
    void task.getFile(process.stdout);
    void task.getFile(new WritableStream<Uint8Array>(), { signal: AbortSignal.timeout(1000) });
    // @ts-expect-error - a file descriptor is not a target.
    void task.getFile(1);
    // @ts-expect-error - a stream of strings cannot take the file's bytes.
    void task.getFile(new WritableStream<string>());
    // @ts-expect-error - unknown option.
    void task.getFile('roads.ndjson', { overwrite: true });
  });
});

describe('where tasks come from', () => {
  it('never constructs them by hand: a feature collection makes them', () => {
    expectTypeOf<FeatureCollection['export']>().returns.toEqualTypeOf<Promise<ExportTask>>();
    expectTypeOf<FeatureCollection['listExports']>().returns.toEqualTypeOf<Promise<ExportTask[]>>();
    expectTypeOf<ExportClient['featureCollection']>().returns.toEqualTypeOf<FeatureCollection>();
    expectTypeOf<ExportClient['createFeatureCollection']>().returns.toEqualTypeOf<Promise<FeatureCollection>>();
  });

  it('takes export options by name, limits in ms and MB', () => {
    const fc = {} as FeatureCollection;
    void fc.export('exports/roads.ndjson', {
      query: { query_expr: { eq: { kind: 'highway' } }, query_limit: 10 },
      limits: { timeoutMs: 60_000, memoryMb: 256 },
      idempotencyKey: 'k1',
    });
    // @ts-expect-error - the limit is `timeoutMs`, in ms: a unit-less `timeout` is rejected.
    void fc.export('exports/roads.ndjson', { limits: { timeout: 60 } });
    // @ts-expect-error - memory is a number of MB.
    void fc.export('exports/roads.ndjson', { limits: { memoryMb: '256MB' } });
    // @ts-expect-error - unknown option.
    void fc.export('exports/roads.ndjson', { format: 'csv' });
  });

  it('iterates tasks as they complete', () => {
    const done = asCompleted([task], { timeout: 60_000 });
    expectTypeOf(done).toEqualTypeOf<AsyncIterableIterator<ExportTask>>();
    // @ts-expect-error - unknown option.
    asCompleted([task], { timeoutMs: 60_000 });
    // @ts-expect-error - the timeout is a number of ms.
    asCompleted([task], { timeout: '1m' });
  });
});
