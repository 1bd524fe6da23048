import { describeValue } from '../core/errors.js';
import type { TaskInspector } from '../core/inspect-store.js';
import { TaskStore } from '../core/task-store.js';
import { checkClock, systemClock, type Clock } from '../core/clock.js';
import { checkMilliseconds, checkNonEmptyString, checkOptionBag, checkPositiveMilliseconds } from '../internal/options.js';
import type { ExportBackend } from './backend.js';
import { ClientRuntime } from './client-runtime.js';
import type { ByteSink } from './download.js';
import type { EmbeddedBackendOptions } from './embedded-options.js';
import { FeatureCollection } from './feature-collection.js';
import type { AccessToken } from './http/access-token.js';
import { createHttpBackend } from './http/http-backend.js';
import type { OutgoingRequest } from './http/http-request.js';

/**
 * Options of {@link createClient}.
 *
 * @example
 * ```ts
 * const options: ClientOptions = {
 *   url: 'http://127.0.0.1:8080',
 *   token: process.env['EXPORT_TASK_TOKEN'],
 *   transport: 'sse',
 *   waitTimeout: 10 * 60_000,
 * };
 * const client = createClient(options);
 * ```
 */
export interface ClientOptions {
  /**
   * The export service's base URL: the Vector API is under `/vector/v2` and Storage under
   * `/storage/v1` (override each with `vectorUrl` / `storageUrl`). Without it, the client
   * runs the embedded service.
   */
  readonly url?: string | undefined;
  /**
   * Sent as `Authorization: Bearer <token>`; it never appears in an error, a log or a snapshot.
   * A string, or a function answering one, for short-lived tokens: the client asks it again
   * before a JWT's expiry and once on a 401 (see {@link AccessToken}).
   */
  readonly token?: AccessToken | undefined;
  /**
   * How long a request waits for a `token` function's answer, in ms, before it fails with
   * `TimeoutError` (a token endpoint that does not answer must not hold every request).
   * @defaultValue 30000
   */
  readonly tokenTimeout?: number | undefined;
  /**
   * Where the Vector API is, when not under `url` (a DL deployment, a proxy).
   * @defaultValue `${url}/vector/v2`
   */
  readonly vectorUrl?: string | undefined;
  /**
   * Where the Storage API is, when not under `url`.
   * @defaultValue `${url}/storage/v1`
   */
  readonly storageUrl?: string | undefined;
  /** The fetch to use (for proxies, custom agents or tests). @defaultValue `globalThis.fetch` */
  readonly fetch?: typeof fetch | undefined;
  /** Headers sent with every request over HTTP (the protocol's own, and Authorization, win). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /**
   * Called before each attempt of each HTTP request with its method, URL and headers (a
   * plain object it may change, to add a tracing header say); the Authorization header is
   * added after it, so it never sees the token.
   */
  readonly onRequest?: ((request: OutgoingRequest) => void) | undefined;
  /**
   * How long one attempt of an HTTP request may wait for the response's headers, and then for
   * each next byte of its body, in ms; past it the attempt fails with `RequestTimeoutError` (and
   * an idempotent request is retried within `retry.budgetMs`). It bounds silence, not length: a
   * download that keeps sending is never cut. Event streams use `stallTimeout` instead.
   * @defaultValue 30000
   */
  readonly requestTimeout?: number | undefined;
  /**
   * Retries of idempotent HTTP requests on 5xx, 429, timeouts and network errors: how long one
   * request keeps retrying (`budgetMs`), and the longest backoff between two attempts
   * (`maxDelayMs`; a longer `Retry-After` is obeyed).
   * @defaultValue `{ budgetMs: 30000, maxDelayMs: 5000 }`
   */
  readonly retry?: { readonly budgetMs?: number | undefined; readonly maxDelayMs?: number | undefined } | undefined;
  /**
   * Reconnection of a cut event stream: the first delay (`delayMs`), doubled with jitter up to
   * `maxDelayMs`; it starts again after a connection that delivered events. A server's `retry:`
   * field replaces the first delay.
   * @defaultValue `{ delayMs: 250, maxDelayMs: 10000 }`
   */
  readonly reconnect?: { readonly delayMs?: number | undefined; readonly maxDelayMs?: number | undefined } | undefined;
  /**
   * How long an event stream may send nothing, not even a heartbeat, before the client takes it
   * for dead, drops it and resumes by cursor (polling meanwhile), in ms.
   * @defaultValue 3 times the stream's `X-Heartbeat-Interval` header (45000 without one)
   */
  readonly stallTimeout?: number | undefined;
  /**
   * `'sse'`: one Server-Sent Events stream per product, falling back to polling where the
   * server has no events route (a DL server); `'poll'`: polling only.
   * @defaultValue 'sse'
   */
  readonly transport?: 'sse' | 'poll' | undefined;
  /** First (and shortest) delay between polls, ms. @defaultValue 1000 */
  readonly pollInterval?: number | undefined;
  /** Longest delay between polls, ms. @defaultValue 30000 */
  readonly maxPollInterval?: number | undefined;
  /** Options of the embedded service, used when no other backend is given (Node only). */
  readonly embedded?: EmbeddedBackendOptions | undefined;
  /**
   * A backend of your own (for example one made by `createEmbeddedBackend()` and shared by
   * several clients). It stays yours: `client.close()` does not close it.
   */
  readonly backend?: ExportBackend | undefined;
  /**
   * How long the attribute promises (`status`, `runtime`, ...) and `getResult({ wait: true })`
   * wait by default, in ms; they reject with `TimeoutError` past it.
   * @defaultValue undefined (no limit, as the DL client)
   */
  readonly waitTimeout?: number | undefined;
  /**
   * Receives XState inspection events of every task of the client's store, as an actor of
   * `exportTaskMachine` fed the task's events would emit them (`@xstate.actor`, then
   * `@xstate.event`, `@xstate.microstep` and `@xstate.snapshot` per applied event): a function,
   * or an observer such as `createBrowserInspector().inspect` from `@statelyai/inspect`.
   * See `inspectStore`. Nothing is inspected, and nothing is paid, without it.
   * @defaultValue undefined
   */
  readonly inspect?: TaskInspector | undefined;
  /**
   * The store tasks fold into (a new one by default). `client.close()` closes it (its pending
   * waits reject with `ClientClosedError`), so give each client a store of its own.
   */
  readonly store?: TaskStore | undefined;
  /**
   * Where the client reads the time and arms every timer it has: its store's waits
   * (`waitTimeout`, `getResult({ timeout })`), the polls, and over HTTP the request and body
   * timeouts (`requestTimeout`), the retry budget and backoff, the stall of an event stream
   * (`stallTimeout`), its reconnect delays and the wait for a `token` function. A simulated
   * clock such as `ManualClock` from `export-task/testing` makes them all testable without
   * global fake timers. With your own `store`, give the clock to it instead
   * (`new TaskStore({ clock })`): the client then uses the store's clock.
   * @defaultValue the system clock (the store's, with your own `store`)
   */
  readonly clock?: Clock | undefined;
}

