import { Observable } from 'rxjs';
import type { SnapshotEvent, TaskEvent, WireAttributes } from '../../core/events.js';
import type { BackendEvent, EventsOptions, ExportBackend, ExportPage, ExportRequest, ProductInfo } from '../backend.js';
import type { Feature } from '../geojson.js';
import { ClientClosedError } from '../../core/errors.js';
import { BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError } from '../http-errors.js';
import { request, requestJson, type HttpConfig } from './http-request.js';
import type { ClientOptions } from '../create-client.js';
import { systemClock } from '../../core/clock.js';
import { tokenSource } from './access-token.js';
import { readServerSentEvents } from './sse-reader.js';

/**
 * Options of {@link createHttpBackend}: the two base URLs, and the HTTP options of
 * `createClient` (documented there, once).
 */
export interface HttpBackendOptions
  extends Pick<ClientOptions, 'token' | 'tokenTimeout' | 'fetch' | 'headers' | 'onRequest' | 'requestTimeout' | 'retry' | 'reconnect' | 'stallTimeout' | 'clock'> {
  /** The Vector API's base URL, e.g. `http://127.0.0.1:8080/vector/v2`. */
  readonly vectorUrl: string;
  /** The Storage API's base URL, e.g. `http://127.0.0.1:8080/storage/v1`. */
  readonly storageUrl: string;
}

/** Options of {@link HttpBackend.events}. */
export interface HttpEventsOptions extends EventsOptions {
  /** Only this export's events. */
  readonly exportId?: string | undefined;
}

/** What a batch status request answered: a snapshot per export found, and the ids the service does not know. @internal */
export interface StatusAnswer {
  readonly data: SnapshotEvent[];
  readonly missing: string[];
}

/** An {@link ExportBackend} over the service's HTTP protocol. */
export interface HttpBackend extends ExportBackend {
  events(productId: string, options?: HttpEventsOptions): Observable<BackendEvent>;
  /**
   * Whether the server has the status routes (this service) or only DL's routes: learned from
   * the first status request, `undefined` before it.
   */
  readonly hasStatusRoutes: boolean | undefined;
  /** The event streams start at the current end when asked (`from: 'now'`) and call `onConnect`. @internal */
  readonly followsFromNow: true;
  /** {@link ExportBackend.status}, with the ids the service does not know instead of a rejection. @internal */
  statusOf(productId: string, exportIds: readonly string[], options?: { readonly signal?: AbortSignal | undefined }): Promise<StatusAnswer>;
  /** The product's exports not final, from `GET .../search/export/status?in_flight=true`. @internal */
  inFlight(productId: string): Promise<SnapshotEvent[]>;
}

/**
 * A 404 on the events route of a product the service does not have (any more): the product
 * vanished, unlike a DL server's 404 for a route it does not have.
 * @internal
 */
export class ProductGoneError extends NotFoundError {}

/** The default of {@link HttpBackendOptions.requestTimeout}, ms. @internal */
export const DEFAULT_REQUEST_TIMEOUT = 30_000;
/** What a stream without an `X-Heartbeat-Interval` is taken to have, ms (the service's default). */
const DEFAULT_HEARTBEAT = 15_000;
/** Heartbeats a stream may miss before it is taken for dead. */
const MISSED_HEARTBEATS = 3;

interface DlResult {
  readonly data: { readonly id: string; readonly attributes: Partial<Record<keyof WireAttributes, unknown>> };
}

const enc = encodeURIComponent;

/** DL servers send "None" for an absent name; the wire attributes take null. */
function attributesFromDl(productId: string, exportId: string, a: Partial<Record<keyof WireAttributes, unknown>>): WireAttributes {
  const str = (v: unknown): string | null => (typeof v === 'string' && v !== 'None' ? v : null);
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const labels = Array.isArray(a.labels) ? (a.labels as string[]) : null;
  return {
    created: str(a.created),
    status: a.status === 'SUCCESS' ? 'SUCCESS' : 'FAILURE',
    failure_type: str(a.failure_type),
    exception_name: str(a.exception_name),
    stacktrace: str(a.stacktrace),
    peak_memory_usage: num(a.peak_memory_usage),
    runtime: num(a.runtime),
    labels,
    key: str(a.key) ?? labels?.[3] ?? null,
    size_bytes: num(a.size_bytes),
    sha256: str(a.sha256),
  };
}

