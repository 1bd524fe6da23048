import { Redis } from 'ioredis';
import { redactUrl } from './check-redis-url.js';

/**
 * A connection to the Redis at `url` (`redis://host:port[/db]`). Commands wait while Redis is
 * away (`maxRetriesPerRequest: null`: a restarted Redis loses nothing of what was asked, as
 * BullMQ requires), and the client reconnects on its own. Resolves once connected.
 * @throws Error when Redis cannot be reached within `connectTimeoutMs`.
 * @internal
 */
export async function connectRedis(url: string, connectTimeoutMs = 10_000): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
  // Errors are retried by the client (it reconnects); without a listener Node would print each one.
  redis.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Could not connect to Redis at ${redactUrl(url)} within ${connectTimeoutMs} ms: is redis-server running there?`)),
          connectTimeoutMs,
        );
      }),
    ]);
  } catch (error) {
    redis.disconnect();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return redis;
}
