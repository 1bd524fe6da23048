/**
 * Type tests of `createClient`'s options (SPEC section 4): known keys only, times in ms.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { createClient, createEmbeddedBackend, TaskStore } from '../../src/index.node.js';
import type { ClientOptions, ExportBackend, ExportClient, OutgoingRequest } from '../../src/index.node.js';

describe('createClient', () => {
  it('answers a client, with or without options', () => {
    expectTypeOf(createClient).parameters.toEqualTypeOf<[options?: ClientOptions]>();
    expectTypeOf(createClient()).toEqualTypeOf<ExportClient>();
    expectTypeOf<ExportClient['store']>().toEqualTypeOf<TaskStore>();
    expectTypeOf<ExportClient['backend']>().toEqualTypeOf<ExportBackend>();
    expectTypeOf<ExportClient['close']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<ExportClient>().toExtend<AsyncDisposable>();
  });

  it('takes the documented options', () => {
    createClient({ url: 'http://127.0.0.1:8080', token: 't' });
    createClient({ vectorUrl: 'http://127.0.0.1:8080/vector/v2', storageUrl: 'http://127.0.0.1:8080/storage/v1', fetch: globalThis.fetch });
    createClient({ url: 'http://127.0.0.1:8080', transport: 'poll', pollInterval: 500, maxPollInterval: 10_000, waitTimeout: 60_000 });
    createClient({ embedded: { dataDir: '/tmp/exports', jobTimeoutMs: 60_000, jobMemoryMb: 512 } });
    createClient({ backend: createEmbeddedBackend(), store: new TaskStore(), inspect: (event) => void event.type });
    createClient({
      url: 'http://127.0.0.1:8080',
      requestTimeout: 10_000,
      retry: { budgetMs: 20_000, maxDelayMs: 2_000 },
      reconnect: { delayMs: 100, maxDelayMs: 5_000 },
      stallTimeout: 30_000,
      headers: { 'x-team': 'roads' },
      onRequest: (request: OutgoingRequest) => {
        request.headers['x-request-id'] = `${request.method} ${request.url}`;
      },
    });
  });

  it('rejects HTTP options of the wrong shape', () => {
    // @ts-expect-error - the retry budget is `budgetMs`, a number of ms.
    createClient({ url: 'http://127.0.0.1:8080', retry: { budget: 1000 } });
    // @ts-expect-error - header values are strings.
    createClient({ url: 'http://127.0.0.1:8080', headers: { 'x-n': 1 } });
    // @ts-expect-error - `requestTimeout` is a number of ms.
    createClient({ url: 'http://127.0.0.1:8080', requestTimeout: '30s' });
  });

  it('rejects unknown options and wrong types', () => {
    // @ts-expect-error - unknown option: the accessors' default wait is `waitTimeout`.
    createClient({ timeout: 1000 });
    // @ts-expect-error - the transport is 'sse' or 'poll'.
    createClient({ url: 'http://127.0.0.1:8080', transport: 'websocket' });
    // @ts-expect-error - intervals are numbers of ms, not strings with a unit.
    createClient({ url: 'http://127.0.0.1:8080', pollInterval: '1s' });
    // @ts-expect-error - the URL is a string (a URL object is not accepted).
    createClient({ url: new URL('http://127.0.0.1:8080') });
    // @ts-expect-error - unknown option of the embedded service: its limit is `jobTimeoutMs`, in ms.
    createClient({ embedded: { jobTimeout: 60 } });
    // @ts-expect-error - the embedded service's memory limit is a number of MB.
    createClient({ embedded: { jobMemoryMb: '512MB' } });
    // @ts-expect-error - `store` is a TaskStore, not a Map of snapshots.
    createClient({ store: new Map() });
  });
});
