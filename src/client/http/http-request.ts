import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  GatewayTimeoutError,
  HttpError,
  NotFoundError,
  RateLimitError,
  RequestTimeoutError,
  ServerError,
  UnauthorizedError,
} from '../http-errors.js';
import type { Clock } from '../../core/clock.js';
import type { TokenSource } from './access-token.js';

/**
 * What `createClient({ onRequest })` sees of a request about to go out: its method, URL and
 * headers (a plain object it may add to or change, such as a tracing header). The
 * Authorization header is not in it.
 *
 * @example
 * ```ts
 * const client = createClient({
 *   url: 'http://127.0.0.1:8080',
 *   onRequest: (request: OutgoingRequest) => {
 *     request.headers['x-request-id'] = crypto.randomUUID();
 *   },
 * });
 * ```
 */
export interface OutgoingRequest {
  /** `GET`, `POST`, ... */
  readonly method: string;
  /** The absolute URL, query included. */
  readonly url: string;
  /** The headers to send; change them in place. */
  readonly headers: Record<string, string>;
}

/** How requests go out: the fetch to use, the token and headers to send, timeouts and retries. @internal */
export interface HttpConfig {
  readonly fetch: typeof fetch;
  readonly token: TokenSource | undefined;
  /** Sent with every request (the protocol's own headers win). */
  readonly headers: Readonly<Record<string, string>>;
  /** Called before each attempt of each request. */
  readonly onRequest: ((request: OutgoingRequest) => void) | undefined;
  /** How long an attempt may wait for its response headers, and a body for its next byte, ms. */
  readonly requestTimeout: number;
  /** How long a request may keep retrying 5xx, 429, timeouts and network errors, in ms. */
  readonly retryBudget: number;
  /** The longest delay between two attempts (backoff is capped there; a longer `Retry-After` is obeyed), ms. */
  readonly maxRetryDelay: number;
  /** Aborted when the backend closes (read, never listened to: the backend aborts {@link HttpConfig.active} itself). */
  readonly closed: AbortSignal;
  /** The controllers of the attempts, bodies and backoff waits in flight: the backend aborts them all when it closes. */
  readonly active: Set<AbortController>;
  /** Where the timeouts, the retry budget and the backoff waits read the time and arm their timers (the client's clock). */
  readonly clock: Clock;
}

/** Options of one request. @internal */
export interface RequestOptions {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal | undefined;
  /**
   * Whether sending the request twice is harmless (reads, cancels, POSTs with an
   * Idempotency-Key). Only those are retried: a retried export must never start twice.
   */
  readonly idempotent: boolean;
  /** Overrides the config's retry budget (ms). */
  readonly retryBudget?: number | undefined;
  /**
   * How long the body may go without a byte once the headers came, ms (the config's
   * `requestTimeout` by default); a function of the response decides from its headers.
   */
  readonly idleTimeout?: number | ((response: Response) => number) | undefined;
}

