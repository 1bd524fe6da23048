import { systemClock, type Clock } from '../../core/clock.js';
import { TimeoutError } from '../../core/errors.js';

/**
 * What `createClient({ token })` takes: the token itself, or a function the client asks for one.
 *
 * A function suits short-lived tokens (such as scoped tokens a browser app gets from its own
 * server): the client calls it for its first request, again shortly before the token it
 * answered expires (when the token is a JWT with an `exp` claim; other tokens are kept until
 * rejected), and once more when the service answers 401, with `refresh: true`, retrying that
 * request once with the new token. Calls never overlap: concurrent requests wait for the same one.
 * A request waits for the function at most 30 s, then fails with `TimeoutError`.
 *
 * @example
 * ```ts
 * const client = createClient({
 *   url: 'http://127.0.0.1:8080',
 *   token: async ({ refresh }) => {
 *     const response = await fetch(`/api/export-token${refresh ? '?fresh=1' : ''}`);
 *     return ((await response.json()) as { token: string }).token;
 *   },
 * });
 * ```
 */
export type AccessToken = string | ((request: AccessTokenRequest) => string | Promise<string>);

/**
 * What the client tells a token function when it asks for a token.
 *
 * @example
 * ```ts
 * let cached: string | undefined;
 * const token = async ({ refresh }: AccessTokenRequest): Promise<string> => {
 *   if (refresh || cached === undefined) cached = ((await (await fetch('/api/export-token')).json()) as { token: string }).token;
 *   return cached;
 * };
 * ```
 */
export interface AccessTokenRequest {
  /** `true` when the service rejected the last token (401): answer a new one, not a cached one. */
  readonly refresh: boolean;
}

/** How the HTTP backend gets the token to send. @internal */
export interface TokenSource {
  /** The token for the next request; rejects when `signal` aborts first. */
  current(signal?: AbortSignal): Promise<string>;
  /** A new token after `rejected` got a 401; `undefined` when there is nothing to renew (a fixed string). */
  renew(rejected: string, signal?: AbortSignal): Promise<string | undefined>;
}

/** How long the client waits for the token function by default, in ms. */
export const DEFAULT_TOKEN_TIMEOUT_MS = 30_000;

/** The longest time before a JWT's expiry at which the client asks for a new one, in ms. */
const RENEW_MARGIN_MS = 30_000;

/** A JWT's `exp` and `iat` (in ms), or undefined for a token that is not a readable JWT. */
function jwtTimes(token: string): { readonly exp: number; readonly iat: number | undefined } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(atob(parts[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown; iat?: unknown };
    if (typeof payload.exp !== 'number') return undefined;
    return { exp: payload.exp * 1000, iat: typeof payload.iat === 'number' ? payload.iat * 1000 : undefined };
  } catch {
    return undefined;
  }
}

/**
 * A {@link TokenSource} for what `createClient({ token })` was given. A token function that
 * answers nothing within `timeoutMs` fails the request waiting for it with `TimeoutError` (and is
 * asked again by the next request): no request waits on it forever. The timeout, and the time a
 * JWT is renewed at, are read on `clock` (the client's).
 * @internal
 */
export function tokenSource(token: AccessToken, timeoutMs = DEFAULT_TOKEN_TIMEOUT_MS, clock: Clock = systemClock): TokenSource {
  if (typeof token === 'string') {
    const fixed = Promise.resolve(token);
    return { current: () => fixed, renew: () => Promise.resolve(undefined) };
  }
  let cached: { readonly token: string; readonly renewAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const ask = (refresh: boolean): Promise<string> => {
    pending ??= (async () => {
      try {
        const answer = await token({ refresh });
        if (typeof answer !== 'string' || answer === '') {
          throw new TypeError(`createClient(): expected the \`token\` function to answer a non-empty string, got ${typeof answer === 'string' ? '""' : typeof answer}`);
        }
        const times = jwtTimes(answer);
        // Renewed a little before it expires: a quarter of its lifetime before, at most 30 s.
        const margin = times === undefined ? 0 : Math.min(RENEW_MARGIN_MS, times.iat === undefined ? RENEW_MARGIN_MS : (times.exp - times.iat) / 4);
        cached = { token: answer, renewAt: times === undefined ? Infinity : times.exp - margin };
        return answer;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
  // Each caller waits for the shared answer within its own bound, and stops at its own signal.
  const wait = (answer: Promise<string>, signal: AbortSignal | undefined): Promise<string> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        settle();
        reject(signal!.reason);
      };
      const timer = clock.setTimeout(() => {
        settle();
        if (pending === answer) pending = undefined;
        const error = new TimeoutError(timeoutMs);
        error.message = `createClient(): the \`token\` function answered nothing within ${timeoutMs} ms`;
        reject(error);
      }, timeoutMs);
      const settle = (): void => {
        clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      answer.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  return {
    current: (signal) => (cached !== undefined && clock.now() < cached.renewAt ? Promise.resolve(cached.token) : wait(pending ?? ask(false), signal)),
    renew: (rejected, signal) => {
      // Another request renewed it already: use that one.
      if (cached !== undefined && cached.token !== rejected && clock.now() < cached.renewAt) return Promise.resolve(cached.token);
      return wait(pending ?? ask(true), signal);
    },
  };
}
