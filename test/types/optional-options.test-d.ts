/**
 * Every optional option of the package's public option bags takes `undefined` under
 * `exactOptionalPropertyTypes` (`?: T | undefined`), as an absent one: an app can pass
 * `{ timeout: maybeTimeout }` without spreading conditionally. Nested bags (`retry`,
 * `embedded`, `cors`, ...) are checked too. A failing check's type is the union of the paths of
 * the options that refuse it (`'retry.budgetMs'`).
 */
import { describe, expectTypeOf, it } from 'vitest';
import type {
  AsCompletedOptions,
  ClientOptions,
  EmbeddedBackendOptions,
  EventsOptions,
  ExportOptions,
  ExportRequest,
  GetFileOptions,
  GetResultOptions,
  SettledOptions,
  SignalOptions,
  TaskActorOptions,
  TaskStoreOptions,
} from '../../src/index.js';
import type { createEmbeddedBackend } from '../../src/embedded/index.js';
import type { AccessTokenOptions, CorsOptions, LoggerOptions, ServerOptions, WorkerOptions } from '../../src/server/index.js';
import type { StartExportOptions, UseExportsOptions } from '../../src/react/index.js';
import type { BullmqSourceOptions } from '../../src/bullmq/index.js';
import type {
  HostileDeliveryOptions,
  HostileStreamOptions,
  JobScriptOptions,
  LifecycleCommandsOptions,
  LifecycleModel,
  LifecycleReal,
  MalformedEventOptions,
  MultiTaskStreamOptions,
  OnExportOptions,
  ReconnectOptions,
  ReplayTestContext,
  ScheduledBackendOptions,
  SimulatedJob,
  TaskEventArbOptions,
  TaskHistoryOptions,
  TaskPathOptions,
  TestBackendOptions,
} from '../../src/testing/index.js';
import type { QueryExpr } from '../../src/client/geojson.js';

/** The optional keys of `T`. */
type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/** Whether `T` is a bag of options to look into: an object that is not a function, an array or a signal. */
type IsBag<T> = T extends (...args: never[]) => unknown ? false : T extends readonly unknown[] ? false : T extends AbortSignal ? false : T extends object ? true : false;

/**
 * The paths (`retry.budgetMs`) of the optional options of `T`, and of the bags nested in it,
 * that do not take `undefined`; `never` when all do.
 */
type RefusesUndefined<T, Path extends string = '', Depth extends unknown[] = []> = Depth['length'] extends 4
  ? never
  : {
      [K in keyof T & string]-?:
        | (K extends OptionalKeys<T> ? ({ [Q in K]: undefined } extends Pick<T, K> ? never : `${Path}${K}`) : never)
        | (IsBag<NonNullable<T[K]>> extends true ? RefusesUndefined<NonNullable<T[K]>, `${Path}${K}.`, [...Depth, unknown]> : never);
    }[keyof T & string];

/** The same for each member of a union (a query expression is one of several shapes). */
type RefusesUndefinedInUnion<T> = T extends unknown ? RefusesUndefined<T> : never;

describe('optional options take undefined (exactOptionalPropertyTypes)', () => {
  it('the client: createClient, the store, tasks, feature collections', () => {
    expectTypeOf<RefusesUndefined<ClientOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<EmbeddedBackendOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<NonNullable<Parameters<typeof createEmbeddedBackend>[0]>>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<TaskStoreOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<SettledOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<GetResultOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<GetFileOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<SignalOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<ExportOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<ExportRequest>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<EventsOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<AsCompletedOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<TaskActorOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefinedInUnion<QueryExpr>>().toEqualTypeOf<never>();
  });

  it('the server, the worker and the BullMQ source', () => {
    expectTypeOf<RefusesUndefined<ServerOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<WorkerOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<LoggerOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<CorsOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<AccessTokenOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<BullmqSourceOptions>>().toEqualTypeOf<never>();
  });

  it('the React hooks', () => {
    expectTypeOf<RefusesUndefined<StartExportOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<UseExportsOptions>>().toEqualTypeOf<never>();
  });

  it('the testing kit', () => {
    expectTypeOf<RefusesUndefined<TestBackendOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<ScheduledBackendOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<ReconnectOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<OnExportOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<TaskEventArbOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<TaskHistoryOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<HostileDeliveryOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<HostileStreamOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<MultiTaskStreamOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<MalformedEventOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<JobScriptOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<TaskPathOptions>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<LifecycleCommandsOptions<LifecycleModel, LifecycleReal>>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<ReplayTestContext>>().toEqualTypeOf<never>();
    expectTypeOf<RefusesUndefined<Parameters<SimulatedJob['fail']>[1] & object>>().toEqualTypeOf<never>();
  });

  it('the check itself finds an option that refuses undefined, nested or not', () => {
    interface Strict {
      readonly a?: number;
      readonly b?: number | undefined;
      readonly nested?: { readonly c?: string; readonly d?: string | undefined } | undefined;
      readonly required: { readonly e?: boolean };
    }
    expectTypeOf<RefusesUndefined<Strict>>().toEqualTypeOf<'a' | 'nested.c' | 'required.e'>();
  });

  it('passing undefined for each compiles', () => {
    // What the checks above say, written out for the bags most used.
    const client: ClientOptions = {
      url: undefined,
      token: undefined,
      tokenTimeout: undefined,
      requestTimeout: undefined,
      retry: { budgetMs: undefined, maxDelayMs: undefined },
      reconnect: { delayMs: undefined, maxDelayMs: undefined },
      stallTimeout: undefined,
      transport: undefined,
      pollInterval: undefined,
      maxPollInterval: undefined,
      waitTimeout: undefined,
      clock: undefined,
      store: undefined,
    };
    const result: GetResultOptions = { wait: undefined, timeout: undefined, signal: undefined };
    const test: TestBackendOptions = { clock: undefined };
    expectTypeOf(client).toExtend<ClientOptions>();
    expectTypeOf(result).toExtend<GetResultOptions>();
    expectTypeOf(test).toExtend<TestBackendOptions>();
  });
});
