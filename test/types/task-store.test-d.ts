/**
 * Type tests of `TaskStore`, `replay` and the snapshot they answer (SPEC section 4).
 */
import type { Observable, Subscription } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import { replay, TaskStore } from '../../src/index.js';
import type {
  ExportTaskAttributes,
  ExportTaskSnapshot,
  ResyncRequest,
  SettledOptions,
  TaskDiagnostic,
  TaskEvent,
  TaskPhase,
  TaskStoreOptions,
} from '../../src/index.js';

declare const store: TaskStore;
declare const snapshot: ExportTaskSnapshot;

describe('TaskStore', () => {
  it('takes untrusted input in apply and restore, and validated events in applyEvent', () => {
    expectTypeOf<TaskStore['apply']>().parameters.toEqualTypeOf<[input: unknown]>();
    expectTypeOf<TaskStore['apply']>().returns.toEqualTypeOf<ExportTaskSnapshot>();
    expectTypeOf<TaskStore['applyEvent']>().parameters.toEqualTypeOf<[event: TaskEvent]>();
    expectTypeOf<TaskStore['restore']>().parameters.toEqualTypeOf<[input: unknown]>();
    expectTypeOf<TaskStore['restore']>().returns.toEqualTypeOf<ExportTaskSnapshot>();
  });

  it('answers snapshots, undefined for a task it has not seen', () => {
    expectTypeOf<TaskStore['get']>().parameters.toEqualTypeOf<[exportId: string]>();
    expectTypeOf<TaskStore['get']>().returns.toEqualTypeOf<ExportTaskSnapshot | undefined>();
    expectTypeOf<TaskStore['track']>().returns.toEqualTypeOf<ExportTaskSnapshot>();
    expectTypeOf<TaskStore['snapshots']>().returns.toEqualTypeOf<IterableIterator<ExportTaskSnapshot>>();
    expectTypeOf(store.size).toEqualTypeOf<number>();
  });

  it('streams snapshots, events, errors, diagnostics and resync requests', () => {
    expectTypeOf<TaskStore['watch']>().returns.toEqualTypeOf<Observable<ExportTaskSnapshot>>();
    expectTypeOf<TaskStore['appliedEvents']>().returns.toEqualTypeOf<Observable<TaskEvent>>();
    expectTypeOf(store.errors$).toEqualTypeOf<Observable<Error>>();
    expectTypeOf(store.diagnostics$).toEqualTypeOf<Observable<TaskDiagnostic>>();
    expectTypeOf(store.resyncRequests$).toEqualTypeOf<Observable<ResyncRequest>>();
    expectTypeOf(store.changes$).toEqualTypeOf<Observable<ExportTaskSnapshot>>();
    expectTypeOf<TaskStore['connect']>().parameters.toEqualTypeOf<[source: Observable<unknown>]>();
    expectTypeOf<TaskStore['connect']>().returns.toEqualTypeOf<Subscription>();
    expectTypeOf<TaskStore['abandon']>().parameters.toEqualTypeOf<[exportId: string, error: Error]>();
    expectTypeOf<TaskStore['close']>().parameters.toEqualTypeOf<[error?: Error]>();
    expectTypeOf<TaskDiagnostic['kind']>().toEqualTypeOf<'duplicate' | 'stale-snapshot' | 'conflict' | 'after-final' | 'overflow' | 'abandoned'>();
  });

  it('waits with settled(), the timeout in ms', () => {
    expectTypeOf<TaskStore['settled']>().parameters.toEqualTypeOf<[exportId: string, options?: SettledOptions]>();
    expectTypeOf<TaskStore['settled']>().returns.toEqualTypeOf<Promise<ExportTaskSnapshot>>();
    void store.settled('e1', { timeout: 0, signal: AbortSignal.timeout(10), beforeTimeout: () => Promise.resolve() });
    // @ts-expect-error - unknown option.
    void store.settled('e1', { timeoutMs: 10 });
    // @ts-expect-error - the timeout is a number of ms.
    void store.settled('e1', { timeout: '10ms' });
    // @ts-expect-error - the last check returns a promise (it is awaited before giving up).
    void store.settled('e1', { beforeTimeout: 5 });
  });

  it('takes its options by name', () => {
    expectTypeOf<TaskStoreOptions>().toEqualTypeOf<{ readonly maxHeld?: number }>();
    new TaskStore({ maxHeld: 16 });
    // @ts-expect-error - unknown option (the name is `maxHeld`).
    new TaskStore({ maxheld: 16 });
    // @ts-expect-error - `maxHeld` is a count.
    new TaskStore({ maxHeld: '16' });
  });
});

describe('replay', () => {
  it('folds any iterable of wire events, from an optional snapshot', () => {
    expectTypeOf(replay).parameters.toEqualTypeOf<[events: Iterable<unknown>, from?: ExportTaskSnapshot]>();
    expectTypeOf(replay).returns.toEqualTypeOf<ExportTaskSnapshot>();
  });
});

describe('ExportTaskSnapshot', () => {
  it('has the fields of SPEC section 4, in camelCase', () => {
    expectTypeOf(snapshot.productId).toEqualTypeOf<string>();
    expectTypeOf(snapshot.exportId).toEqualTypeOf<string>();
    expectTypeOf(snapshot.phase).toEqualTypeOf<TaskPhase>();
    expectTypeOf(snapshot.seq).toEqualTypeOf<number>();
    expectTypeOf(snapshot.progress).toEqualTypeOf<number>();
    expectTypeOf(snapshot.message).toEqualTypeOf<string | null>();
    expectTypeOf(snapshot.log).toEqualTypeOf<readonly string[]>();
    expectTypeOf(snapshot.cancelRequested).toEqualTypeOf<boolean>();
    expectTypeOf(snapshot.created).toEqualTypeOf<string | null>();
    expectTypeOf(snapshot.attributes).toEqualTypeOf<ExportTaskAttributes | null>();
    expectTypeOf<TaskPhase>().toEqualTypeOf<'pending' | 'running' | 'success' | 'failure'>();
    expectTypeOf<keyof ExportTaskAttributes>().toEqualTypeOf<
      'status' | 'failureType' | 'exceptionName' | 'stacktrace' | 'runtime' | 'peakMemoryUsage' | 'labels' | 'key' | 'sizeBytes' | 'sha256' | 'created'
    >();
  });

  it('is immutable', () => {
    // @ts-expect-error - a snapshot is a value: the phase moves only by events.
    snapshot.phase = 'running';
    // @ts-expect-error - the log is a read-only array.
    snapshot.log[0] = 'line';
    // @ts-expect-error - attributes are read-only too.
    snapshot.attributes!.runtime = 1;
  });

  it('is JSON-serialisable: no functions, dates or undefined', () => {
    type IsJson<T> = T extends string | number | boolean | null
      ? true
      : T extends readonly (infer TItem)[]
        ? IsJson<TItem>
        : T extends (...args: never[]) => unknown
          ? false
          : T extends object
            ? { [K in keyof T]-?: IsJson<T[K]> }[keyof T] extends true
              ? true
              : false
            : false;
    expectTypeOf<IsJson<ExportTaskSnapshot>>().toEqualTypeOf<true>();
    expectTypeOf<IsJson<{ at: Date }>>().toEqualTypeOf<false>();
    expectTypeOf<IsJson<{ maybe: string | undefined }>>().toEqualTypeOf<false>();
  });
});