/**
 * A client of the export service: creates and opens feature collections, and owns their tasks.
 *
 * @example
 * ```ts
 * await using client: ExportClient = createClient({ url: 'http://127.0.0.1:8080' });
 * const roads = client.featureCollection('roads');
 * console.log((await roads.listExports()).length);
 * // closed at the end of the block: no stream, timer or job left behind
 * ```
 */
export interface ExportClient extends AsyncDisposable {
  /** The store every task of this client folds into. */
  readonly store: TaskStore;
  /** The backend the client talks to. */
  readonly backend: ExportBackend;
  /** Creates a new, empty product. */
  createFeatureCollection(id: string, options?: { readonly title?: string | undefined }): Promise<FeatureCollection>;
  /** An existing product (no request). */
  featureCollection(id: string): FeatureCollection;
  /** Stops every subscription, timer and job the client started (and the backend, when the client made it). */
  close(): Promise<void>;
}

const CLIENT_OPTIONS = [
  'url',
  'token',
  'tokenTimeout',
  'vectorUrl',
  'storageUrl',
  'fetch',
  'headers',
  'onRequest',
  'requestTimeout',
  'retry',
  'reconnect',
  'stallTimeout',
  'transport',
  'pollInterval',
  'maxPollInterval',
  'embedded',
  'backend',
  'waitTimeout',
  'inspect',
  'store',
  'clock',
] as const;

