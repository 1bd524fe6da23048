import { Cluster } from 'ioredis';
import { ServerError } from '../../client/http-errors.js';
import { describeTarget } from './check-redis-target.js';
import type { RedisTarget } from './check-redis-target.js';
import type { RedisConnection } from './redis-target.js';

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

/**
 * Errors of ioredis that say Redis could not be reached or did not answer, not that a command
 * was wrong. On a cluster also: a dead master's slots answering `MOVED` back to it until ioredis
 * gives up ("Too many Cluster redirections"), a cluster without all its slots (`CLUSTERDOWN`), no
 * node answering the slots query.
 */
const UNREACHABLE =
  /Command timed out|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|max retries per request|Too many Cluster redirections|CLUSTERDOWN|Failed to refresh slots cache/i;

/** On a cluster, the products whose outage is logged at once, at most: past them, outages still answer 503 but go unlogged. */
const MAX_LOGGED_PRODUCTS = 1_000;

/** How often a Redis that stopped answering on an open connection is asked again, ms. */
const PROBE_MS = 1_000;

/**
 * Whether the Redis behind an API instance answers, for its requests and for its health
 * routes. While its connection is down, a request is refused at once (nothing is queued to run
 * later), and a command that does not answer within the connection's `commandTimeout` fails:
 * either way the request gets {@link RedisUnavailableError}, a 503 with `Retry-After`, within
 * a bounded time. The outage is logged once when it starts and once when it ends.
 *
 * On a Redis Cluster, a master that does not answer is an outage of its slots only: a request
 * on a product of that master gets its 503 (naming the product, after the command timeout)
 * while the products of the other masters are served; only the whole cluster's connection
 * closing refuses every request at once. Each product's outage is logged once as it starts
 * and once as it ends.
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
  readonly #redis: RedisConnection;
  readonly #cluster: boolean;
  /** On a cluster: the products whose last request found their master unreachable, with since when. */
  readonly #downProducts = new Map<string, number>();
  readonly #detach: () => void;

  constructor(redis: RedisConnection, target: RedisTarget, options: { readonly retryAfterSeconds: number; readonly log: ServiceLog }) {
    this.#redis = redis;
    this.#cluster = redis instanceof Cluster;
    this.#url = describeTarget(target);
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
   * @param productId - The product the task reads: on a cluster, what the 503 names.
   */
  async run<T>(task: () => Promise<T>, productId?: string): Promise<T> {
    if (!this.#up) throw this.#error();
    try {
      const result = await task();
      if (productId !== undefined) this.#productUp(productId);
      return result;
    } catch (error) {
      if (!isUnreachable(error)) throw error;
      if (this.#cluster && this.#redis.status === 'ready') throw this.#productDown(productId, (error as Error).message);
      this.#markDown((error as Error).message);
      throw this.#error();
    }
  }

  /** A master of the cluster did not answer for the product: its 503, the others go on. */
  #productDown(productId: string | undefined, reason: string): RedisUnavailableError {
    const which = productId === undefined ? 'one of its masters' : `the master holding product ${JSON.stringify(productId)}`;
    // Bounded: requests may name any product id, existing or not, while its master is down.
    if (productId !== undefined && !this.#downProducts.has(productId) && this.#downProducts.size < MAX_LOGGED_PRODUCTS) {
      this.#downProducts.set(productId, Date.now());
      this.#log('warn', `${this.#url}: ${which} is unreachable (${reason}): its requests are answered 503 until it is back, other products are served`);
    }
    return new RedisUnavailableError(
      `The export service cannot reach ${which} in its Redis Cluster (${reason}): try again in ${this.#retryAfterSeconds} s`,
      this.#retryAfterSeconds,
    );
  }

  #productUp(productId: string): void {
    const since = this.#downProducts.get(productId);
    if (since === undefined) return;
    this.#downProducts.delete(productId);
    this.#log('info', `${this.#url}: the master holding product ${JSON.stringify(productId)} answers again after ${((Date.now() - since) / 1000).toFixed(1)} s`);
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
