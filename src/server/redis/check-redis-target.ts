import { checkRedisUrl, redactUrl } from './check-redis-url.js';

/**
 * Where the service's Redis is: one server by URL (`--redis`), or a Redis Cluster by its seed
 * nodes (`--redis-cluster host:port,...`), from which the client learns every master. @internal
 */
export type RedisTarget =
  | { readonly kind: 'server'; readonly url: string }
  | {
      readonly kind: 'cluster';
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      /** Credentials and TLS of the nodes, from the first seed given as a URL with them. */
      readonly username?: string | undefined;
      readonly password?: string | undefined;
      readonly tls: boolean;
    };

const SEED = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:/@[\]]+)):(\d{1,5})$/;

/**
 * The Redis target of the options `redis` (a URL) and `redisCluster` (seed nodes, `host:port`
 * or a `redis://` URL each; an array, or one comma-separated string as the CLI gives it).
 * @returns `undefined` when neither is given.
 * @throws TypeError when both are given, or one is not what it should be, saying what was expected.
 * @internal
 */
export function checkRedisTarget(redis: unknown, redisCluster: unknown, names: { readonly redis: string; readonly redisCluster: string } = { redis: 'redis', redisCluster: 'redisCluster' }): RedisTarget | undefined {
  if (redis !== undefined && redisCluster !== undefined) {
    throw new TypeError(`Expected either \`${names.redis}\` (one Redis) or \`${names.redisCluster}\` (a Redis Cluster), not both: give the one your Redis is`);
  }
  if (redis !== undefined) return { kind: 'server', url: checkRedisUrl(redis, names.redis) };
  if (redisCluster === undefined) return undefined;
  const items = typeof redisCluster === 'string' ? redisCluster.split(',').map((item) => item.trim()).filter((item) => item !== '') : redisCluster;
  const expected = `Expected \`${names.redisCluster}\` to be the seed nodes of a Redis Cluster, "host:port" or "redis://host:port" each (for example "127.0.0.1:7000,127.0.0.1:7001"; one is enough, more survive one being down)`;
  if (!Array.isArray(items) || items.length === 0) throw new TypeError(`${expected}, got ${Array.isArray(items) ? 'none' : typeof items}`);
  const nodes: { host: string; port: number }[] = [];
  let username: string | undefined;
  let password: string | undefined;
  let tls = false;
  for (const item of items as unknown[]) {
    if (typeof item !== 'string') throw new TypeError(`${expected}, got ${typeof item} among them`);
    if (/^rediss?:\/\//.test(item)) {
      const url = new URL(checkRedisUrl(item, names.redisCluster));
      if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') {
        throw new TypeError(`${expected}, got ${JSON.stringify(redactUrl(item))}: a Redis Cluster has only database 0, so a node's URL names no /db`);
      }
      nodes.push({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || '6379') });
      if (url.password !== '' && password === undefined) {
        password = decodeURIComponent(url.password);
        username = url.username === '' ? undefined : decodeURIComponent(url.username);
      }
      tls ||= url.protocol === 'rediss:';
      continue;
    }
    const match = SEED.exec(item);
    const port = Number(match?.[3]);
    if (match === null || port < 1 || port > 65_535) throw new TypeError(`${expected}, got ${JSON.stringify(item)}`);
    nodes.push({ host: (match[1] ?? match[2])!, port });
  }
  return { kind: 'cluster', nodes, username, password, tls };
}

/** The target in words for messages, without its password. @internal */
export function describeTarget(target: RedisTarget): string {
  if (target.kind === 'server') return redactUrl(target.url);
  return `the Redis Cluster of ${target.nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',')}`;
}

