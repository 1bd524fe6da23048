import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { describeValue } from '../../core/errors.js';

/**
 * `startServer({ cors })`: which origins' pages may call the service from a browser.
 *
 * @example
 * ```ts
 * const cors: CorsOptions = { origins: ['https://app.example.com', 'http://127.0.0.1:4173'] };
 * await using server = await startServer({ cors, signingKey: process.env.EXPORT_TASK_SIGNING_KEY });
 * ```
 */
export interface CorsOptions {
  /** Exact origins, such as `https://app.example.com` or `http://127.0.0.1:4173` (scheme, host and port; no path, no wildcard). */
  readonly origins: readonly string[];
}

/** The request headers a page may send: the token, the event stream's cursor, an export's idempotency key. */
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Accept', 'Last-Event-ID', 'Idempotency-Key'];
/** The response headers a page may read: the download's length (to verify it), a 429's wait, a 401's challenge. */
const EXPOSED_HEADERS = ['Content-Length', 'Retry-After', 'WWW-Authenticate'];

/**
 * The origins, checked: each an `http(s)` origin exactly as a browser sends it in `Origin`.
 * @throws TypeError saying what was expected.
 * @internal
 */
export function checkCorsOrigins(where: string, value: unknown): string[] {
  const origins = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { origins?: unknown }).origins : undefined;
  if (!Array.isArray(origins) || Object.keys(value as object).some((key) => key !== 'origins')) {
    throw new TypeError(`${where}: expected \`cors\` to be { origins: [...] }, a list of origins such as "http://127.0.0.1:4173", got ${describeValue(value)}`);
  }
  return origins.map((origin: unknown) => checkOrigin(where, origin));
}

/** One origin, checked: `http(s)://host[:port]` with nothing after it. @internal */
export function checkOrigin(where: string, origin: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof origin === 'string' ? new URL(origin) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== origin) {
    throw new TypeError(
      `${where}: expected each CORS origin to be a page's origin, scheme, host and port only, such as "http://127.0.0.1:4173" (no path, no trailing slash, no wildcard), got ${describeValue(origin)}`,
    );
  }
  return origin;
}

/**
 * Answers CORS for the configured origins (and for no other): preflights get the methods and
 * headers the client sends, every answer to an allowed origin names it (never `*`) and exposes
 * `Content-Length`. No credentials mode: the client sends its token in `Authorization`, not in
 * cookies. With no origin configured, nothing is registered and browsers keep their same-origin rule.
 * @internal
 */
export function registerCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  void app.register(cors, {
    origin: [...origins],
    methods: ['GET', 'POST'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
    strictPreflight: true,
  });
}
