import { redactUrl } from './check-redis-url.js';
import { describeTarget } from './check-redis-target.js';
import type { RedisTarget } from './check-redis-target.js';
import { createConnection } from './redis-target.js';
import type { RedisConnection } from './redis-target.js';

/** What {@link connectRedis} connects with. @internal */
export interface ConnectOptions {
  /** How long the first connection may take, ms. */
  readonly connectTimeoutMs?: number | undefined;
  /** ioredis's `commandTimeout`: a command without an answer within it fails, ms. None: commands wait while Redis is away. */
  readonly commandTimeoutMs?: number | undefined;
  /** The name `CLIENT LIST` shows for the connection and its copies (`CLIENT SETNAME`). */
  readonly connectionName?: string | undefined;
}

/**
 * A connection to the target: the Redis at a URL (`redis://host:port[/db]`), or a Redis
 * Cluster by its seed nodes (an ioredis `Cluster`, which finds every master and follows the
 * slots as they move). The client reconnects on its own. Without `commandTimeoutMs`, commands wait while Redis is away (`maxRetriesPerRequest:
 * null`: a restarted Redis loses nothing of what was asked, as BullMQ's workers require); with
 * it, a command without an answer in time fails (an API instance's requests, which answer 503
 * then). Resolves once connected, after checking that the target is what it was said to be
 * (a node of a cluster given as one Redis would answer `MOVED` to most keys).
 * @throws Error naming the target, why it failed and what to check, when Redis cannot be reached within `connectTimeoutMs`, or is a cluster given as one Redis (or the reverse).
 * @internal
 */
export async function connectRedis(target: RedisTarget, options: ConnectOptions = {}): Promise<RedisConnection> {
  const { connectTimeoutMs = 10_000, commandTimeoutMs, connectionName } = options;
  const redis = createConnection(target, { lazyConnect: true, commandTimeoutMs, connectionName });
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
    throw new Error(target.kind === 'server' ? startUpMessage(target.url, lastError ?? error) : clusterStartUpMessage(target, lastError ?? error), { cause: lastError ?? error });
  } finally {
    clearTimeout(timer);
    redis.off('error', noteError);
  }
  redis.on('error', () => undefined);
  if (target.kind === 'server') {
    const info = await redis.info('cluster').catch(() => '');
    if (/^cluster_enabled:1/m.test(info)) {
      redis.disconnect();
      throw new Error(
        `${describeTarget(target)} is a node of a Redis Cluster: give its nodes with --redis-cluster host:port,... (startServer({ redisCluster }), startWorker({ redisCluster })) instead of --redis, so that every product's keys are read on the master that holds them`,
      );
    }
  }
  return redis;
}

/** Why a first connection to a cluster failed, with what to check. */
function clusterStartUpMessage(target: Extract<RedisTarget, { kind: 'cluster' }>, error: unknown): string {
  // ioredis says "Failed to refresh slots cache." and keeps what the node answered apart.
  const nodeError = (error as { lastNodeError?: unknown }).lastNodeError;
  const cause = nodeError instanceof Error ? nodeError : error;
  const reason = cause instanceof Error && cause.message !== '' ? cause.message : String(cause);
  const [first] = target.nodes;
  let check: string;
  if (/cluster support disabled/i.test(reason)) {
    check = 'these Redis servers are not a cluster (cluster-enabled no): give one Redis with --redis redis://host:port instead, or start them with --cluster-enabled yes and join them (redis-cli --cluster create)';
  } else if (/NOAUTH|WRONGPASS|invalid password|AUTH/i.test(reason)) {
    check = 'the nodes refused the credentials: give a seed as redis://user:password@host:port';
  } else {
    check = `check that the nodes run and that the cluster is up (redis-cli -h ${first?.host ?? '127.0.0.1'} -p ${first?.port ?? 7000} cluster info says cluster_state:ok)`;
  }
  return `could not connect to ${describeTarget(target)} (${reason}): ${check}; the nodes must be the cluster every API instance and worker shares`;
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