/**
 * A final snapshot made from DL's result route, which has no `seq`: it takes the seq after
 * `known` so that it applies (a final snapshot absorbs whatever comes later anyway).
 */
function snapshotFromDl(productId: string, result: DlResult, known: number, now: number): SnapshotEvent {
  const attributes = attributesFromDl(productId, result.data.id, result.data.attributes);
  return {
    type: 'snapshot',
    product_id: productId,
    export_id: result.data.id,
    seq: known + 1,
    time: new Date(now).toISOString(),
    phase: attributes.status === 'SUCCESS' ? 'success' : 'failure',
    progress: attributes.status === 'SUCCESS' ? 1 : 0,
    attributes,
  };
}

/**
 * Creates the backend that talks to an export service over HTTP: this project's reference
 * service, or a Descartes Labs-compatible server (no status or events routes: then `status`
 * falls back to the result route, where 404 means "not final yet").
 *
 * @example
 * ```ts
 * const backend = createHttpBackend({ vectorUrl: 'http://127.0.0.1:8080/vector/v2', storageUrl: 'http://127.0.0.1:8080/storage/v1', token });
 * const client = createClient({ backend });
 * ```
 */
export function createHttpBackend(options: HttpBackendOptions): HttpBackend {
  const vector = options.vectorUrl.replace(/\/+$/, '');
  const storage = options.storageUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const lifetime = new AbortController();
  const clock = options.clock ?? systemClock;
  const config: HttpConfig = {
    fetch: fetchImpl,
    token: options.token === undefined ? undefined : tokenSource(options.token, options.tokenTimeout, clock),
    headers: { ...options.headers },
    onRequest: options.onRequest,
    requestTimeout: options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT,
    retryBudget: options.retry?.budgetMs ?? 30_000,
    maxRetryDelay: options.retry?.maxDelayMs ?? 5_000,
    closed: lifetime.signal,
    active: new Set(),
    clock,
  };
  const firstReconnectDelay = options.reconnect?.delayMs ?? 250;
  const maxReconnectDelay = options.reconnect?.maxDelayMs ?? 10_000;
  const stallTimeout = (response: Response): number => {
    if (options.stallTimeout !== undefined) return options.stallTimeout;
    const advertised = Number(response.headers.get('x-heartbeat-interval'));
    return MISSED_HEARTBEATS * (Number.isFinite(advertised) && advertised > 0 ? advertised : DEFAULT_HEARTBEAT);
  };
  const exportsUrl = (productId: string): string => `${vector}/products/${enc(productId)}/search/export`;
  // The seq each DL export was last answered at, so a synthesised snapshot always moves forward.
  const dlSeq = new Map<string, number>();
  const streams = new Set<AbortController>();
  let hasStatusRoutes: boolean | undefined;
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new ClientClosedError(undefined, 'the HTTP export backend');
  };

  /**
   * A 404 on the events route: the product is gone when the product route says so too (this
   * service); else the server has no events route (a DL server), and the error stays as it is.
   */
  async function productGone(productId: string, error: NotFoundError): Promise<NotFoundError> {
    try {
      await request(config, 'GET', `${vector}/products/${enc(productId)}`, { idempotent: true });
      return error;
    } catch (probe) {
      return probe instanceof NotFoundError ? new ProductGoneError(`Product ${productId} is gone: ${probe.message}`, probe.body) : error;
    }
  }

  async function dlStatus(productId: string, exportId: string, signal: AbortSignal | undefined): Promise<SnapshotEvent | undefined> {
    try {
      const result = await requestJson<DlResult>(config, 'GET', `${exportsUrl(productId)}/${enc(exportId)}`, { idempotent: true, signal });
      const seq = (dlSeq.get(exportId) ?? 0) + 1;
      dlSeq.set(exportId, seq);
      return snapshotFromDl(productId, result, seq - 1, clock.now());
    } catch (error) {
      // DL answers 404 while an export is pending or running: nothing new to tell.
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  const backend: HttpBackend = {
    get hasStatusRoutes() {
      return hasStatusRoutes;
    },
    followsFromNow: true,

    async createProduct(productId, productOptions) {
      assertOpen();
      const body = await requestJson<{ data: { id: string; attributes: { title: string; feature_count: number } } }>(
        config,
        'POST',
        `${vector}/products`,
        { body: { id: productId, ...(productOptions.title === undefined ? {} : { title: productOptions.title }) }, idempotent: false },
      );
      return { id: body.data.id, title: body.data.attributes.title, featureCount: body.data.attributes.feature_count } satisfies ProductInfo;
    },

    async addFeatures(productId, features: readonly Feature[], addOptions) {
      assertOpen();
      return requestJson<{ added: number }>(config, 'POST', `${vector}/products/${enc(productId)}/features`, {
        body: { type: 'FeatureCollection', features },
        idempotent: false,
        signal: addOptions?.signal,
      });
    },

    async startExport(productId, exportRequest: ExportRequest, startOptions) {
      assertOpen();
      // Every export carries an Idempotency-Key (a fresh one unless given), so that retrying
      // after a 5xx or a cut connection can never start a second export.
      const idempotencyKey = startOptions?.idempotencyKey ?? globalThis.crypto.randomUUID();
      const limits = exportRequest.limits;
      const body = {
        key: exportRequest.key,
        query: exportRequest.query,
        ...(limits === undefined
          ? {}
          : { limits: { ...(limits.timeoutMs === undefined ? {} : { timeout_ms: limits.timeoutMs }), ...(limits.memoryMb === undefined ? {} : { memory_mb: limits.memoryMb }) } }),
      };
      const answer = await requestJson<{ export_id: string }>(config, 'POST', exportsUrl(productId), {
        body,
        headers: { 'idempotency-key': idempotencyKey },
        idempotent: true,
        signal: startOptions?.signal,
      });
      return { exportId: answer.export_id };
    },

    async status(productId, exportIds, statusOptions) {
      const { data, missing } = await backend.statusOf(productId, exportIds, statusOptions);
      if (missing.length > 0) throw new NotFoundError(`No export ${missing.join(', ')} in product ${productId}`);
      return data;
    },

    async statusOf(productId, exportIds, statusOptions) {
      assertOpen();
      if (hasStatusRoutes !== false) {
        try {
          const answer = await requestJson<{ data: SnapshotEvent[]; missing?: string[] }>(config, 'POST', `${exportsUrl(productId)}/status`, {
            body: { export_ids: exportIds },
            idempotent: true,
            signal: statusOptions?.signal,
          });
          hasStatusRoutes = true;
          return { data: answer.data, missing: answer.missing ?? [] };
        } catch (error) {
          // A DL server has no batch route: its router answers 404 or 405 for it.
          if (hasStatusRoutes === true || !(error instanceof NotFoundError || (error as { status?: number }).status === 405)) throw error;
          hasStatusRoutes = false;
        }
      }
      const answers = await Promise.all(exportIds.map((id) => dlStatus(productId, id, statusOptions?.signal)));
      return { data: answers.filter((s): s is SnapshotEvent => s !== undefined), missing: [] };
    },

    async inFlight(productId) {
      assertOpen();
      const answer = await requestJson<{ data: SnapshotEvent[] }>(config, 'GET', `${exportsUrl(productId)}/status?in_flight=true`, { idempotent: true });
      return answer.data;
    },

    async listExports(productId, token, listOptions?: { readonly signal?: AbortSignal | undefined }): Promise<ExportPage> {
      assertOpen();
      const url = token == null ? exportsUrl(productId) : `${exportsUrl(productId)}?continuation_token=${enc(token)}`;
      const page = await requestJson<{ data: DlResult['data'][]; meta?: { continuation_token?: string | null } }>(config, 'GET', url, {
        idempotent: true,
        signal: listOptions?.signal,
      });
      return {
        data: page.data.map((item) => {
          const known = dlSeq.get(item.id) ?? 0;
          return snapshotFromDl(productId, { data: item }, known, clock.now());
        }),
        continuationToken: page.meta?.continuation_token ?? null,
      };
    },

    async cancel(productId, exportId) {
      assertOpen();
      await request(config, 'POST', `${exportsUrl(productId)}/${enc(exportId)}/cancel`, { idempotent: true });
    },

    events(productId, eventOptions?: HttpEventsOptions) {
      return new Observable<BackendEvent>((subscriber) => {
        const controller = new AbortController();
        streams.add(controller);
        let cursor = eventOptions?.after;
        // `retry:` from the server replaces the first delay.
        let reconnectDelay = firstReconnectDelay;
        const run = async (): Promise<void> => {
          let delay = reconnectDelay;
          let resetOnce = false;
          for (let connection = 0; !controller.signal.aborted; connection++) {
            let delivered = false;
            let live = false;
            let reset = false;
            try {
              const query = new URLSearchParams();
              if (eventOptions?.exportId !== undefined) query.set('export_id', eventOptions.exportId);
              if (cursor === undefined && eventOptions?.from === 'now') query.set('from', 'now');
              const qs = query.size > 0 ? `?${query.toString()}` : '';
              const response = await request(config, 'GET', `${exportsUrl(productId)}/events${qs}`, {
                headers: { accept: 'text/event-stream', ...(cursor === undefined ? {} : { 'last-event-id': cursor }) },
                signal: controller.signal,
                idempotent: true,
                // Reconnecting is this loop's job, with its own backoff.
                retryBudget: 0,
                // A stream sends a heartbeat every interval: silence for a few of them is a dead stream.
                idleTimeout: stallTimeout,
              });
              // The server chose where the stream starts before it answered: whatever the
              // caller reconciles from here on cannot miss an event of the stream.
              live = true;
              if (connection > 0) eventOptions?.onReconnect?.();
              eventOptions?.onConnect?.();
              for await (const message of readServerSentEvents(response.body!)) {
                if (controller.signal.aborted) return;
                if (message.retry !== undefined) reconnectDelay = delay = message.retry;
                if (message.id !== undefined) cursor = message.id;
                if (message.event === '') continue;
                if (message.event === 'reset') {
                  // The service cannot resume from a cursor any more: start again at its end and
                  // let the caller reconcile what it follows (onConnect).
                  reset = true;
                  break;
                }
                const event = JSON.parse(message.data) as TaskEvent;
                delivered = true;
                subscriber.next({ cursor: cursor ?? '', event });
              }
            } catch (error) {
              if (controller.signal.aborted) return;
              // Permanent: a wrong token or no right to the product, everywhere.
              if (error instanceof UnauthorizedError || error instanceof ForbiddenError) {
                subscriber.error(error);
                return;
              }
              if (error instanceof NotFoundError) {
                subscriber.error(await productGone(productId, error));
                return;
              }
              // A cursor the service never gave (it restarted on other data): start again at the
              // end, once; a second 400 is a real one.
              if (error instanceof BadRequestError && cursor !== undefined && !resetOnce) {
                resetOnce = true;
                reset = true;
              } else if (error instanceof BadRequestError) {
                subscriber.error(error);
                return;
              }
            }
            if (live) eventOptions?.onDisconnect?.();
            if (reset) {
              cursor = undefined;
              if (eventOptions?.from !== 'now') {
                // A caller reading the whole history would get it all again: it must be told.
                subscriber.error(new BadRequestError(`The event stream of product ${productId} was reset by the service: its log was replaced`));
                return;
              }
              continue;
            }
            // The stream ended, broke or went silent: reconnect with exponential backoff and
            // full jitter, resuming after the last cursor seen.
            if (delivered) delay = reconnectDelay;
            await new Promise<void>((resolve) => {
              const onAbort = (): void => {
                clock.clearTimeout(timer);
                resolve();
              };
              const timer = clock.setTimeout(() => {
                controller.signal.removeEventListener('abort', onAbort);
                resolve();
              }, Math.random() * delay);
              controller.signal.addEventListener('abort', onAbort, { once: true });
            });
            delay = Math.min(maxReconnectDelay, delay * 2);
          }
        };
        run().catch((error: unknown) => subscriber.error(error));
        return () => {
          streams.delete(controller);
          controller.abort(new Error('event stream unsubscribed'));
        };
      });
    },

    async readFile(key, readOptions) {
      assertOpen();
      const path = key.split('/').map(enc).join('/');
      const response = await request(config, 'GET', `${storage}/data/get/${path}`, {
        headers: { accept: 'application/octet-stream' },
        signal: readOptions?.signal,
        idempotent: true,
      });
      return response.body!;
    },

    close() {
      closed = true;
      // Ends every request, body and stream in flight: their connections are closed with them.
      const reason = new ClientClosedError(undefined, 'the HTTP export backend');
      lifetime.abort(reason);
      for (const controller of [...config.active]) controller.abort(reason);
      config.active.clear();
      for (const controller of streams) controller.abort(new Error('backend closed'));
      streams.clear();
      return Promise.resolve();
    },
  };
  return backend;
}
