import { describe, expect, it } from 'vitest';
import { checkRedisTarget, describeTarget } from '../../../src/server/redis/check-redis-target.js';
import { exportJobId, fromExportJobId } from '../../../src/server/redis/redis-keys.js';

describe('checkRedisTarget', () => {
  it('takes seed nodes as host:port, [ipv6]:port or redis URLs, in an array or one comma-separated string', () => {
    expect(checkRedisTarget(undefined, '127.0.0.1:7000, 127.0.0.1:7001')).toEqual({
      kind: 'cluster',
      nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }],
      username: undefined,
      password: undefined,
      tls: false,
    });
    expect(checkRedisTarget(undefined, ['[::1]:7000', 'rediss://u:p%40ss@127.0.0.1:7001'])).toEqual({
      kind: 'cluster',
      nodes: [{ host: '::1', port: 7000 }, { host: '127.0.0.1', port: 7001 }],
      username: 'u',
      password: 'p@ss',
      tls: true,
    });
    expect(checkRedisTarget('redis://127.0.0.1:6379', undefined)).toEqual({ kind: 'server', url: 'redis://127.0.0.1:6379' });
    expect(checkRedisTarget(undefined, undefined)).toBeUndefined();
  });

  it('refuses what is not a seed node, saying what one is', () => {
    for (const bad of ['', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'http://127.0.0.1:7000', [], [7000], 'redis://127.0.0.1:7000/2']) {
      expect(() => checkRedisTarget(undefined, bad)).toThrow(TypeError);
      expect(() => checkRedisTarget(undefined, bad)).toThrow(/Expected `redisCluster` to be the seed nodes of a Redis Cluster|Expected `redisCluster` to be a Redis URL/);
    }
  });

  it('names the target without its password', () => {
    expect(describeTarget(checkRedisTarget(undefined, ['redis://u:secret@127.0.0.1:7000', '[::1]:7001'])!)).toBe('the Redis Cluster of 127.0.0.1:7000,[::1]:7001');
    expect(describeTarget(checkRedisTarget('redis://u:secret@127.0.0.1:6379', undefined)!)).not.toContain('secret');
  });
});

describe('exportJobId', () => {
  it('names the product and the export without the ":" BullMQ refuses in a job id, and gives both back', () => {
    for (const productId of ['roads', 'a:b', 'x.y_z-1', '::']) {
      const id = exportJobId(productId, '0b5e3c1e-8a8f-4c43-9f07-6b9a1f1a2b3c');
      expect(id).not.toContain(':');
      expect(fromExportJobId(id)).toEqual({ productId, exportId: '0b5e3c1e-8a8f-4c43-9f07-6b9a1f1a2b3c' });
    }
    expect(fromExportJobId('0b5e3c1e-8a8f-4c43-9f07-6b9a1f1a2b3c')).toBeUndefined();
    expect(fromExportJobId('%E0%A4%A/x')).toBeUndefined();
  });
});