function checkUrl(where: string, name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(typeof value === 'string' ? value : '');
  } catch {
    throw new TypeError(`${where}: expected \`${name}\` to be an absolute http(s) URL such as "http://127.0.0.1:8080", got ${JSON.stringify(value)}`);
  }
  if (typeof value !== 'string' || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`${where}: expected \`${name}\` to be an absolute http(s) URL such as "http://127.0.0.1:8080", got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, '');
}

function httpBackendFrom(where: string, options: ClientOptions, clock: Clock): ExportBackend | undefined {
  const url = checkUrl(where, 'url', options.url);
  const vectorUrl = checkUrl(where, 'vectorUrl', options.vectorUrl) ?? (url === undefined ? undefined : `${url}/vector/v2`);
  const storageUrl = checkUrl(where, 'storageUrl', options.storageUrl) ?? (url === undefined ? undefined : `${url}/storage/v1`);
  if (vectorUrl === undefined && storageUrl === undefined) {
    for (const name of ['token', 'tokenTimeout', 'fetch', 'headers', 'onRequest', 'requestTimeout', 'retry', 'reconnect', 'stallTimeout'] as const) {
      if (options[name] !== undefined) throw new TypeError(`${where}: \`${name}\` is for a server over HTTP; give \`url\` too`);
    }
    return undefined;
  }
  if (vectorUrl === undefined || storageUrl === undefined) {
    throw new TypeError(`${where}: give \`url\`, or both \`vectorUrl\` and \`storageUrl\``);
  }
  if (options.backend !== undefined || options.embedded !== undefined) {
    throw new TypeError(`${where}: \`url\` cannot be combined with \`backend\` or \`embedded\``);
  }
  if (options.token !== undefined && typeof options.token !== 'function' && (typeof options.token !== 'string' || options.token === '')) {
    throw new TypeError(`${where}: expected \`token\` to be a non-empty string, or a function answering one`);
  }
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new TypeError(`${where}: expected \`fetch\` to be a fetch function`);
  }
  if (options.headers !== undefined) {
    const headers: unknown = options.headers;
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) {
      throw new TypeError(`${where}: expected \`headers\` to be an object of header names to string values, got ${describeValue(headers)}`);
    }
  }
  if (options.onRequest !== undefined && typeof options.onRequest !== 'function') {
    throw new TypeError(`${where}: expected \`onRequest\` to be a function receiving { method, url, headers }, got ${describeValue(options.onRequest)}`);
  }
  checkOptionBag(`${where} retry`, options.retry, ['budgetMs', 'maxDelayMs']);
  checkOptionBag(`${where} reconnect`, options.reconnect, ['delayMs', 'maxDelayMs']);
  const reconnect = {
    delayMs: checkPositiveMilliseconds(where, 'reconnect.delayMs', options.reconnect?.delayMs),
    maxDelayMs: checkPositiveMilliseconds(where, 'reconnect.maxDelayMs', options.reconnect?.maxDelayMs),
  };
  if (reconnect.delayMs !== undefined && reconnect.maxDelayMs !== undefined && reconnect.maxDelayMs < reconnect.delayMs) {
    throw new TypeError(`${where}: expected \`reconnect.maxDelayMs\` (${reconnect.maxDelayMs}) to be at least \`reconnect.delayMs\` (${reconnect.delayMs})`);
  }
  return createHttpBackend({
    vectorUrl,
    storageUrl,
    token: options.token,
    tokenTimeout: checkPositiveMilliseconds(where, 'tokenTimeout', options.tokenTimeout),
    fetch: options.fetch,
    headers: options.headers,
    onRequest: options.onRequest,
    requestTimeout: checkPositiveMilliseconds(where, 'requestTimeout', options.requestTimeout),
    retry: {
      budgetMs: checkMilliseconds(where, 'retry.budgetMs', options.retry?.budgetMs),
      maxDelayMs: checkPositiveMilliseconds(where, 'retry.maxDelayMs', options.retry?.maxDelayMs),
    },
    reconnect,
    stallTimeout: checkPositiveMilliseconds(where, 'stallTimeout', options.stallTimeout),
    clock,
  });
}

/**
 * What only some platforms have, given to {@link createClientOn} by the package's entry points:
 * the Node entry gives both, the browser entry (the default one) neither, so that a browser
 * bundle holds nothing of the service and no file system.
 * @internal
 */
export interface ClientPlatform {
  /** Makes the embedded service, the backend of a client given neither `url` nor `backend`. */
  readonly embedded?: ((options: EmbeddedBackendOptions | undefined) => ExportBackend) | undefined;
  /** Opens a path as an atomically written file, for `getFile(path)`. */
  readonly openFile?: ((path: string) => Promise<ByteSink>) | undefined;
}

const BROWSER: ClientPlatform = {};

function defaultBackend(where: string, platform: ClientPlatform, embedded: EmbeddedBackendOptions | undefined): ExportBackend {
  if (platform.embedded === undefined) {
    throw new TypeError(
      `${where}: give \`url\` (the export service's base URL, such as "http://127.0.0.1:8080") or \`backend\`. ` +
        `The embedded service (no URL) runs in Node only, where \`import { createClient } from 'export-task'\` loads it ` +
        `(or \`createEmbeddedBackend\` from 'export-task/embedded')`,
    );
  }
  return platform.embedded(embedded);
}

