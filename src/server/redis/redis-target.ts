import { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from './check-redis-target.js';

/** A connection to the service's Redis: one server, or a Redis Cluster (the same commands either way). @internal */
export type RedisConnection = Redis | Cluster;

/** How a connection made by {@link createConnection} behaves. @internal */
export interface ConnectionOptions {
  /** ioredis's `commandTimeout`, ms; none: commands wait while Redis (or a node) is away. */
  readonly commandTimeoutMs?: number | undefined;
  readonly connectionName?: string | undefined;
  readonly lazyConnect?: boolean | undefined;
  /** ioredis's `enableOfflineQueue` (default true): false fails commands at once while disconnected. */
  readonly offlineQueue?: boolean | undefined;
  /** ioredis's `maxRetriesPerRequest` (default null: retry while reconnecting, as BullMQ's workers require). */
  readonly maxRetriesPerRequest?: number | null | undefined;
}

/** A new connection to the target (not connected yet when `lazyConnect`). @internal */
export function createConnection(target: RedisTarget, options: ConnectionOptions = {}): RedisConnection {
  const node = {
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? null : options.maxRetriesPerRequest,
    ...(options.commandTimeoutMs === undefined ? {} : { commandTimeout: options.commandTimeoutMs }),
    ...(options.connectionName === undefined ? {} : { connectionName: options.connectionName }),
    ...(options.offlineQueue === undefined ? {} : { enableOfflineQueue: options.offlineQueue }),
  };
  if (target.kind === 'server') return new Redis(target.url, { ...node, lazyConnect: options.lazyConnect ?? false });
  const cluster = {
    lazyConnect: options.lazyConnect ?? false,
    ...(options.offlineQueue === undefined ? {} : { enableOfflineQueue: options.offlineQueue }),
    redisOptions: {
      ...node,
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
  return new Cluster(target.nodes.map((n) => ({ ...n })), cluster);
}

/**
 * Another connection with the same settings, for what holds a connection (a blocking read, a
 * subscription): `commandTimeout: false` drops the command timeout (a blocking read waits
 * longer than it); `shardedSubscribers` lets a Cluster connection `SSUBSCRIBE` on every master.
 * @internal
 */
export function duplicateConnection(connection: RedisConnection, options: { readonly commandTimeout?: false; readonly shardedSubscribers?: boolean } = {}): RedisConnection {
  if (connection instanceof Cluster) {
    // duplicate() merges the override's redisOptions into the original's: an own `undefined` replaces the timeout.
    const override = {
      ...(options.commandTimeout === false ? { redisOptions: { commandTimeout: undefined } } : {}),
      ...(options.shardedSubscribers === true ? { shardedSubscribers: true } : {}),
    };
    return connection.duplicate(undefined, override);
  }
  return connection.duplicate(options.commandTimeout === false ? { lazyConnect: false, commandTimeout: undefined } : {});
}
