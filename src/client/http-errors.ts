/**
 * A request to the backend failed with an HTTP status (or its in-process equivalent).
 * Subclasses follow DL's client: 400/422 {@link BadRequestError}, 401
 * {@link UnauthorizedError}, 403 {@link ForbiddenError}, 404 {@link NotFoundError}, 409 {@link ConflictError}, 429
 * {@link RateLimitError}, 504 {@link GatewayTimeoutError}, other 5xx {@link ServerError}.
 *
 * @example
 * ```ts
 * try {
 *   await client.createFeatureCollection('roads');
 * } catch (error) {
 *   if (error instanceof HttpError) console.error(error.status, error.name, error.message);
 *   else throw error;
 * }
 * ```
 */
export class HttpError extends Error {
  /** The class name (`'NotFoundError'`, ...): a subclass's literal name. */
  override readonly name: string = 'HttpError';
  /** A stable identity for checks: `'EXPORT_TASK_HTTP'` here, a subclass's own code below. */
  readonly code: string = 'EXPORT_TASK_HTTP';
  /** The HTTP status code. */
  readonly status: number;
  /** The body the server sent, when it was JSON. */
  readonly body: unknown;

  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param status - The HTTP status code.
   * @param message - What went wrong, from the server's error body when it had one.
   * @param body - The body the server sent, when it was JSON.
   */
  constructor(status: number, message: string, body?: unknown) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/**
 * 400 or 422: the request was malformed; sending it again will not help.
 *
 * @example
 * ```ts
 * await roads.add([{ type: 'Feature', geometry: null, properties: { kind: 42 } }]).catch((error: unknown) => {
 *   if (error instanceof BadRequestError) console.error(error.message); // names the first bad feature
 * });
 * ```
 */
export class BadRequestError extends HttpError {
  /** The class name: `error.name === 'BadRequestError'`. */
  override readonly name = 'BadRequestError' as const;
  /** `error.code === 'EXPORT_TASK_BAD_REQUEST'`. */
  override readonly code = 'EXPORT_TASK_BAD_REQUEST' as const;
  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param message - What went wrong, from the server's error body when it had one.
   * @param body - The body the server sent, when it was JSON.
   * @param status - 400 or 422.
   */
  constructor(message: string, body?: unknown, status = 400) {
    super(status, message, body);
  }
}

/**
 * 401: the token is missing, wrong, tampered with or expired.
 *
 * @example
 * ```ts
 * const client = createClient({ url: 'http://127.0.0.1:8080', token: 'wrong' });
 * await client.featureCollection('roads').listExports().catch((error: unknown) => {
 *   if (error instanceof UnauthorizedError) console.error('check EXPORT_TASK_TOKEN');
 * });
 * ```
 */
export class UnauthorizedError extends HttpError {
  /** The class name: `error.name === 'UnauthorizedError'`. */
  override readonly name = 'UnauthorizedError' as const;
  /** `error.code === 'EXPORT_TASK_UNAUTHORIZED'`. */
  override readonly code = 'EXPORT_TASK_UNAUTHORIZED' as const;
  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param message - What went wrong, from the server's error body when it had one.
   * @param body - The body the server sent, when it was JSON.
   * @param status - 401.
   */
  constructor(message: string, body?: unknown, status = 401) {
    super(status, message, body);
  }
}

/**
 * 403: the token is valid but does not give this right (a read-only token asked to start an
 * export, a token scoped to another product or to other exports). Sending it again will not help.
 *
 * @example
 * ```ts
 * await roads.export('exports/roads.ndjson').catch((error: unknown) => {
 *   if (error instanceof ForbiddenError) console.error('this token may only read');
 * });
 * ```
 */
export class ForbiddenError extends HttpError {
  /** The class name: `error.name === 'ForbiddenError'`. */
  override readonly name = 'ForbiddenError' as const;
  /** `error.code === 'EXPORT_TASK_FORBIDDEN'`. */
  override readonly code = 'EXPORT_TASK_FORBIDDEN' as const;
  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param message - What went wrong, from the server's error body when it had one.
   * @param body - The body the server sent, when it was JSON.
   */
  constructor(message: string, body?: unknown) {
    super(403, message, body);
  }
}

/**
 * 404: no such product, export or file.
 *
 * @example
 * ```ts
 * const task = await roads.getExport('no-such-id').catch((error: unknown) => {
 *   if (error instanceof NotFoundError) return undefined;
 *   throw error;
 * });
 * ```
 */
export class NotFoundError extends HttpError {
  /** The class name: `error.name === 'NotFoundError'`. */
  override readonly name = 'NotFoundError' as const;
  /** `error.code === 'EXPORT_TASK_NOT_FOUND'`. */
  override readonly code = 'EXPORT_TASK_NOT_FOUND' as const;
  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param message - What went wrong, from the server's error body when it had one.
   * @param body - The body the server sent, when it was JSON.
   */
  constructor(message: string, body?: unknown) {
    super(404, message, body);
  }
}

/**
 * 409: the request conflicts with what exists (a product id already taken, say).
 *
 * @example
 * ```ts
 * const roads = await client.createFeatureCollection('roads').catch((error: unknown) => {
 *   if (error instanceof ConflictError) return client.featureCollection('roads'); // it exists already
 *   throw error;
 * });
 * ```
 */
export class ConflictError extends HttpError {
  /** The class name: `error.name === 'ConflictError'`. */
  override readonly name = 'ConflictError' as const;
  /** `error.code === 'EXPORT_TASK_CONFLICT'`. */
  override readonly code = 'EXPORT_TASK_CONFLICT' as const;
  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param message - What went wrong, from the server's error body when it had one.
   * @param body - The body the server sent, when it was JSON.
   */
  constructor(message: string, body?: unknown) {
    super(409, message, body);
  }
}

/**
 * 429: too many requests; `retryAfter` (ms) says when to try again, when the server said.
 *
 * @example
 * ```ts
 * try {
 *   await roads.export('exports/roads.ndjson');
 * } catch (error) {
 *   if (error instanceof RateLimitError) console.log(`retry in ${error.retryAfter ?? 1000} ms`);
 * }
 * ```
 */
export class RateLimitError extends HttpError {
  /** The class name: `error.name === 'RateLimitError'`. */
  override readonly name = 'RateLimitError' as const;
  /** `error.code === 'EXPORT_TASK_RATE_LIMITED'`. */
  override readonly code = 'EXPORT_TASK_RATE_LIMITED' as const;
  /** When to try again, in ms, when the server said (`Retry-After`). */
  readonly retryAfter: number | undefined;
  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param message - What went wrong, from the server's error body when it had one.
   * @param retryAfter - When to try again, ms (from `Retry-After`).
   * @param body - The body the server sent, when it was JSON.
   */
  constructor(message: string, retryAfter?: number, body?: unknown) {
    super(429, message, body);
    this.retryAfter = retryAfter;
  }
}

/**
 * 5xx (other than 504): the server failed; the request may be retried.
 *
 * @example
 * ```ts
 * await roads.listExports().catch((error: unknown) => {
 *   if (error instanceof ServerError) console.error(`the service failed (${error.status}): try again later`);
 * });
 * ```
 */
export class ServerError extends HttpError {
  /** The class name: `error.name === 'ServerError'`. */
  override readonly name = 'ServerError' as const;
  /** `error.code === 'EXPORT_TASK_SERVER_ERROR'`. */
  override readonly code = 'EXPORT_TASK_SERVER_ERROR' as const;
  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param message - What went wrong, from the server's error body when it had one.
   * @param body - The body the server sent, when it was JSON.
   * @param status - The 5xx status.
   */
  constructor(message: string, body?: unknown, status = 500) {
    super(status, message, body);
  }
}

/**
 * 504: a gateway gave up waiting for the server.
 *
 * @example
 * ```ts
 * await roads.listExports().catch((error: unknown) => {
 *   if (error instanceof GatewayTimeoutError) console.error('a proxy timed out: try again');
 * });
 * ```
 */
export class GatewayTimeoutError extends HttpError {
  /** The class name: `error.name === 'GatewayTimeoutError'`. */
  override readonly name = 'GatewayTimeoutError' as const;
  /** `error.code === 'EXPORT_TASK_GATEWAY_TIMEOUT'`. */
  override readonly code = 'EXPORT_TASK_GATEWAY_TIMEOUT' as const;
  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param message - What went wrong, from the server's error body when it had one.
   * @param body - The body the server sent, when it was JSON.
   */
  constructor(message: string, body?: unknown) {
    super(504, message, body);
  }
}

/**
 * A request got no answer in time: no response headers, or no byte of its body, within the
 * client's `requestTimeout` (an event stream: no byte, not even a heartbeat, for its stall
 * timeout). Idempotent requests are retried within the retry budget before it is thrown.
 *
 * @example
 * ```ts
 * await roads.listExports().catch((error: unknown) => {
 *   if (error instanceof RequestTimeoutError) console.error(`no answer within ${error.timeoutMs} ms: is the service up?`);
 * });
 * ```
 */
export class RequestTimeoutError extends Error {
  /** The class name: `error.name === 'RequestTimeoutError'`. */
  override readonly name = 'RequestTimeoutError' as const;
  /** `error.code === 'EXPORT_TASK_REQUEST_TIMEOUT'`. */
  readonly code = 'EXPORT_TASK_REQUEST_TIMEOUT' as const;
  /** How long the request went without an answer (or its body without a byte), ms. */
  readonly timeoutMs: number;

  /**
   * Makes the error; the library throws it, applications only catch it.
   *
   * @param what - The request, as `METHOD /path`.
   * @param timeoutMs - How long it went without an answer, ms.
   * @param phase - `headers` (no answer at all) or `body` (an answer that stopped sending).
   */
  constructor(what: string, timeoutMs: number, phase: 'headers' | 'body') {
    super(
      phase === 'headers'
        ? `${what}: no answer within ${timeoutMs} ms (requestTimeout): the service or a proxy in between is not answering`
        : `${what}: the answer sent nothing for ${timeoutMs} ms (requestTimeout) and was dropped`,
    );
    this.timeoutMs = timeoutMs;
  }
}