/**
 * Creates a client. With no backend, it runs the embedded export service in-process (its jobs
 * in worker threads, its files in a temporary directory unless `embedded.dataDir` is given):
 * in Node, where `export-task` resolves to its Node build. In a browser bundle the embedded
 * service is not there: give `url` (or `backend`).
 *
 * @example
 * ```ts
 * const client = createClient();
 * const roads = await client.createFeatureCollection('roads', { title: 'Roads' });
 * await roads.add(features);
 * const task = await roads.export('exports/roads.ndjson');
 * await task.getResult({ wait: true, timeout: 60_000 });
 * await client.close();
 * ```
 * @throws TypeError at once for an unknown option or a bad value.
 */
export function createClient(options?: ClientOptions): ExportClient {
  return createClientOn(BROWSER, options);
}

/** {@link createClient} with what the platform has (the embedded service, path targets). @internal */
export function createClientOn(platform: ClientPlatform, options: ClientOptions | undefined): ExportClient {
  const where = 'createClient()';
  checkOptionBag(where, options, CLIENT_OPTIONS);
  const waitTimeout = checkPositiveMilliseconds(where, 'waitTimeout', options?.waitTimeout);
  if (options?.backend !== undefined && options.embedded !== undefined) {
    throw new TypeError(`${where}: \`embedded\` configures the embedded service; it cannot be combined with \`backend\``);
  }
  const inspect: unknown = options?.inspect;
  if (inspect !== undefined && typeof inspect !== 'function' && (typeof inspect !== 'object' || inspect === null || typeof (inspect as { next?: unknown }).next !== 'function')) {
    throw new TypeError(
      `${where}: expected \`inspect\` to be a function receiving XState inspection events, or an observer with \`next\` (such as createBrowserInspector().inspect), got ${describeValue(inspect)}`,
    );
  }
  if (options?.store !== undefined && !(options.store instanceof TaskStore)) {
    throw new TypeError(`${where}: expected \`store\` to be a TaskStore`);
  }
  const clock = checkClock(where, options?.clock);
  if (clock !== undefined && options?.store !== undefined) {
    throw new TypeError(`${where}: \`clock\` is for the store the client makes; with your own \`store\`, pass it to new TaskStore({ clock }) instead`);
  }
  const transport = options?.transport ?? 'sse';
  if (transport !== 'sse' && transport !== 'poll') {
    throw new TypeError(`${where}: expected \`transport\` to be 'sse' or 'poll', got ${JSON.stringify(transport)}`);
  }
  const pollInterval = checkPositiveMilliseconds(where, 'pollInterval', options?.pollInterval) ?? 1_000;
  const maxPollInterval = checkPositiveMilliseconds(where, 'maxPollInterval', options?.maxPollInterval) ?? Math.max(30_000, pollInterval);
  if (maxPollInterval < pollInterval) {
    throw new TypeError(`${where}: expected \`maxPollInterval\` (${maxPollInterval}) to be at least \`pollInterval\` (${pollInterval})`);
  }
  const given = options?.backend;
  // One clock for every timer of the client: the store's (the one given, or the system clock).
  const timing = options?.store?.clock ?? clock ?? systemClock;
  const backend = (options === undefined ? undefined : httpBackendFrom(where, options, timing)) ?? given ?? defaultBackend(where, platform, options?.embedded);
  const runtime = new ClientRuntime(backend, options?.store ?? new TaskStore({ clock: timing }), waitTimeout, options?.inspect, {
    transport: transport === 'sse' ? 'push' : 'poll',
    pollInterval,
    maxPollInterval,
  }, given === undefined, platform.openFile);
  const client: ExportClient = {
    store: runtime.store,
    backend,
    async createFeatureCollection(id, productOptions) {
      checkNonEmptyString('ExportClient.createFeatureCollection()', 'id', id);
      checkOptionBag('ExportClient.createFeatureCollection()', productOptions, ['title']);
      runtime.assertOpen();
      await backend.createProduct(id, { title: productOptions?.title });
      return new FeatureCollection(runtime, id);
    },
    featureCollection(id) {
      checkNonEmptyString('ExportClient.featureCollection()', 'id', id);
      return new FeatureCollection(runtime, id);
    },
    close: () => runtime.close(),
    [Symbol.asyncDispose]: () => runtime.close(),
  };
  return client;
}
