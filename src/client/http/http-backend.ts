import { Observable } from 'rxjs';
import type { SnapshotEvent, TaskEvent, WireAttributes } from '../../core/events.js';
import type { BackendEvent, EventsOptions, ExportBackend, ExportPage, ExportRequest, ProductInfo } from '../backend.js';
import type { Feature } from '../geojson.js';
import { NotFoundError } from '../http-errors.js';
import { tokenSource, type AccessToken } from './access-token.js';
import { request, requestJson, type HttpConfig } from './http-request.js';
import { readServerSentEvents } from './sse-reader.js';

/** Options of {@link createHttpBackend}. */
export interface HttpBackendOptions {
  /** The Vector API's base URL, e.g. `http://127.0.0.1:8080/vector/v2`. */
  readonly vectorUrl: string;
  /** The Storage API's base URL, e.g. `http://127.0.0.1:8080/storage/v1`. */
  readonly storageUrl: string;
  /** Sent as `Authorization: Bearer <token>`: a string, or a function answering one (see {@link AccessToken}). */
  readonly token?: AccessToken | undefined;
  /**
   * How long a request waits for a `token` function's answer, in ms, before it fails with `TimeoutError`.
   * @defaultValue 30000
   */
  readonly tokenTimeout?: number | undefined;
  /** @defaultValue `globalThis.fetch` */
  readonly fetch?: typeof fetch | undefined;
  /**
   * How long one request keeps retrying 5xx, 429 and network errors, in ms.
   * @defaultValue 30000
   */
  readonly retryBudget?: number | undefined;
  /**
   * First delay before reconnecting a cut event stream, in ms; it doubles (with jitter) up to
   * `maxReconnectDelay`, and starts again after a connection that delivered events.
   * @defaultValue 250
   */
  readonly reconnectDelay?: number | undefined;
  /** @defaultValue 10000 */
  readonly maxReconnectDelay?: number | undefined;
}

/** Options of {@link HttpBackend.events}. */
export interface HttpEventsOptions extends EventsOptions {
  /** Only this export's events. */
  readonly exportId?: string | undefined;
}

