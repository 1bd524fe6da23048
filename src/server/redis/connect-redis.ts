import { Redis } from 'ioredis';
import { redactUrl } from './check-redis-url.js';

/** What {@link connectRedis} connects with. @internal */
export interface ConnectOptions {
  /** How long the first connection may take, ms. */
  readonly connectTimeoutMs?: number | undefined;
  /** ioredis's `commandTimeout`: a command without an answer within it fails, ms. None: commands wait while Redis is away. */
  readonly commandTimeoutMs?: number | undefined;
}

/**
 * A connection to the Redis at `url` (`redis://host:port[/db]`). The client reconnects on its
 * own. Without `commandTimeoutMs`, commands wait while Redis is away (`maxRetriesPerRequest:
 * null`: a restarted Redis loses nothing of what was asked, as BullMQ's workers require); with
 * it, a command without an answer in time fails (an API instance's requests, which answer 503
 * then). Resolves once connected.
 * @throws Error naming the URL, why it failed and what to check, when Redis cannot be reached within `connectTimeoutMs`.
 * @internal
 */
export async function connectRedis(url: string, options: ConnectOptions = {}): Promise<Redis> {
  const { connectTimeoutMs = 10_000, commandTimeoutMs } = options;
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
  });
  // Errors are retried by the client (it reconnects); without a listener Node would print each one.
  let lastError: Error | undefined;
  const noteError = (error: Error): void => {
    lastError = error;
  };
  redis.on('error', noteError);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      }),
    ]);
  } catch (error) {
    redis.disconnect();
    throw new Error(startUpMessage(url, lastError ?? error), { cause: lastError ?? error });
  } finally {
    clearTimeout(timer);
    redis.off('error', noteError);
  }
  redis.on('error', () => undefined);
  return redis;
}

/** Why a first connection failed, in words, with what to check. */
function startUpMessage(url: string, error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const reason = typeof e.message === 'string' && e.message !== '' ? e.message : String(error);
  const shown = redactUrl(url);
  const host = (() => {
    try {
      const parsed = new URL(url);
      return `${parsed.hostname}:${parsed.port || '6379'}`;
    } catch {
      return shown;
    }
  })();
  let check: string;
  if (code === 'ECONNREFUSED') check = `nothing listens on ${host}: start redis-server there (redis-server --port ${host.split(':').at(-1)}), or fix the host and port of the URL`;
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') check = `the host of the URL is unknown: fix the URL`;
  else if (/NOAUTH|WRONGPASS|invalid password|AUTH/i.test(reason)) check = 'Redis refused the credentials: fix the user and password in the URL (redis://user:password@host:port)';
  else if (/DB index|invalid DB/i.test(reason)) check = 'Redis has no such database: fix the /db number of the URL';
  else check = `check that redis-server runs and answers there (redis-cli -u ${shown} ping)`;
  return `could not connect to Redis at ${shown} (${reason}): ${check}; the URL must be the Redis every API instance and worker shares`;
}
