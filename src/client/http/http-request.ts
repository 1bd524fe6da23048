import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  GatewayTimeoutError,
  HttpError,
  NotFoundError,
  RateLimitError,
  ServerError,
  UnauthorizedError,
} from '../http-errors.js';
import type { TokenSource } from './access-token.js';

/** How requests go out: the fetch to use and the token to send. @internal */
export interface HttpConfig {
  readonly fetch: typeof fetch;
  readonly token: TokenSource | undefined;
  /** How long a request may keep retrying 5xx, 429 and network errors, in ms. */
  readonly retryBudget: number;
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
}

const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** `Retry-After` in ms (seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The error for a failed response, with the server's message when it sent one. @internal */
export async function errorFromResponse(response: Response, what: string): Promise<HttpError> {
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
  if (status === 429) return new RateLimitError(message, parseRetryAfter(response.headers.get('retry-after')), body);
  if (status === 504) return new GatewayTimeoutError(message, body);
  if (status >= 500) return new ServerError(message, body, status);
  return new HttpError(status, message, body);
}

function retryable(error: unknown): boolean {
  if (error instanceof RateLimitError || error instanceof ServerError || error instanceof GatewayTimeoutError) return true;
  // fetch rejects with a TypeError for network failures (refused, reset, DNS).
  return error instanceof TypeError;
}

/**
 * Sends one request and answers the response once it is OK (2xx). Idempotent requests are
 * retried on 5xx, 429 (after `Retry-After`) and network errors, with exponential backoff and
 * full jitter, while the retry budget lasts; everything else (400, 401, 403, 404, 409) fails
 * at once with its `HttpError` subclass. The token goes only in the Authorization header,
 * never in an error message.
 * @internal
 */
export async function request(config: HttpConfig, method: string, url: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  let token = await config.token?.current(options.signal);
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  let renewed = false;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const what = `${method} ${new URL(url).pathname}`;
  const deadline = Date.now() + (options.retryBudget ?? config.retryBudget);
  for (let attempt = 0; ; attempt++) {
    let failure: unknown;
    try {
      const response = await config.fetch(url, { method, headers, body: body ?? null, signal: options.signal ?? null });
      if (response.ok) return response;
      failure = await errorFromResponse(response, what);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      failure = error;
    }
    // A rejected token is renewed once (a token function's), and the request sent again with it:
    // the service refused it without doing anything.
    if (failure instanceof UnauthorizedError && token !== undefined && !renewed) {
      renewed = true;
      const fresh = await config.token?.renew(token, options.signal);
      if (fresh !== undefined) {
        token = fresh;
        headers['authorization'] = `Bearer ${fresh}`;
        continue;
      }
    }
    if (!options.idempotent || !retryable(failure)) throw failure;
    const backoff = Math.random() * Math.min(5_000, 100 * 2 ** attempt);
    const wait = failure instanceof RateLimitError && failure.retryAfter !== undefined ? failure.retryAfter : backoff;
    if (Date.now() + wait > deadline) throw failure;
    await sleep(wait, options.signal);
  }
}

/** {@link request}, then the JSON body. @internal */
export async function requestJson<T>(config: HttpConfig, method: string, url: string, options: RequestOptions): Promise<T> {
  const response = await request(config, method, url, options);
  return (await response.json()) as T;
}
