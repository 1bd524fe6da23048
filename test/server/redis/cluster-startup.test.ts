import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, startWorker } from '../../../src/server/index.js';
import { LEGACY_KEYS } from '../../../src/server/redis/redis-keys.js';
import { runCli } from '../../cli/run-cli.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';

let redis: RedisServer;
let db: Redis;
let dataDir: string;

beforeAll(async () => {
  redis = await startRedisServer();
  db = new Redis(redis.url);
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-redis-layout-'));
});

afterAll(async () => {
  db?.disconnect();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a Redis of the key layout without hash tags', () => {
  for (const key of LEGACY_KEYS) {
    it(`is refused by an API instance and a worker when it holds ${key}, saying what to do, before writing anything`, async () => {
      await db.flushall();
      await db.set(key, 'x');
      await expect(startServer({ redis: redis.url, dataDir })).rejects.toThrow(
        new RegExp(`holds data of an older export-task \\(its keys without hash tags: ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\).*Drain it first: stop its API instances, let its workers finish`),
      );
      const refused = await runCli(['worker', '--redis', redis.url, '--data-dir', dataDir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/could not start: redis:\/\/127\.0\.0\.1:\d+\/? holds data of an older export-task .*docs\/server\.md, "Migrating from the layout without hash tags"/);
      // Nothing was written: not the new layout's keys, not the directory's marker.
      expect(await db.keys('*')).toEqual([key]);
      expect(await readdir(dataDir)).not.toContain('.export-task-data-dir');
    });
  }

  it('starts once the old keys are gone', async () => {
    await db.flushall();
    const server = await startServer({ redis: redis.url, dataDir });
    await server.close();
  });
});

describe('the wrong kind of Redis', () => {
  it('refuses --redis-cluster naming a Redis that is not a cluster, saying to give --redis', async () => {
    await expect(startWorker({ redisCluster: `127.0.0.1:${redis.port}`, dataDir })).rejects.toThrow(
      /could not connect to the Redis Cluster of 127\.0\.0\.1:\d+ \(ERR This instance has cluster support disabled\): these Redis servers are not a cluster .*give one Redis with --redis/,
    );
  });

  it('refuses both redis and redisCluster, and neither for a worker, with a TypeError before connecting', async () => {
    await expect(startServer({ redis: redis.url, redisCluster: ['127.0.0.1:7000'], dataDir })).rejects.toThrow(/Expected either `redis` \(one Redis\) or `redisCluster` \(a Redis Cluster\), not both/);
    await expect(startWorker({ dataDir })).rejects.toThrow(/Expected `redis` .* or `redisCluster` .*, got neither/);
  });
});