/** An {@link ExportBackend} over the service's HTTP protocol. */
export interface HttpBackend extends ExportBackend {
  events(productId: string, options?: HttpEventsOptions): Observable<BackendEvent>;
  /**
   * Whether the server has the status routes (this service) or only DL's routes: learned from
   * the first status request, `undefined` before it.
   */
  readonly hasStatusRoutes: boolean | undefined;
}

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
function snapshotFromDl(productId: string, result: DlResult, known: number): SnapshotEvent {
  const attributes = attributesFromDl(productId, result.data.id, result.data.attributes);
  return {
    type: 'snapshot',
    product_id: productId,
    export_id: result.data.id,
    seq: known + 1,
    time: new Date().toISOString(),
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
  const config: HttpConfig = { fetch: fetchImpl, token: options.token === undefined ? undefined : tokenSource(options.token, options.tokenTimeout), retryBudget: options.retryBudget ?? 30_000 };
  const reconnectDelay = options.reconnectDelay ?? 250;
  const maxReconnectDelay = options.maxReconnectDelay ?? 10_000;
  const exportsUrl = (productId: string): string => `${vector}/products/${enc(productId)}/search/export`;
  // The seq each DL export was last answered at, so a synthesised snapshot always moves forward.
  const dlSeq = new Map<string, number>();
  const streams = new Set<AbortController>();
  let hasStatusRoutes: boolean | undefined;
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new Error('This HTTP export backend is closed');
  };

  async function dlStatus(productId: string, exportId: string): Promise<SnapshotEvent | undefined> {
    try {
      const result = await requestJson<DlResult>(config, 'GET', `${exportsUrl(productId)}/${enc(exportId)}`, { idempotent: true });
      const seq = (dlSeq.get(exportId) ?? 0) + 1;
      dlSeq.set(exportId, seq);
      return snapshotFromDl(productId, result, seq - 1);
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

    async addFeatures(productId, features: readonly Feature[]) {
      assertOpen();
      return requestJson<{ added: number }>(config, 'POST', `${vector}/products/${enc(productId)}/features`, {
        body: { type: 'FeatureCollection', features },
        idempotent: false,
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
      });
      return { exportId: answer.export_id };
    },

    async status(productId, exportIds) {
      assertOpen();
      if (hasStatusRoutes !== false) {
        try {
          const answer = await requestJson<{ data: SnapshotEvent[]; missing?: string[] }>(config, 'POST', `${exportsUrl(productId)}/status`, {
            body: { export_ids: exportIds },
            idempotent: true,
          });
          hasStatusRoutes = true;
          const missing = answer.missing ?? [];
          if (missing.length > 0) throw new NotFoundError(`No export ${missing.join(', ')} in product ${productId}`);
          return answer.data;
        } catch (error) {
          // A DL server has no batch route: its router answers 404 or 405 for it.
          if (hasStatusRoutes === true || !(error instanceof NotFoundError || (error as { status?: number }).status === 405)) throw error;
          hasStatusRoutes = false;
        }
      }
      const answers = await Promise.all(exportIds.map((id) => dlStatus(productId, id)));
      return answers.filter((s): s is SnapshotEvent => s !== undefined);
    },

    async listExports(productId, token): Promise<ExportPage> {
      assertOpen();
      const url = token == null ? exportsUrl(productId) : `${exportsUrl(productId)}?continuation_token=${enc(token)}`;
      const page = await requestJson<{ data: DlResult['data'][]; meta?: { continuation_token?: string | null } }>(config, 'GET', url, {
        idempotent: true,
      });
      return {
        data: page.data.map((item) => {
          const known = dlSeq.get(item.id) ?? 0;
          return snapshotFromDl(productId, { data: item }, known);
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
        const run = async (): Promise<void> => {
          let delay = reconnectDelay;
          for (let connection = 0; !controller.signal.aborted; connection++) {
            let delivered = false;
            try {
              const query = new URLSearchParams();
              if (eventOptions?.exportId !== undefined) query.set('export_id', eventOptions.exportId);
              const qs = query.size > 0 ? `?${query.toString()}` : '';
              const response = await request(config, 'GET', `${exportsUrl(productId)}/events${qs}`, {
                headers: { accept: 'text/event-stream', ...(cursor === undefined ? {} : { 'last-event-id': cursor }) },
                signal: controller.signal,
                idempotent: true,
                // Reconnecting is this loop's job, with its own backoff.
                retryBudget: 0,
              });
              if (connection > 0) eventOptions?.onReconnect?.();
              for await (const message of readServerSentEvents(response.body!)) {
                if (controller.signal.aborted) return;
                if (message.id !== undefined) cursor = message.id;
                if (message.event === '') continue;
                const event = JSON.parse(message.data) as TaskEvent;
                delivered = true;
                subscriber.next({ cursor: cursor ?? '', event });
              }
            } catch (error) {
              if (controller.signal.aborted) return;
              // No events route (a DL server) or no such product: the caller falls back to polling;
              // a token refused (401, once renewed) or outside its rights (403) ends the stream.
              const status = (error as { status?: number }).status;
              if (error instanceof NotFoundError || status === 400 || status === 401 || status === 403) {
                subscriber.error(error);
                return;
              }
            }
            // The stream ended or broke: reconnect with exponential backoff and full jitter,
            // resuming after the last cursor seen.
            if (delivered) delay = reconnectDelay;
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, Math.random() * delay);
              controller.signal.addEventListener('abort', () => {
                clearTimeout(timer);
                resolve();
              }, { once: true });
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
      for (const controller of streams) controller.abort(new Error('backend closed'));
      streams.clear();
      return Promise.resolve();
    },
  };
  return backend;
}
