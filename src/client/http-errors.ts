/**
 * A request to the backend failed with an HTTP status (or its in-process equivalent).
 * Subclasses follow DL's client: 400/422 {@link BadRequestError}, 401/403
 * {@link UnauthorizedError}, 404 {@link NotFoundError}, 409 {@link ConflictError}, 429
 * {@link RateLimitError}, 504 {@link GatewayTimeoutError}, other 5xx {@link ServerError}.
 */
export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  /** The HTTP status code. */
  readonly status: number;
  /** The body the server sent, when it was JSON. */
  readonly body: unknown;

  constructor(status: number, message: string, body?: unknown) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** 400 or 422: the request was malformed; sending it again will not help. */
export class BadRequestError extends HttpError {
  override readonly name = 'BadRequestError' as const;
  constructor(message: string, body?: unknown, status = 400) {
    super(status, message, body);
  }
}

/** 401 or 403: the token is missing, wrong or not allowed to do this. */
export class UnauthorizedError extends HttpError {
  override readonly name = 'UnauthorizedError' as const;
  constructor(message: string, body?: unknown, status = 401) {
    super(status, message, body);
  }
}

/** 404: no such product, export or file. */
export class NotFoundError extends HttpError {
  override readonly name = 'NotFoundError' as const;
  constructor(message: string, body?: unknown) {
    super(404, message, body);
  }
}

/** 409: the request conflicts with what exists (a product id already taken, say). */
export class ConflictError extends HttpError {
  override readonly name = 'ConflictError' as const;
  constructor(message: string, body?: unknown) {
    super(409, message, body);
  }
}

/** 429: too many requests; `retryAfter` (ms) says when to try again, when the server said. */
export class RateLimitError extends HttpError {
  override readonly name = 'RateLimitError' as const;
  readonly retryAfter: number | undefined;
  constructor(message: string, retryAfter?: number, body?: unknown) {
    super(429, message, body);
    this.retryAfter = retryAfter;
  }
}

/** 5xx (other than 504): the server failed; the request may be retried. */
export class ServerError extends HttpError {
  override readonly name = 'ServerError' as const;
  constructor(message: string, body?: unknown, status = 500) {
    super(status, message, body);
  }
}

/** 504: a gateway gave up waiting for the server. */
export class GatewayTimeoutError extends HttpError {
  override readonly name = 'GatewayTimeoutError' as const;
  constructor(message: string, body?: unknown) {
    super(504, message, body);
  }
}
