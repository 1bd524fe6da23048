import type { Redis } from 'ioredis';
import { ServerError } from '../../client/http-errors.js';
import { redactUrl } from './check-redis-url.js';

/** Where the service's own lines go: the Fastify instance's logger, or any function of that shape. @internal */
export type ServiceLog = (level: 'warn' | 'info', message: string) => void;

/** The 503 a request gets while Redis is unreachable; `retryAfterSeconds` becomes its `Retry-After`. @internal */
export class RedisUnavailableError extends ServerError {
  /** What the `Retry-After` header says, seconds. */
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super(message, undefined, 503);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Errors of ioredis that say Redis could not be reached or did not answer, not that a command was wrong. */
const UNREACHABLE = /Command timed out|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|max retries per request/i;

/** How often a Redis that stopped answering on an open connection is asked again, ms. */
const PROBE_MS = 1_000;

/**
 * Whether the Redis behind an API instance answers, for its requests and for its health
 * routes. While its connection is down, a request is refused at once (nothing is queued to run
 * later), and a command that does not answer within the connection's `commandTimeout` fails:
 * either way the request gets {@link RedisUnavailableError}, a 503 with `Retry-After`, within
 * a bounded time. The outage is logged once when it starts and once when it ends.
 * @internal
 */
export class RedisAvailability {
  readonly #url: string;
  readonly #retryAfterSeconds: number;
  readonly #log: ServiceLog;
  #up = true;
  #since = 0;
  #reason = '';
  #probe: NodeJS.Timeout | undefined;
  readonly #redis: Redis;
  readonly #detach: () => void;

  constructor(redis: Redis, url: string, options: { readonly retryAfterSeconds: number; readonly log: ServiceLog }) {
    this.#redis = redis;
    this.#url = redactUrl(url);
    this.#retryAfterSeconds = options.retryAfterSeconds;
    this.#log = options.log;
    const onReady = (): void => this.#markUp();
    const onClose = (): void => this.#markDown('the connection closed');
    const onError = (error: Error): void => {
      if (!this.#up) this.#reason = error.message;
    };
    redis.on('ready', onReady);
    redis.on('close', onClose);
    redis.on('error', onError);
    this.#detach = () => {
      redis.off('ready', onReady);
      redis.off('close', onClose);
      redis.off('error', onError);
    };
  }

  /** Whether Redis answered last time it was asked (and the connection is up): what a readiness route reports. */
  get available(): boolean {
    return this.#up;
  }

  /**
   * Runs `task` (Redis commands) unless Redis is known to be down; a failure that says Redis
   * is unreachable becomes a {@link RedisUnavailableError}.
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (!this.#up) throw this.#error();
    try {
      return await task();
    } catch (error) {
      if (!isUnreachable(error)) throw error;
      this.#markDown((error as Error).message);
      throw this.#error();
    }
  }

  /** Stops listening to the connection (it is being closed: its end is no outage). */
  close(): void {
    this.#detach();
    clearInterval(this.#probe);
  }

  #error(): RedisUnavailableError {
    return new RedisUnavailableError(
      `The export service cannot reach its Redis (${this.#reason || 'no answer'}): try again in ${this.#retryAfterSeconds} s`,
      this.#retryAfterSeconds,
    );
  }

  #markDown(reason: string): void {
    if (!this.#up) return;
    this.#up = false;
    this.#since = Date.now();
    this.#reason = reason;
    // A connection that stays open while Redis does not answer (stalled) sends no 'ready'
    // when it answers again: ask it now and then.
    this.#probe = setInterval(() => {
      if (this.#redis.status !== 'ready') return;
      this.#redis.ping().then(
        () => this.#markUp(),
        () => undefined,
      );
    }, PROBE_MS);
    this.#probe.unref();
    this.#log('warn', `Redis at ${this.#url} is unreachable (${reason}): requests are answered 503 until it is back`);
  }

  #markUp(): void {
    if (this.#up) return;
    this.#up = true;
    clearInterval(this.#probe);
    this.#probe = undefined;
    this.#log('info', `Redis at ${this.#url} is reachable again after ${((Date.now() - this.#since) / 1000).toFixed(1)} s: requests are served again`);
    this.#reason = '';
  }
}

/** Whether an error of ioredis says Redis is unreachable (rather than that a command was refused). @internal */
export function isUnreachable(error: unknown): boolean {
  return error instanceof Error && (UNREACHABLE.test(error.message) || error.name === 'MaxRetriesPerRequestError');
}