const sleep = (clock: Clock, ms: number, signals: readonly (AbortSignal | undefined)[]): Promise<void> =>
  new Promise((resolve, reject) => {
    const live = signals.filter((s): s is AbortSignal => s !== undefined);
    const aborted = live.find((s) => s.aborted);
    if (aborted !== undefined) return reject(aborted.reason);
    const onAbort = (event: Event): void => {
      clock.clearTimeout(timer);
      for (const s of live) s.removeEventListener('abort', onAbort);
      reject((event.target as AbortSignal).reason);
    };
    const timer = clock.setTimeout(() => {
      for (const s of live) s.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    for (const s of live) s.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Aborts `controller` when any of `signals` aborts, with that signal's reason.
 * @returns The function that removes the listeners (call it once the request is over).
 */
function linkAbort(controller: AbortController, signals: readonly (AbortSignal | undefined)[]): () => void {
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  const onAbort = (event: Event): void => controller.abort((event.target as AbortSignal).reason);
  for (const s of live) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener('abort', onAbort, { once: true });
  }
  return () => {
    for (const s of live) s.removeEventListener('abort', onAbort);
  };
}

/**
 * The response's body, failing with a {@link RequestTimeoutError} when a read waits more than
 * `idleMs` for the next chunk (the time the reader takes between reads does not count), and
 * calling `done` once the body ended, failed or was cancelled.
 */
function guardBody(
  clock: Clock,
  body: ReadableStream<Uint8Array>,
  idleMs: number,
  timeout: () => RequestTimeoutError,
  abort: (reason: Error) => void,
  done: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let timer: unknown;
  let finished = false;
  const disarm = (): void => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    disarm();
    done();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let timedOut: RequestTimeoutError | undefined;
        if (Number.isFinite(idleMs)) {
          timer = clock.setTimeout(() => {
            timer = undefined;
            timedOut = timeout();
            abort(timedOut);
            reader.cancel(timedOut).catch(() => undefined);
          }, idleMs);
        }
        try {
          const { done: ended, value } = await reader.read();
          disarm();
          if (timedOut !== undefined) throw timedOut;
          if (ended) {
            finish();
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (error) {
          finish();
          controller.error(timedOut ?? error);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** `Retry-After` in ms (seconds or an HTTP date, measured from `now`, the client's clock), or undefined. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The error for a failed response, with the server's message when it sent one; `now` (the client's clock) dates a `Retry-After`. @internal */
export async function errorFromResponse(response: Response, what: string, now: number): Promise<HttpError> {
  let body: unknown;
  let detail = '';
  try {
    const text = await response.text();
    body = text === '' ? undefined : (JSON.parse(text) as unknown);
    const first = (body as { errors?: { detail?: unknown }[] } | undefined)?.errors?.[0]?.detail;
    if (typeof first === 'string') detail = first;
  } catch {
    body = undefined;
  }
  const message = `${what}: ${response.status} ${response.statusText}${detail ? `: ${detail}` : ''}`;
  const status = response.status;
  if (status === 400 || status === 422) return new BadRequestError(message, body, status);
  if (status === 401) return new UnauthorizedError(message, body, status);
  if (status === 403) return new ForbiddenError(message, body);
  if (status === 404) return new NotFoundError(message, body);
  if (status === 409) return new ConflictError(message, body);
  if (status === 429) return new RateLimitError(message, parseRetryAfter(response.headers.get('retry-after'), now), body);
  if (status === 504) return new GatewayTimeoutError(message, body);
  if (status >= 500) return new ServerError(message, body, status);
  return new HttpError(status, message, body);
}

function retryable(error: unknown): boolean {
  if (error instanceof RateLimitError || error instanceof ServerError || error instanceof GatewayTimeoutError) return true;
  // fetch rejects with a TypeError for network failures (refused, reset, DNS).
  return error instanceof TypeError || error instanceof RequestTimeoutError;
}

/**
 * Sends one request and answers the response once it is OK (2xx). Idempotent requests are
 * retried on 5xx, 429 (after `Retry-After`), timeouts and network errors, with exponential
 * backoff and full jitter up to `maxRetryDelay`, while the retry budget lasts; everything else
 * (400, 401, 403, 404, 409) fails at once with its `HttpError` subclass. Each attempt waits at
 * most `requestTimeout` for its headers, and its body at most as long for each next byte
 * (not for the whole body: a long download that keeps coming is never cut). The token goes
 * only in the Authorization header, never in an error message.
 * @internal
 */
export async function request(config: HttpConfig, method: string, url: string, options: RequestOptions): Promise<Response> {
  // A token function is asked once per request (and once more after a 401), not per attempt.
  let token = await config.token?.current(options.signal);
  let renewed = false;
  let body: string | undefined;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  const what = `${method} ${new URL(url).pathname}`;
  const clock = config.clock;
  const deadline = clock.now() + (options.retryBudget ?? config.retryBudget);
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { accept: 'application/json', ...config.headers, ...options.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    config.onRequest?.({ method, url, headers });
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (config.closed.aborted) throw config.closed.reason;
    const controller = new AbortController();
    const unlinkSignal = linkAbort(controller, [options.signal]);
    config.active.add(controller);
    const unlink = (): void => {
      unlinkSignal();
      config.active.delete(controller);
    };
    const headersTimeout = new RequestTimeoutError(what, config.requestTimeout, 'headers');
    const timer = clock.setTimeout(() => controller.abort(headersTimeout), config.requestTimeout);
    let failure: unknown;
    try {
      const response = await config.fetch(url, { method, headers, body: body ?? null, signal: controller.signal });
      if (response.ok) {
        clock.clearTimeout(timer);
        if (response.body === null) {
          unlink();
          return response;
        }
        const idle = typeof options.idleTimeout === 'function' ? options.idleTimeout(response) : (options.idleTimeout ?? config.requestTimeout);
        const guarded = guardBody(
          clock,
          response.body,
          idle,
          () => new RequestTimeoutError(what, idle, 'body'),
          (reason) => controller.abort(reason),
          unlink,
        );
        return new Response(guarded, { status: response.status, statusText: response.statusText, headers: response.headers });
      }
      // The error body is read under the same timeout as the headers.
      failure = await errorFromResponse(response, what, clock.now());
      clock.clearTimeout(timer);
      unlink();
    } catch (error) {
      clock.clearTimeout(timer);
      unlink();
      if (options.signal?.aborted) throw options.signal.reason;
      if (config.closed.aborted) throw config.closed.reason;
      failure = controller.signal.aborted && controller.signal.reason === headersTimeout ? headersTimeout : error;
    }
    // A rejected token is renewed once (a token function's), and the request sent again with it:
    // the service refused it without doing anything.
    if (failure instanceof UnauthorizedError && token !== undefined && !renewed) {
      renewed = true;
      const fresh = await config.token?.renew(token, options.signal);
      if (fresh !== undefined) {
        token = fresh;
        continue;
      }
    }
    if (!options.idempotent || !retryable(failure)) throw failure;
    const backoff = Math.random() * Math.min(config.maxRetryDelay, 100 * 2 ** attempt);
    const wait = failure instanceof RateLimitError && failure.retryAfter !== undefined ? failure.retryAfter : backoff;
    if (clock.now() + wait > deadline) throw failure;
    const pause = new AbortController();
    config.active.add(pause);
    try {
      await sleep(clock, wait, [options.signal, pause.signal]);
    } finally {
      config.active.delete(pause);
    }
  }
}

/** {@link request}, then the JSON body. @internal */
export async function requestJson<T>(config: HttpConfig, method: string, url: string, options: RequestOptions): Promise<T> {
  const response = await request(config, method, url, options);
  return (await response.json()) as T;
}
